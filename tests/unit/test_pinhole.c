/* test_pinhole: the registry of pinholes and the decisions about how each
 * ended (used, expired, removed and why). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pinhole.h"

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	if (inet_addr_parse(s, &a) < 0)
		abort();
	return a;
}

static struct flow tuple(const char *src, uint16_t sport,
				  const char *dst, uint16_t dport)
{
	struct flow t;

	memset(&t, 0, sizeof(t));
	t.src = addr(src);
	t.sport = sport;
	t.dst = addr(dst);
	t.dport = dport;
	return t;
}

static void count_cb(struct pinhole *p, void *data)
{
	(void)p;
	(*(unsigned *)data)++;
}

static void remove_cb(struct pinhole *p, void *data)
{
	pinhole_remove(data, p);
}

static void test_table(void)
{
	struct pinhole_table *t;
	struct flow m = tuple("198.51.100.2", 41234, "203.0.113.2", 21);
	struct flow m2 = tuple("198.51.100.3", 41000, "203.0.113.2", 21);
	struct flow e1 = tuple("198.51.100.2", 0, "203.0.113.2", 40000);
	struct flow e2 = tuple("198.51.100.2", 0, "203.0.113.2", 40001);
	struct flow conn;
	struct pinhole *p1, *p2, *p;
	bool is_new;
	unsigned n;

	CHECK_INT(pinhole_table_create(&t, 0), -EINVAL);
	CHECK_INT(pinhole_table_create(&t, 3), 0);
	p1 = pinhole_add(t, &e1, &m, &is_new);
	CHECK(p1 != NULL && is_new);
	CHECK_INT(p1->id, 1);
	CHECK_INT(p1->state, PINHOLE_OPEN);
	p2 = pinhole_add(t, &e2, &m, &is_new);
	CHECK(p2 != NULL && is_new);
	CHECK_INT(p2->id, 2);
	CHECK_INT(pinhole_table_count(t), 2);

	/* the same expectation announced again: the same entry, refreshed */
	p1->state = PINHOLE_GONE;
	p = pinhole_add(t, &e1, &m, &is_new);
	CHECK(p == p1 && !is_new);
	CHECK_INT(p1->refreshed, 1);
	CHECK_INT(p1->state, PINHOLE_OPEN);
	CHECK(pinhole_find(t, &e1, &m) == p1);
	CHECK(pinhole_find(t, &e1, &m2) == NULL);

	/* the same tuple for another control connection is another entry */
	p = pinhole_add(t, &e1, &m2, &is_new);
	CHECK(p != NULL && is_new && p != p1);
	CHECK_INT(p->id, 3);
	/* full */
	errno = 0;
	CHECK(pinhole_add(t, &e2, &m2, &is_new) == NULL);
	CHECK_INT(errno, ENOSPC);

	/* a data connection: any source port, exact addresses and port */
	conn = tuple("198.51.100.2", 50123, "203.0.113.2", 40000);
	CHECK(pinhole_admits(p1, &conn));
	CHECK(pinhole_match_connection(t, &conn, &m) == p1);
	CHECK(pinhole_match_connection(t, &conn, &m2) == p);
	conn.src = addr("198.51.100.9");
	CHECK(!pinhole_admits(p1, &conn));
	CHECK(pinhole_match_connection(t, &conn, &m) == NULL);
	conn = tuple("198.51.100.2", 50123, "203.0.113.2", 40002);
	CHECK(pinhole_match_connection(t, &conn, &m) == NULL);

	/* an expectation with a fixed source port (active mode, port 20) */
	{
		struct pinhole q;

		memset(&q, 0, sizeof(q));
		q.expect = tuple("203.0.113.2", 20, "198.51.100.2", 50000);
		conn = tuple("203.0.113.2", 20, "198.51.100.2", 50000);
		CHECK(pinhole_admits(&q, &conn));
		conn.sport = 21;
		CHECK(!pinhole_admits(&q, &conn));
	}

	/* a destroyed (GONE) entry is the one a connection used */
	pinhole_remove(t, p);
	pinhole_mark_uncertain(t);
	CHECK(p1->uncertain && p2->uncertain);
	/* ... and asked for before their expiry: their destroy events may
	 * have been lost too */
	CHECK(p1->poll && p2->poll);
	CHECK_INT(pinhole_due(p1, p1->opened_ms), PINHOLE_DUE_CHECK_KERNEL);
	n = 0;
	pinhole_foreach(t, count_cb, &n);
	CHECK_INT(n, 2);
	pinhole_foreach(t, remove_cb, t);	/* removal while walking */
	CHECK_INT(pinhole_table_count(t), 0);
	pinhole_table_destroy(t);
	pinhole_table_destroy(NULL);
}

