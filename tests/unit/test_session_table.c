#include <errno.h>

#include "check.h"
#include "session_table.h"

static struct session_limits limits = { .buffer_max = 4096, .line_max = 512 };

static struct session_entry *add(struct session_table *t, uint32_t id,
				 uint64_t seen_ms)
{
	struct inet_addr a = { .family = AF_INET };
	struct session_entry *e = session_table_add(t, id);

	if (e) {
		session_init(&e->session, &a, 1000, &a, 21, &limits);
		e->session.last_seen_ms = seen_ms;
	}
	return e;
}

static void count_entries(struct session_entry *e, void *data)
{
	(void)e;
	(*(unsigned *)data)++;
}

/* Half-open entries (no data yet) in the order they came; established,
 * removed and expired ones leave the list. Issue 11, finding 4. */
static void test_half_open(void)
{
	struct session_table *t;
	struct session_entry *a, *b, *c;

	CHECK_INT(session_table_create(&t, 3), 0);
	CHECK(session_table_oldest_half_open(t) == NULL);
	a = add(t, 1, 100);
	b = add(t, 2, 200);
	c = add(t, 3, 300);
	CHECK(a->half_open && b->half_open && c->half_open);
	CHECK(session_table_oldest_half_open(t) == a);
	session_table_established(t, a);
	CHECK(!a->half_open);
	CHECK(session_table_oldest_half_open(t) == b);
	session_table_established(t, a);	/* twice: no effect */
	session_table_remove(t, b);
	CHECK(session_table_oldest_half_open(t) == c);
	CHECK_INT(session_table_expire(t, 1000, 500), 2);	/* a and c */
	CHECK(session_table_oldest_half_open(t) == NULL);
	CHECK_INT(session_table_count(t), 0);
	/* a full table of established sessions has nothing to evict */
	session_table_established(t, add(t, 4, 100));
	session_table_established(t, add(t, 5, 100));
	session_table_established(t, add(t, 6, 100));
	CHECK(session_table_oldest_half_open(t) == NULL);
	session_table_destroy(t);
}

int main(void)
{
	struct session_table *t;
	struct session_entry *e;
	unsigned i, n = 0;

	CHECK_INT(session_table_create(&t, 0), -EINVAL);
	CHECK_INT(session_table_create(&t, 100), 0);

	/* fill to the bound: the 101st is refused with ENOSPC */
	for (i = 0; i < 100; i++)
		CHECK(add(t, 1000 + i * 7, i) != NULL);
	CHECK_INT(session_table_count(t), 100);
	errno = 0;
	CHECK(session_table_add(t, 5) == NULL);
	CHECK_INT(errno, ENOSPC);

	/* every ID is found, unknown ones are not */
	for (i = 0; i < 100; i++) {
		e = session_table_find(t, 1000 + i * 7);
		CHECK(e != NULL && e->conntrack_id == 1000 + i * 7);
	}
	CHECK(session_table_find(t, 1001) == NULL);

	session_table_foreach(t, count_entries, &n);
	CHECK_INT(n, 100);

	/* remove one: the others stay findable, a slot frees up */
	e = session_table_find(t, 1000 + 50 * 7);
	session_table_remove(t, e);
	CHECK(session_table_find(t, 1000 + 50 * 7) == NULL);
	CHECK(session_table_find(t, 1000 + 51 * 7) != NULL);
	CHECK_INT(session_table_count(t), 99);
	CHECK(add(t, 5, 200) != NULL);

	/* expiry: sessions last seen at 0..99 ms, idle bound 40 ms at 100 ms
	 * removes those seen before 60 ms (0..59, minus the removed 50) */
	CHECK_INT(session_table_expire(t, 100, 40), 59);
	CHECK(session_table_find(t, 1000 + 59 * 7) == NULL);
	CHECK(session_table_find(t, 1000 + 60 * 7) != NULL);
	CHECK(session_table_find(t, 5) != NULL);
	CHECK_INT(session_table_count(t), 41);

	/* a reload lowers the bound below the count: all stay, none added */
	session_table_set_max(t, 10);
	errno = 0;
	CHECK(session_table_add(t, 6) == NULL);
	CHECK_INT(errno, ENOSPC);
	CHECK_INT(session_table_count(t), 41);
	CHECK(session_table_find(t, 5) != NULL);
	/* and raises it above the creation size: chains just get longer */
	session_table_set_max(t, 0);		/* ignored */
	CHECK(session_table_add(t, 6) == NULL);
	session_table_set_max(t, 500);
	for (i = 0; i < 459; i++)
		CHECK(add(t, 100000 + i, 0) != NULL);
	CHECK_INT(session_table_count(t), 500);
	CHECK(session_table_add(t, 7) == NULL);
	CHECK(session_table_find(t, 100000 + 458) != NULL);

	session_table_destroy(t);
	test_half_open();
	return check_report("session_table");
}
