#include <errno.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <sys/socket.h>

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

/* One session per client port, indexed like the daemon does it. */
static struct session_entry *add_control(struct session_table *t, uint32_t id,
					 const struct inet_addr *client,
					 uint16_t port, uint64_t seen_ms)
{
	struct inet_addr server = { .family = AF_INET };
	struct session_entry *e = session_table_add(t, id);

	server.v4.s_addr = htonl(0xcb007102);	/* 203.0.113.2 */
	if (e) {
		session_init(&e->session, client, port, &server, 21, &limits);
		e->session.last_seen_ms = seen_ms;
		session_table_index(t, e);
	}
	return e;
}

/* Issue 11, finding 9: the packet path (a related connection no pinhole
 * explains) and ftpgatectl pinholes found a session by its control
 * connection by walking the whole table. Now one hash chain: with 4096
 * sessions of one client (ports chosen by the peer), no lookup looks at
 * more than a handful of entries. */
static void test_find_control(void)
{
	struct session_table *t;
	struct inet_addr client = { .family = AF_INET }, server = { .family = AF_INET };
	struct inet_addr client6 = { .family = AF_INET6 };
	struct session_entry *e;
	unsigned i, examined, most = 0;

	client.v4.s_addr = htonl(0xc6336402);	/* 198.51.100.2 */
	server.v4.s_addr = htonl(0xcb007102);
	client6.v6.s6_addr[0] = 0x20;
	CHECK_INT(session_table_create(&t, 4096), 0);
	for (i = 0; i < 4096; i++)
		CHECK(add_control(t, 7 + i, &client, (uint16_t)(20000 + i), i) != NULL);
	for (i = 0; i < 4096; i++) {
		e = session_table_find_control(t, &client, (uint16_t)(20000 + i),
					       &server, 21, &examined);
		CHECK(e != NULL && e->conntrack_id == 7 + i);
		if (examined > most)
			most = examined;
	}
	printf("find_control: at most %u of 4096 entries examined\n", most);
	CHECK(most <= 16);
	/* another port, server port, address or family: not found */
	CHECK(session_table_find_control(t, &client, 19999, &server, 21, NULL) == NULL);
	CHECK(session_table_find_control(t, &client, 20000, &server, 2121, NULL) == NULL);
	CHECK(session_table_find_control(t, &server, 20000, &client, 21, NULL) == NULL);
	CHECK(session_table_find_control(t, &client6, 20000, &server, 21, NULL) == NULL);
	/* removed and expired sessions leave the index too */
	e = session_table_find_control(t, &client, 20005, &server, 21, NULL);
	session_table_remove(t, e);
	CHECK(session_table_find_control(t, &client, 20005, &server, 21, NULL) == NULL);
	CHECK_INT(session_table_expire(t, 3000, 1000), 1999);
	CHECK(session_table_find_control(t, &client, 20000 + 1999, &server, 21, NULL) == NULL);
	e = session_table_find_control(t, &client, 20000 + 2000, &server, 21, NULL);
	CHECK(e != NULL && e->conntrack_id == 7 + 2000);
	/* an entry that was never indexed is found by ID only */
	e = session_table_add(t, 1);
	CHECK(e != NULL);
	session_init(&e->session, &client, 9, &server, 21, &limits);
	CHECK(session_table_find_control(t, &client, 9, &server, 21, NULL) == NULL);
	CHECK(session_table_find(t, 1) == e);
	session_table_destroy(t);
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
	test_find_control();
	test_half_open();
	return check_report("session_table");
}