static void test_decisions(void)
{
	struct pinhole p;

	memset(&p, 0, sizeof(p));
	p.opened_ms = 10000;
	p.expiry_ms = 40000;

	/* OPEN: nothing to do until the expiry (plus slack) */
	CHECK_INT(pinhole_due(&p, 20000), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 40000), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 40000 + PINHOLE_EXPIRY_SLACK_MS), PINHOLE_DUE_CHECK_KERNEL);
	p.next_check_ms = 42000;
	CHECK_INT(pinhole_due(&p, 41000), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 42000), PINHOLE_DUE_CHECK_KERNEL);
	/* polled (no destroy events to expect): checked before the expiry
	 * too, at the recheck interval */
	p.poll = true;
	p.next_check_ms = 0;
	CHECK_INT(pinhole_due(&p, 20000), PINHOLE_DUE_CHECK_KERNEL);
	p.next_check_ms = 20000 + PINHOLE_RECHECK_MS;
	CHECK_INT(pinhole_due(&p, 20500), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 21000), PINHOLE_DUE_CHECK_KERNEL);
	p.poll = false;
	p.next_check_ms = 42000;
	/* gone from the kernel's list, no destroy event read: expired */
	CHECK_INT(pinhole_vanished_reason(&p), PINHOLE_CLOSE_EXPIRED);
	p.uncertain = true;
	CHECK_INT(pinhole_vanished_reason(&p), PINHOLE_CLOSE_UNKNOWN);
	p.uncertain = false;

	/* GONE: wait the grace for the data connection's event */
	p.state = PINHOLE_GONE;
	p.gone_ms = 20000;
	CHECK_INT(pinhole_due(&p, 20000), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 20000 + PINHOLE_GONE_GRACE_MS - 1), PINHOLE_DUE_NOTHING);
	CHECK_INT(pinhole_due(&p, 20000 + PINHOLE_GONE_GRACE_MS), PINHOLE_DUE_DECIDE);

	/* destroyed early, no data connection: who removed it? */
	CHECK_INT(pinhole_gone_reason(&p, true), PINHOLE_CLOSE_KERNEL);
	CHECK_INT(pinhole_gone_reason(&p, false), PINHOLE_CLOSE_SESSION);
	p.removing = true;
	CHECK_INT(pinhole_gone_reason(&p, false), PINHOLE_CLOSE_FTPGATE);
	CHECK_INT(pinhole_vanished_reason(&p), PINHOLE_CLOSE_FTPGATE);
	p.removing = false;
	p.uncertain = true;
	CHECK_INT(pinhole_gone_reason(&p, true), PINHOLE_CLOSE_UNKNOWN);
	p.uncertain = false;
	/* destroyed at or after the expiry (the kernel reaps lazily): expired,
	 * whether or not the master still lives */
	p.gone_ms = 40000 - PINHOLE_EXPIRY_SLACK_MS;
	CHECK_INT(pinhole_gone_reason(&p, true), PINHOLE_CLOSE_EXPIRED);
	p.gone_ms = 95000;
	CHECK_INT(pinhole_gone_reason(&p, false), PINHOLE_CLOSE_EXPIRED);

	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_USED), "used");
	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_EXPIRED), "expired");
	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_SESSION), "session-ended");
	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_FTPGATE), "removed-by-ftpgate");
	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_KERNEL), "removed-in-kernel");
	CHECK_STR(pinhole_close_name(PINHOLE_CLOSE_UNKNOWN), "unknown-events-lost");
	CHECK_STR(pinhole_close_event(PINHOLE_CLOSE_USED), "pinhole-used");
	CHECK_STR(pinhole_close_event(PINHOLE_CLOSE_EXPIRED), "pinhole-expired");
	CHECK_STR(pinhole_close_event(PINHOLE_CLOSE_SESSION), "pinhole-removed");
	CHECK_STR(pinhole_close_event(PINHOLE_CLOSE_UNKNOWN), "pinhole-removed");
}

/* The client chain: counts only what may still admit a connection, across
 * control connections of the same client, and survives removals in any
 * order (entries of different clients sharing a bucket). */
static void test_client_count(void)
{
	struct pinhole_table *t;
	struct inet_addr c1 = addr("198.51.100.2"), c2 = addr("198.51.100.3");
	struct inet_addr c6 = addr("2001:db8:1::2");
	struct flow m1 = tuple("198.51.100.2", 41234, "203.0.113.2", 21);
	struct flow m1b = tuple("198.51.100.2", 41235, "203.0.113.2", 21);
	struct flow m2 = tuple("198.51.100.3", 41000, "203.0.113.2", 21);
	struct flow m6 = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	struct flow e;
	struct pinhole *p[40];
	bool is_new;
	unsigned i;

	/* a small table: 64 buckets, so chains are shared */
	CHECK_INT(pinhole_table_create(&t, 100), 0);
	CHECK_INT(pinhole_client_open_count(t, &c1), 0);
	for (i = 0; i < 40; i++) {
		const struct flow *m = i % 4 == 0 ? &m2 :
						i % 4 == 1 ? &m1b : &m1;

		e = tuple(i % 4 == 0 ? "198.51.100.3" : "198.51.100.2", 0,
			  "203.0.113.2", (uint16_t)(40000 + i));
		p[i] = pinhole_add(t, &e, m, &is_new);
		CHECK(p[i] != NULL && is_new);
	}
	e = tuple("2001:db8:1::2", 0, "2001:db8:2::2", 40000);
	CHECK(pinhole_add(t, &e, &m6, &is_new) != NULL);
	/* c1 has 30 (two control connections), c2 10, c6 1 */
	CHECK_INT(pinhole_client_open_count(t, &c1), 30);
	CHECK_INT(pinhole_client_open_count(t, &c2), 10);
	CHECK_INT(pinhole_client_open_count(t, &c6), 1);
	/* the same tuple again is the same entry, not one more */
	e = tuple("198.51.100.2", 0, "203.0.113.2", 40001);
	CHECK(pinhole_add(t, &e, &m1b, &is_new) == p[1] && !is_new);
	CHECK_INT(pinhole_client_open_count(t, &c1), 30);
	/* gone, being removed, or missing from the kernel: not counted */
	p[1]->state = PINHOLE_GONE;
	p[2]->removing = true;
	p[3]->vanished = true;
	CHECK_INT(pinhole_client_open_count(t, &c1), 27);
	/* removals from the middle and the ends of the chains */
	for (i = 0; i < 40; i += 3)
		pinhole_remove(t, p[i]);
	CHECK_INT(pinhole_client_open_count(t, &c2), 6);	/* 0,12,24,36 gone */
	for (i = 0; i < 40; i++)
		if (i % 3 != 0)
			pinhole_remove(t, p[i]);
	CHECK_INT(pinhole_client_open_count(t, &c1), 0);
	CHECK_INT(pinhole_client_open_count(t, &c2), 0);
	CHECK_INT(pinhole_client_open_count(t, &c6), 1);
	CHECK_INT(pinhole_table_count(t), 1);
	CHECK_INT(pinhole_client_open_count(NULL, &c1), 0);
	pinhole_table_destroy(t);
}

/* A clash is another master's open expectation the kernel would take as
 * the same tuple: source ports count only when both name one. */
static void test_clash(void)
{
	struct pinhole_table *t;
	struct flow m1 = tuple("10.1.1.2", 40000, "203.0.113.2", 21);
	struct flow m2 = tuple("10.1.1.3", 40001, "203.0.113.2", 21);
	struct flow e_any = tuple("203.0.113.2", 0, "203.0.113.1", 50001);
	struct flow e_20 = tuple("203.0.113.2", 20, "203.0.113.1", 50001);
	struct flow e_21 = tuple("203.0.113.2", 21, "203.0.113.1", 50001);
	struct flow other = tuple("203.0.113.3", 0, "203.0.113.1", 50001);
	struct flow port2 = tuple("203.0.113.2", 0, "203.0.113.1", 50002);
	struct pinhole *p;
	bool is_new;

	CHECK_INT(pinhole_table_create(&t, 16), 0);
	p = pinhole_add(t, &e_20, &m1, &is_new);
	CHECK(p != NULL);
	CHECK(pinhole_find_clash(t, &e_any, &m2) == p);
	CHECK(pinhole_find_clash(t, &e_20, &m2) == p);
	CHECK(pinhole_find_clash(t, &e_21, &m2) == NULL);
	CHECK(pinhole_find_clash(t, &other, &m2) == NULL);
	CHECK(pinhole_find_clash(t, &port2, &m2) == NULL);
	/* the same master replaces its own */
	CHECK(pinhole_find_clash(t, &e_any, &m1) == NULL);
	/* a used one is no clash */
	p->state = PINHOLE_GONE;
	CHECK(pinhole_find_clash(t, &e_any, &m2) == NULL);
	pinhole_table_destroy(t);
}

/* pinhole_free_port: the port itself when free, else the next free
 * unprivileged one (wrapping past 65535 to 1024), 0 after
 * PINHOLE_CLASH_TRIES clashing ports; a privileged port as it is. */
static void test_free_port(void)
{
	struct pinhole_table *t;
	struct flow m1 = tuple("10.1.1.2", 40000, "203.0.113.2", 21);
	struct flow m2 = tuple("10.1.1.3", 40001, "203.0.113.2", 21);
	struct flow e = tuple("203.0.113.2", 0, "203.0.113.1", 50001);
	struct flow top = tuple("203.0.113.2", 0, "203.0.113.1", 65535);
	struct flow low = tuple("203.0.113.2", 0, "203.0.113.1", 22);
	bool is_new;
	unsigned i;

	CHECK_INT(pinhole_table_create(&t, 2 * PINHOLE_CLASH_TRIES), 0);
	CHECK_INT(pinhole_free_port(t, &e, &m2), 50001);
	CHECK(pinhole_add(t, &e, &m1, &is_new) != NULL);
	CHECK_INT(pinhole_free_port(t, &e, &m2), 50002);
	CHECK_INT(pinhole_free_port(t, &e, &m1), 50001);
	CHECK(pinhole_add(t, &top, &m1, &is_new) != NULL);
	CHECK_INT(pinhole_free_port(t, &top, &m2), 1024);
	CHECK_INT(pinhole_free_port(t, &low, &m2), 22);
	for (i = 1; i < PINHOLE_CLASH_TRIES; i++) {
		e.dport = (uint16_t)(50001 + i);
		CHECK(pinhole_add(t, &e, &m1, &is_new) != NULL);
	}
	e.dport = 50001;
	CHECK_INT(pinhole_free_port(t, &e, &m2), 0);
	e.dport = 50002;
	CHECK_INT(pinhole_free_port(t, &e, &m2), 50001 + PINHOLE_CLASH_TRIES);
	pinhole_table_destroy(t);
}

int main(void)
{
	test_table();
	test_clash();
	test_free_port();
	test_decisions();
	test_client_count();
	return check_report("pinhole");
}
