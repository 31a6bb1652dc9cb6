/* The packet path (inspect_packet, pinholes) on crafted IPv4 and IPv6
 * segments, through the fake kernel of harness.c: which expectations
 * would be installed and removed. One scenario per rule of
 * doc/protocol.md that needs both directions and the session's life:
 * resets, mid-stream pickup, the kernel's DESTROY events, half-open
 * eviction, interfaces and conflicting retransmissions (issue 11,
 * findings 1, 4 and 8). */
#include <errno.h>

#include "check.h"
#include "harness.h"
#include "tcp_build.h"

#define C HARNESS_CLIENT
#define S HARNESS_SERVER
#define V4_CLIENT "198.51.100.2"
#define V4_SERVER "203.0.113.2"
#define V6_CLIENT "2001:db8:1::2"
#define V6_SERVER "2001:db8:2::2"
#define STARTED_LONG_AGO (3600u * 1000)
#define ACTIVE "active-mode = on\n"

/* 195 * 256 + 80 = 50000, the server's real passive port; 12 * 256 +
 * 234 = 3306, the port an attacker wants open. */
#define PASV_REAL "227 Entering Passive Mode (%s,195,80)\r\n"
#define PASV_FORGED "227 Entering Passive Mode (%s,12,234)"

static const char *comma(const char *v4)
{
	static char buf[32];
	char *p;

	snprintf(buf, sizeof(buf), "%s", v4);
	for (p = buf; *p; p++)
		if (*p == '.')
			*p = ',';
	return buf;
}

/* The client's PASV and the server's 227 naming its own address and
 * port 50000. */
static void pasv_real(struct harness *h)
{
	char reply[128];

	harness_send(h, C, "PASV\r\n");
	snprintf(reply, sizeof(reply), PASV_REAL, comma(V4_SERVER));
	harness_send(h, S, reply);
}

/* The session's own statements work: PASV/227 opens a pinhole to the
 * server, the transfer's end removes it. */
static void test_passive_baseline(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	pasv_real(&h);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "150 here it comes\r\n");
	harness_send(&h, S, "226 done\r\n");
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK(h.k.verdicts == h.packet_id);	/* every packet released */
	harness_fini(&h);
}

/* The verdict of the reply that opened a pinhole goes out at once
 * (queue_accept_now), every other one with its receive's batch: the
 * 227 and the 200 to a PORT (active-open = reply) only (a 227 refused at
 * the per-client cap: test_action.c). */
static void test_verdict_now(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, ACTIVE, STARTED_LONG_AGO);
	harness_login(&h);
	CHECK_INT(h.k.verdicts_now, 0);
	pasv_real(&h);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(h.k.verdicts_now, 1);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.verdicts_now, 1);
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	CHECK_INT(h.k.verdicts_now, 2);
	harness_send(&h, C, "NOOP\r\n");
	harness_send(&h, S, "200 ok\r\n");
	CHECK_INT(h.k.verdicts_now, 2);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

static void test_epsv_ipv6_baseline(void)
{
	struct harness h;

	harness_init(&h, V6_CLIENT, V6_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "EPSV\r\n");
	harness_send(&h, S, "229 Entering Extended Passive Mode (|||50001|)\r\n");
	CHECK(harness_pinhole(&h, V6_SERVER, 50001));
	harness_fini(&h);
}

static void test_active_baseline(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, ACTIVE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	harness_fini(&h);
}

/* ---- finding 1: resets and pickup ----------------------------------- */

/* The passive attack: a 227 inside a CWD argument, echoed by the
 * server's 550 and cut right before it by a small window; an inexact
 * RST; then PASV. The RST is not the connection's end (RFC 5961: the
 * server ignores it), so the 550's tail is still the tail of a 550, and
 * the real 227 to the real PASV gets its pinhole. */
static void rst_passive_attack(const char *client, const char *server,
			       const char *forged_addr)
{
	struct harness h;
	char cwd[160], tail[160], reply[128];

	harness_init(&h, client, server, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	snprintf(cwd, sizeof(cwd), "CWD " PASV_FORGED "\r\n", forged_addr);
	harness_send(&h, C, cwd);
	harness_send(&h, S, "550 ");
	/* in the window, not at the server's next sequence number */
	harness_segment(&h, C, TCP_BUILD_RST | TCP_BUILD_ACK,
			h.next_seq[C] + 100, h.next_seq[S], NULL, 0, h.ifindex[C]);
	CHECK(harness_tracked(&h));
	harness_send(&h, C, "PASV\r\n");
	snprintf(tail, sizeof(tail), PASV_FORGED ": No such file or directory\r\n",
		 forged_addr);
	harness_send(&h, S, tail);
	CHECK(!harness_pinhole(&h, server, 3306));
	snprintf(reply, sizeof(reply), PASV_REAL, forged_addr);
	harness_send(&h, S, reply);
	CHECK(!harness_pinhole(&h, server, 3306));
	CHECK(harness_pinhole(&h, server, 50000));
	CHECK_INT(h.d.stats.resets_ignored, 1);
	harness_fini(&h);
}

static void test_rst_passive_attack(void)
{
	rst_passive_attack(V4_CLIENT, V4_SERVER, comma(V4_SERVER));
}

/* The same over IPv6: an EPSV-less client may still send PASV. The 227
 * names an IPv4 address the policy refuses anyway; what matters is that
 * the 550's tail is not taken as an answer. */
static void test_rst_passive_attack_ipv6(void)
{
	struct harness h;

	harness_init(&h, V6_CLIENT, V6_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "CWD 229 Entering Extended Passive Mode (|||3306|)\r\n");
	harness_send(&h, S, "550 ");
	harness_segment(&h, S, TCP_BUILD_RST | TCP_BUILD_ACK,
			h.next_seq[S] + 7, h.next_seq[C], NULL, 0, h.ifindex[S]);
	harness_send(&h, C, "EPSV\r\n");
	harness_send(&h, S, "229 Entering Extended Passive Mode (|||3306|): No such file\r\n");
	CHECK(!harness_pinhole(&h, V6_SERVER, 3306));
	harness_send(&h, S, "229 Entering Extended Passive Mode (|||50000|)\r\n");
	CHECK(harness_pinhole(&h, V6_SERVER, 50000));
	CHECK_INT(harness_pinholes(&h), 1);
	harness_fini(&h);
}

/* Active mode: a malicious server cuts a browser's POST right before a
 * PORT inside a line, sends an inexact RST, and answers 200. */
static void test_rst_active_attack(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, ACTIVE, STARTED_LONG_AGO);
	harness_handshake(&h);
	harness_send(&h, S, "220 welcome\r\n");
	harness_send(&h, C, "POST /upload HTTP/1.1 x=aaaaaaaaaaaaaaaaaaaa");
	harness_segment(&h, S, TCP_BUILD_RST | TCP_BUILD_ACK,
			h.next_seq[S] + 1000, h.next_seq[C], NULL, 0, h.ifindex[S]);
	harness_send(&h, C, "PORT 198,51,100,2,13,61\r\n");
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(!harness_pinhole(&h, V4_CLIENT, 3389));
	CHECK_INT(harness_installs(&h), 0);
	harness_fini(&h);
}

/* A RST at exactly the sender's next sequence number ends the session
 * and its pinholes. */
static void test_rst_exact_ends(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	pasv_real(&h);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	harness_segment(&h, C, TCP_BUILD_RST | TCP_BUILD_ACK, h.next_seq[C],
			h.next_seq[S], NULL, 0, h.ifindex[C]);
	CHECK(!harness_tracked(&h));
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"reset\""), 1);
	harness_fini(&h);
}

/* Picked up mid-stream long after the daemon started (table slot freed,
 * SYN missed, idle expiry): strict mode stays ungreeted, nothing opens. */
static void test_pickup_strict_late(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	h.next_seq[C] = 77777;
	h.next_seq[S] = 99999;
	harness_send(&h, C, "NOOP\r\n");
	CHECK(harness_tracked(&h));
	harness_send(&h, S, "200 ok\r\n");
	pasv_real(&h);
	CHECK_INT(harness_installs(&h), 0);
	harness_fini(&h);
}

/* Picked up right after a (re)start: adopted, but the first line of
 * each direction is cut; the next PASV gets its pinhole. */
static void test_pickup_after_restart(void)
{
	struct harness h;
	char reply[128];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, 1000);
	h.next_seq[C] = 77777;
	h.next_seq[S] = 99999;
	snprintf(reply, sizeof(reply), PASV_REAL, comma(V4_SERVER));
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, reply);
	CHECK_INT(harness_installs(&h), 0);	/* first lines: cut */
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(harness_audit_count(&h, "picked-up-mid-stream"), 1);
	harness_fini(&h);
}

/* A pickup whose first reply segment starts inside a line (the 550's
 * tail) acts on nothing it says, even right after a restart. */
static void test_pickup_first_line_cut(void)
{
	struct harness h;
	char tail[160];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, 1000);
	h.next_seq[C] = 77777;
	h.next_seq[S] = 99999;
	harness_send(&h, C, "PASV\r\n");
	snprintf(tail, sizeof(tail), PASV_FORGED ": No such file\r\n", comma(V4_SERVER));
	harness_send(&h, S, tail);
	CHECK(!harness_pinhole(&h, V4_SERVER, 3306));
	CHECK_INT(harness_installs(&h), 0);
	harness_fini(&h);
}

/* ---- finding 4: the kernel's lifetime, half-open eviction ----------- */

static void test_destroy_event_ends(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	pasv_real(&h);
	harness_conntrack_destroy(&h);
	CHECK(!harness_tracked(&h));
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"conntrack-destroyed\""), 1);
	/* its pinhole went with the master: once its grace is over, it is
	 * audited as closed with the control connection */
	CHECK_INT(harness_pinholes(&h), 0);
	pinholes_tick(&h.d, daemon_now_ms() + 5000);
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-removed\""), 1);
	CHECK_INT(harness_audit_count(&h, "\"outcome\":\"session-ended\""), 1);
	harness_fini(&h);
}

/* conntrack -F expect under a live session. When the control
 * connection's NEW event was read, the flush's destroy event ends the
 * pinhole. A control connection the kernel sends no events for (its
 * conntrack got no event cache) sends no destroy event either: its
 * pinholes are polled, and the flush is found by asking. Either way the
 * audit says removed-in-kernel, within the grace after the flush. */
static void test_expect_flush(void)
{
	int no_events;

	for (no_events = 0; no_events <= 1; no_events++) {
		struct harness h;
		uint64_t now;

		harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
		h.k.master_no_events = no_events;
		harness_login(&h);
		pasv_real(&h);
		CHECK(harness_pinhole(&h, V4_SERVER, 50000));
		harness_expect_flush(&h);
		CHECK_INT(harness_pinholes(&h), 0);
		now = daemon_now_ms();
		pinholes_tick(&h.d, now + 1000);
		pinholes_tick(&h.d, now + 3000);
		CHECK_INT(harness_audit_count(&h, "\"outcome\":\"removed-in-kernel\""), 1);
		/* the control connection's NEW, the expectation's NEW and
		 * its DESTROY */
		CHECK_INT(h.d.stats.conntrack_events, no_events ? 0 : 3);
		harness_fini(&h);
	}
}

/* A polled pinhole (no NEW event for its control connection) whose
 * tuple the kernel now holds for another control connection (ours was
 * used, the server announced the port again to another one): the lookup
 * finds an expectation, but not ours, so ours is gone. */
static void test_polled_tuple_taken(void)
{
	struct harness h;
	uint64_t now;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	h.k.master_no_events = true;
	harness_login(&h);
	pasv_real(&h);
	CHECK_INT(harness_pinholes(&h), 1);
	now = daemon_now_ms();
	pinholes_tick(&h.d, now + 1000);	/* still ours: nothing */
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-removed\""), 0);
	h.k.expect[0].r.master.sport = 50999;	/* another connection's now */
	pinholes_tick(&h.d, now + 3000);
	pinholes_tick(&h.d, now + 5000);
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-removed\""), 1);
	harness_fini(&h);
}

/* Some kernels (Debian's 6.1.176) give a data connection its master's
 * helper, so its packets are queued too: passed, never read as FTP (an
 * upload of "PORT ..." lines must not act), no session, no audit. */
static void test_data_connection_passed(void)
{
	struct harness h;
	char upload[128];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	h.server_port = 40001;
	h.ct_expected = true;
	harness_handshake(&h);
	snprintf(upload, sizeof(upload), "PORT %s,200,10\r\n", comma(V4_CLIENT));
	harness_send(&h, C, upload);
	harness_send(&h, S, "220 looks like a greeting\r\n");
	CHECK(!harness_tracked(&h));
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "session-started"), 0);
	CHECK_INT(h.d.stats.packets_data_connection, 5);
	CHECK_INT(h.k.verdicts, 5);
	harness_fini(&h);
}

/* After an exact RST ended the session, the server resends data (its
 * 227, which crossed the RST). The conntrack says the connection is
 * closing: the packet passes and nothing is picked up mid-stream. Were
 * the kernel to say ESTABLISHED, it would be picked up as before. */
static void test_closing_not_picked_up(void)
{
	int closing;

	for (closing = 1; closing >= 0; closing--) {
		struct harness h;
		uint32_t c, s;

		harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
		harness_login(&h);
		c = h.next_seq[HARNESS_CLIENT], s = h.next_seq[HARNESS_SERVER];
		harness_segment(&h, HARNESS_CLIENT, TCP_BUILD_RST, c, 0, NULL, 0, 2);
		CHECK(!harness_tracked(&h));
		h.ct_closing = closing;
		harness_segment(&h, HARNESS_SERVER, TCP_BUILD_ACK | TCP_BUILD_PSH, s - 8, c,
				"200 ok\r\n", 8, 3);
		CHECK(harness_tracked(&h) == !closing);
		CHECK_INT(harness_audit_count(&h, "picked-up-mid-stream"), closing ? 0 : 1);
		CHECK_INT(h.d.stats.packets_closing_untracked, closing ? 1 : 0);
		harness_fini(&h);
	}
}

/* A DESTROY of another conntrack that happens to have been given the
 * same ID later (tuple differs) leaves the session alone. */
static void test_destroy_other_tuple(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	h.client_port = 50099;		/* the event names another tuple */
	harness_conntrack_destroy(&h);
	h.client_port = 50000;
	CHECK(harness_tracked(&h));
	harness_fini(&h);
}

/* A SYN reusing the tuple of a connection in TIME_WAIT kills the old
 * conntrack and the new one may get its ID: the old one's DESTROY, read
 * after the new session started, names the new session's ID and tuple.
 * The kernel still has a conntrack with that tuple: the session stays. */
static void test_destroy_stale_event(void)
{
	struct harness h;
	struct ctnl_msg m;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	memset(&m, 0, sizeof(m));
	m.kind = CTNL_CT_DELETE;
	m.family = h.client.family;
	m.id = h.conntrack_id;
	m.tuple.src = h.client;
	m.tuple.dst = h.server;
	m.tuple.sport = h.client_port;
	m.tuple.dport = h.server_port;
	m.proto = IPPROTO_TCP;
	pinholes_kernel_event(&m, &h.d);
	CHECK(harness_tracked(&h));
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"conntrack-destroyed\""), 0);
	harness_fini(&h);
}

static void syn_from(struct harness *h, uint32_t id, uint16_t port)
{
	h->conntrack_id = id;
	h->client_port = port;
	harness_segment(h, C, TCP_BUILD_SYN, 1000, 0, NULL, 0, h->ifindex[C]);
}

/* The client resends its SYN while the first one is still queued: the
 * kernel gives the resend a twin conntrack (ID 2) that it never confirms
 * or reports destroyed. No session for the twin; a SYN with another
 * initial sequence number on the same ports is a new connection. */
static void test_syn_twin(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	syn_from(&h, 1, 40001);
	syn_from(&h, 2, 40001);
	CHECK(session_table_find(h.d.sessions, 1) != NULL);
	CHECK(session_table_find(h.d.sessions, 2) == NULL);
	CHECK_INT(h.d.stats.syn_twins, 1);
	CHECK_INT(h.d.stats.sessions_started, 1);
	CHECK_INT(harness_audit_count(&h, "session-started"), 1);
	h.conntrack_id = 3;
	harness_segment(&h, C, TCP_BUILD_SYN, 77000, 0, NULL, 0, h.ifindex[C]);
	CHECK(session_table_find(h.d.sessions, 3) != NULL);
	CHECK_INT(h.d.stats.syn_twins, 1);
	CHECK_INT(h.d.stats.sessions_started, 2);
	harness_fini(&h);
}

/* max-sessions 2: two SYN-only sessions; a third SYN evicts the oldest
 * half-open one instead of going untracked. */
static void test_half_open_evicted(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, "max-sessions = 2\n", STARTED_LONG_AGO);
	syn_from(&h, 1, 40001);
	syn_from(&h, 2, 40002);
	syn_from(&h, 3, 40003);
	CHECK(session_table_find(h.d.sessions, 1) == NULL);
	CHECK(session_table_find(h.d.sessions, 2) != NULL);
	CHECK(session_table_find(h.d.sessions, 3) != NULL);
	CHECK_INT(h.d.stats.sessions_evicted, 1);
	CHECK_INT(h.d.stats.sessions_untracked, 0);
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"evicted-half-open\""), 1);
	harness_fini(&h);
}

/* Sessions that carried data are not evicted: the new one goes
 * untracked as before. */
static void test_established_not_evicted(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, "max-sessions = 1\n", STARTED_LONG_AGO);
	harness_login(&h);
	syn_from(&h, 2, 40002);
	CHECK(session_table_find(h.d.sessions, 1000) != NULL);
	CHECK(session_table_find(h.d.sessions, 2) == NULL);
	CHECK_INT(h.d.stats.sessions_untracked, 1);
	CHECK_INT(h.d.stats.sessions_evicted, 0);
	harness_fini(&h);
}

/* ---- finding 8: interfaces, conflicting retransmissions ------------ */

/* After login: PASV, a forged 227 for 3306 from the client's side ahead
 * of the real one. Not read (the session's wrong-interface count reaches
 * `wrong`); the real 227 opens its pinhole, 3306 never does. */
static void forged_227_then_real(struct harness *h, unsigned wrong)
{
	char forged[128], reply[128];

	harness_send(h, C, "PASV\r\n");
	snprintf(forged, sizeof(forged), PASV_FORGED "\r\n", comma(V4_SERVER));
	harness_forge(h, S, forged, h->ifindex[C]);
	CHECK(!harness_pinhole(h, V4_SERVER, 3306));
	CHECK_INT(h->d.stats.packets_wrong_interface, wrong);
	snprintf(reply, sizeof(reply), PASV_REAL, comma(V4_SERVER));
	harness_send(h, S, reply);
	CHECK(harness_pinhole(h, V4_SERVER, 50000));
	CHECK(!harness_pinhole(h, V4_SERVER, 3306));
}

/* A "server" segment with a forged 227, sent from the client's side
 * ahead of the real reply: refused, the real 227 is taken. */
static void test_forged_direction(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	forged_227_then_real(&h, 1);
	harness_fini(&h);
}

/* The same when the forged segment reaches the client, which
 * acknowledges it: the bytes ftpgated did not read count as a hole
 * (resynchronised), the real 227, old by then, opens nothing, and neither
 * does the forged one; after one untrusted line the session goes on. */
static void test_forged_direction_acked(void)
{
	struct harness h;
	char forged[128], reply[128];
	uint32_t at;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	snprintf(forged, sizeof(forged), PASV_FORGED ".\r\n", comma(V4_SERVER));
	harness_forge(&h, S, forged, h.ifindex[C]);
	at = h.next_seq[S];
	h.next_seq[S] += (uint32_t)strlen(forged);	/* the client took it */
	harness_segment(&h, C, TCP_BUILD_ACK, h.next_seq[C], h.next_seq[S],
			NULL, 0, h.ifindex[C]);
	snprintf(reply, sizeof(reply), "227 Entering Passive Mode (%s,195,80).\r\n",
		 comma(V4_SERVER));
	harness_segment(&h, S, TCP_BUILD_ACK | TCP_BUILD_PSH, at, h.next_seq[C],
			reply, strlen(reply), h.ifindex[S]);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(h.d.stats.streams_resynchronized, 1);
	harness_send(&h, C, "NOOP\r\n");
	harness_send(&h, S, "200 ok\r\n");		/* cut: after the hole */
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK(!harness_pinhole(&h, V4_SERVER, 3306));
	harness_fini(&h);
}

/* The forged packet comes first: a "SYN-ACK" from the client's side
 * ahead of the server's own would teach ftpgated the client's interface
 * as the server's, and every later forgery would be read. It is routed
 * back out of the interface it came in on, where the client's SYN was
 * routed through: refused, and the forged 227 after it too (the fuzz
 * finding of fuzz_inspect, corpus forged-first-server-packet). */
static void test_forged_first_server_packet(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_segment(&h, C, TCP_BUILD_SYN, h.next_seq[C]++, 0, NULL, 0, h.ifindex[C]);
	harness_segment(&h, S, TCP_BUILD_SYN | TCP_BUILD_ACK, 12345, h.next_seq[C],
			NULL, 0, h.ifindex[C]);
	CHECK_INT(h.d.stats.packets_wrong_interface, 1);
	h.next_seq[C]--;
	harness_login(&h);
	forged_227_then_real(&h, 2);
	harness_fini(&h);
}

/* A one-armed gateway: both sides on one interface, every packet turns
 * back out of it. Nothing is refused; the 227 opens its pinhole. */
static void test_one_armed(void)
{
	struct harness h;
	char reply[128];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	h.ifindex[S] = h.ifindex[C];
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	snprintf(reply, sizeof(reply), PASV_REAL, comma(V4_SERVER));
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(h.d.stats.packets_wrong_interface, 0);
	harness_fini(&h);
}

/* Overlapping bytes that differ from the copy ftpgated holds: the
 * receiver may keep either, so the stream is no longer tracked and
 * nothing opens. */
static void test_conflicting_retransmission(void)
{
	struct harness h;
	char forged[128];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_forge(&h, S, "227 Entering Passive Mode (203,0,113,2,195,", h.ifindex[S]);
	snprintf(forged, sizeof(forged), PASV_FORGED "\r\n", comma(V4_SERVER));
	harness_forge(&h, S, forged, h.ifindex[S]);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "session-lost"), 1);
	harness_fini(&h);
}

/* The same in held (out-of-order) data: a later piece is held, then a
 * different copy of it arrives. */
static void test_conflicting_held(void)
{
	struct harness h;
	uint32_t at;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	at = h.next_seq[S];
	harness_segment(&h, S, TCP_BUILD_ACK, at + 4, h.next_seq[C],
			"Entering Passive Mode (203,0,113,2,195,80)\r\n", 44, h.ifindex[S]);
	harness_segment(&h, S, TCP_BUILD_ACK, at + 4, h.next_seq[C],
			"Entering Passive Mode (203,0,113,2,12,234)\r\n", 44, h.ifindex[S]);
	harness_segment(&h, S, TCP_BUILD_ACK, at, h.next_seq[C], "227 ", 4, h.ifindex[S]);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "session-lost"), 1);
	harness_fini(&h);
}

/* An identical retransmission is not a conflict. */
static void test_identical_retransmission(void)
{
	struct harness h;
	char reply[128];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_forge(&h, S, "227 Entering Passive Mode (203,0,113,2,195,", h.ifindex[S]);
	snprintf(reply, sizeof(reply), PASV_REAL, comma(V4_SERVER));
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(harness_audit_count(&h, "session-lost"), 0);
	harness_fini(&h);
}

/* ---- NAT (doc/nat.md, issue 13) ------------------------------------- */

/* The lab's names: the client dials the gateway's P, DNATed to the server
 * s; the client is not masqueraded. */
#define NAT_PUBLIC "198.51.100.1"
#define NAT_REAL "203.0.113.2"

/* The expectation to addr:port carries the NAT of a passive (dir 0) or
 * active (dir 1) pinhole landing on lands:port. */
static bool nat_expect(const struct harness *h, const char *addr,
		       uint16_t port, uint8_t dir, const char *lands)
{
	const struct expect_request *r = harness_expect(h, addr, port);
	struct inet_addr l = tcp_build_addr(lands);

	return r != NULL && r->nat.on && r->nat_dir == dir && r->nat.port == port &&
	       inet_addr_equal(&r->nat.address, &l);
}

static void nat_harness(struct harness *h, const char *config)
{
	harness_init(h, V4_CLIENT, NAT_PUBLIC, config, STARTED_LONG_AGO);
	harness_nat(h, NAT_REAL, V4_CLIENT, h->client_port);
	harness_login(h);
	harness_send(h, C, "PASV\r\n");
}

/* A DNAT-published server's 227 names its real address: judged against
 * the real server (the conntrack's reply source), it is its own address,
 * not a third party's; the pinhole is for the address the client dialled.
 * Without the reply tuple (before issue 13) it was refused as
 * third-party. */
static void test_nat_dnat_227(void)
{
	struct harness h;
	char reply[128];

	nat_harness(&h, NULL);
	snprintf(reply, sizeof(reply), PASV_REAL, comma(NAT_REAL));
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, NAT_PUBLIC, 50000));
	CHECK(!harness_pinhole(&h, NAT_REAL, 50000));
	CHECK_INT(harness_pinholes(&h), 1);
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 0);
	/* the client's connection to P:50000 is DNATed to s:50000 */
	CHECK(nat_expect(&h, NAT_PUBLIC, 50000, 0, NAT_REAL));
	/* and the 227 reaches the client naming P, as long as before */
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(reply) &&
	      memcmp(h.k.rewritten, "227 Entering Passive Mode(198,51,100,1,195,80)\r\n",
		     h.k.rewritten_len) == 0);
	CHECK(h.k.verdicts == h.packet_id);
	CHECK(inet_addr_equal(&harness_expect(&h, NAT_PUBLIC, 50000)->expect.src,
			      &h.client));
	/* the audit shows both sides: dialled, and where it lands; so does
	 * a later daemon adopting the pinhole from the kernel's listing */
	CHECK_INT(harness_audit_count(&h, "\"destination\":\"" NAT_PUBLIC "\",\"port\":50000,\"translated_destination\":\"" NAT_REAL "\",\"translated_port\":50000,"), 1);
	pinhole_table_destroy(h.d.pinholes);
	CHECK_INT(pinhole_table_create(&h.d.pinholes, 16), 0);
	CHECK_INT(pinholes_adopt(&h.d), 1);
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-adopted\""), 1);
	CHECK_INT(harness_audit_count(&h, "\"translated_destination\":\"" NAT_REAL "\",\"translated_port\":50000,"), 2);
	harness_fini(&h);
}

/* One client, two control connections to servers published on one
 * address, the second announcing the port the first's pinhole already
 * has (doc/nat.md 2.4): the second pinhole moves to the next free port,
 * the 227 (or 229) is rewritten to name it, and it still lands on the
 * port the server listens on. */
static void test_nat_dnat_clash(void)
{
	struct flow other = { tcp_build_addr(V4_CLIENT), tcp_build_addr(NAT_PUBLIC), 40000, 2121 };
	struct flow taken = { tcp_build_addr(V4_CLIENT), tcp_build_addr(NAT_PUBLIC), 0, 50000 };
	const struct expect_request *r;
	struct harness h;
	char reply[128];
	bool is_new;

	nat_harness(&h, NULL);
	CHECK(pinhole_add(h.d.pinholes, &taken, &other, &is_new) != NULL);
	snprintf(reply, sizeof(reply), PASV_REAL, comma(NAT_REAL));
	harness_send(&h, S, reply);
	r = harness_expect(&h, NAT_PUBLIC, 50001);
	CHECK(r != NULL && r->nat.on && r->nat_dir == 0 && r->nat.port == 50000 &&
	      inet_addr_equal(&r->nat.address, &h.reply.src));
	CHECK(harness_expect(&h, NAT_PUBLIC, 50000) == NULL);
	CHECK_INT(h.k.rewrites, 1);
	CHECK(memcmp(h.k.rewritten, "227 Entering Passive Mode(198,51,100,1,195,81)\r\n",
		     h.k.rewritten_len) == 0);
	/* a 229 moves and is rewritten too; the first pinhole is superseded */
	harness_send(&h, C, "EPSV\r\n");
	harness_send(&h, S, "229 Entering Extended Passive Mode (|||50000|)\r\n");
	CHECK(harness_expect(&h, NAT_PUBLIC, 50001) != NULL);
	CHECK_INT(h.k.rewrites, 2);
	CHECK(memcmp(h.k.rewritten, "229 Entering Extended Passive Mode (|||50001|)\r\n",
		     h.k.rewritten_len) == 0);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A real third party under NAT is still refused: no pinhole at all. */
static void test_nat_third_party(void)
{
	struct harness h;
	char reply[128];

	nat_harness(&h, NULL);
	snprintf(reply, sizeof(reply), PASV_REAL, comma("192.0.2.7"));
	harness_send(&h, S, reply);
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 1);
	CHECK_INT(h.k.rewrites, 0);
	harness_fini(&h);
}

/* The real server's [server] section applies (its passive range), not
 * the global one and not one named after the dialled address. */
static void test_nat_server_section(void)
{
	struct harness h;

	nat_harness(&h, "[server " NAT_REAL "]\npassive-ports = 40000-40010\n");
	harness_send(&h, S, "227 Entering Passive Mode (203,0,113,2,156,64)\r\n");
	CHECK(harness_pinhole(&h, NAT_PUBLIC, 40000));
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, "227 Entering Passive Mode (203,0,113,2,195,80)\r\n");
	CHECK(!harness_pinhole(&h, NAT_PUBLIC, 50000));
	CHECK_INT(harness_audit_count(&h, "port-out-of-range"), 1);
	harness_fini(&h);
}

/* A server that already announces the published address (vsftpd
 * pasv_address): allowed only when its section lists it in
 * announce-address, as without NAT. */
static void test_nat_announce_address(void)
{
	struct harness h;
	char reply[128];

	snprintf(reply, sizeof(reply), PASV_REAL, comma(NAT_PUBLIC));
	nat_harness(&h, NULL);
	harness_send(&h, S, reply);
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 1);
	harness_fini(&h);
	nat_harness(&h, "[server " NAT_REAL "]\nannounce-address = " NAT_PUBLIC "\n");
	harness_send(&h, S, reply);
	CHECK(nat_expect(&h, NAT_PUBLIC, 50000, 0, NAT_REAL));
	CHECK_INT(h.k.rewrites, 0);	/* it names P already */
	harness_fini(&h);
	/* another listed address: a plain pinhole, as without NAT */
	snprintf(reply, sizeof(reply), PASV_REAL, comma("203.0.113.9"));
	nat_harness(&h, "[server " NAT_REAL "]\nannounce-address = 203.0.113.9\n");
	harness_send(&h, S, reply);
	CHECK(harness_pinhole(&h, "203.0.113.9", 50000));
	CHECK(!harness_expect(&h, "203.0.113.9", 50000)->nat.on);
	harness_fini(&h);
}

/* A 229 names no address: the pinhole is for the dialled address. */
static void test_nat_229(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, NAT_PUBLIC, NULL, STARTED_LONG_AGO);
	harness_nat(&h, NAT_REAL, V4_CLIENT, h.client_port);
	harness_login(&h);
	harness_send(&h, C, "EPSV\r\n");
	harness_send(&h, S, "229 Entering Extended Passive Mode (|||50001|)\r\n");
	CHECK(nat_expect(&h, NAT_PUBLIC, 50001, 0, NAT_REAL));
	CHECK_INT(harness_pinholes(&h), 1);
	CHECK_INT(h.k.rewrites, 0);	/* a 229 names no address */
	harness_fini(&h);
}

/* Active mode to a DNAT-published server (client not masqueraded): the
 * server's data connection comes from its real address and is translated
 * like the control connection (doc/nat.md 2.1). */
static void test_nat_active_dnat(void)
{
	struct harness h;
	const struct expect_request *r;

	harness_init(&h, V4_CLIENT, NAT_PUBLIC, ACTIVE, STARTED_LONG_AGO);
	harness_nat(&h, NAT_REAL, V4_CLIENT, h.client_port);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(nat_expect(&h, V4_CLIENT, 50001, 1, V4_CLIENT));
	r = harness_expect(&h, V4_CLIENT, 50001);
	CHECK(r != NULL && inet_addr_equal(&r->expect.src, &h.reply.src));
	harness_fini(&h);
}

/* Without NAT nothing changes: plain expectations. */
static void test_nat_none(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, ACTIVE, STARTED_LONG_AGO);
	harness_login(&h);
	pasv_real(&h);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK(!harness_expect(&h, V4_SERVER, 50000)->nat.on);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	CHECK(!harness_expect(&h, V4_CLIENT, 50001)->nat.on);
	CHECK_INT(h.k.rewrites, 0);
	harness_fini(&h);
}

/* A 227 split over two segments: the first may be gone already, so it is
 * not rewritten (passed unchanged, logged); the pinhole still opens (a
 * client that ignores the 227's address uses it). */
static void test_nat_227_split(void)
{
	struct harness h;

	nat_harness(&h, NULL);
	harness_send(&h, S, "227 Entering Passive Mode (203,0,");
	harness_send(&h, S, "113,2,195,80)\r\n");
	CHECK(nat_expect(&h, NAT_PUBLIC, 50000, 0, NAT_REAL));
	CHECK_INT(h.k.rewrites, 0);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A retransmission of the segment that held a rewritten 227 is rewritten
 * the same way (the session does not read those bytes again); so is one
 * that carries the line with more after it. Other segments are not. */
static void test_nat_227_retransmitted(void)
{
	static const char want[] = "227 Entering Passive Mode(198,51,100,1,195,80).\r\n";
	const char *reply = "227 Entering Passive Mode (203,0,113,2,195,80).\r\n";
	struct harness h;
	char more[160];
	uint32_t seq;

	nat_harness(&h, NULL);
	seq = h.next_seq[S];
	harness_send(&h, S, reply);
	CHECK_INT(h.k.rewrites, 1);
	harness_segment(&h, S, TCP_BUILD_ACK | TCP_BUILD_PSH, seq, h.next_seq[C],
			reply, strlen(reply), h.ifindex[S]);
	CHECK_INT(h.k.rewrites, 2);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	snprintf(more, sizeof(more), "%s150 ok\r\n", reply);
	harness_segment(&h, S, TCP_BUILD_ACK | TCP_BUILD_PSH, seq, h.next_seq[C],
			more, strlen(more), h.ifindex[S]);
	CHECK_INT(h.k.rewrites, 3);
	CHECK(memcmp(h.k.rewritten, want, strlen(want)) == 0 &&
	      memcmp(h.k.rewritten + strlen(want), "150 ok\r\n", 8) == 0);
	/* a later segment that does not hold the line: unchanged */
	harness_send(&h, S, "150 ok\r\n");
	CHECK_INT(h.k.rewrites, 3);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A resized 227 (the head is empty: one byte longer), then, after a
 * second PASV, a segment of the server starting inside the first one
 * ("\n" + the old 227, then a new 227 naming the same endpoint). The
 * old line must not be rewritten again: that would ask the kernel for a
 * second adjustment at a new position for bytes the client has already
 * (2 bytes off where the client saw 1). The segment passes unchanged. */
static void test_nat_227_overlap_resized(void)
{
	const char *first = "200 ok\r\n227 (203,0,113,2,195,80)\r\n";
	const char *line = "227 (203,0,113,2,195,80)\r\n";
	struct harness h;
	char seg[128];
	uint32_t seq;

	harness_init(&h, V4_CLIENT, NAT_PUBLIC, NULL, STARTED_LONG_AGO);
	harness_nat(&h, NAT_REAL, V4_CLIENT, h.client_port);
	harness_login(&h);
	harness_send(&h, C, "NOOP\r\nPASV\r\n");
	seq = h.next_seq[S];
	harness_send(&h, S, first);
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.k.seqadj_diff, 1);
	harness_send(&h, C, "PASV\r\n");
	snprintf(seg, sizeof(seg), "%s%s", first + 7, line);
	harness_segment(&h, S, TCP_BUILD_ACK | TCP_BUILD_PSH, seq + 7,
			h.next_seq[C], seg, strlen(seg), h.ifindex[S]);
	h.next_seq[S] = seq + 7 + (uint32_t)strlen(seg);
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.k.seqadj_diff, 1);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* Fifty PASV/227 in one control session: every 227 rewritten, each
 * pinhole superseding the one before. */
static void test_nat_227_many(void)
{
	struct harness h;
	char reply[128], want[128];
	int i, ok = 0;

	nat_harness(&h, NULL);
	for (i = 0; i < 50; i++) {
		if (i > 0)
			harness_send(&h, C, "PASV\r\n");
		snprintf(reply, sizeof(reply), "227 Entering Passive Mode (203,0,113,2,195,%d).\r\n", i);
		snprintf(want, sizeof(want), "227 Entering Passive Mode(198,51,100,1,195,%d).\r\n", i);
		harness_send(&h, S, reply);
		ok += h.k.rewrites == (unsigned)i + 1 && h.k.rewritten_len == strlen(want) &&
		      memcmp(h.k.rewritten, want, strlen(want)) == 0 &&
		      nat_expect(&h, NAT_PUBLIC, (uint16_t)(195 * 256 + i), 0, NAT_REAL);
	}
	CHECK_INT(ok, 50);
	CHECK_INT(harness_pinholes(&h), 1);
	harness_fini(&h);
}

/* ---- NAT: masqueraded clients (doc/nat.md 2.2) ---------------------- */

/* The gateway's address on the server's side: the client as the server
 * sees it. */
#define NAT_GW "203.0.113.1"

/* An active-mode session of client to the real server V4_SERVER (or
 * server), masqueraded to nat_client. */
static void masq_harness(struct harness *h, const char *client,
			 const char *server, const char *nat_client)
{
	harness_init(h, client, server, ACTIVE, STARTED_LONG_AGO);
	harness_nat(h, server, nat_client, 61000);
	harness_login(h);
}

/* The server's segment acknowledging the client's bytes as the kernel
 * adjusted them (diff more than the client sent). */
static void masq_server_send(struct harness *h, const char *text, int diff)
{
	harness_segment(h, S, TCP_BUILD_ACK | TCP_BUILD_PSH, h->next_seq[S],
			h->next_seq[C] + (uint32_t)diff, text, strlen(text),
			h->ifindex[S]);
	h->next_seq[S] += (uint32_t)strlen(text);
}

/* The PORT names the client's own address: it reaches the server naming
 * the gateway, same length (a leading zero on a port byte absorbs the
 * shorter address), and the server's 200 opens server -> gateway:q,
 * translated in the reply direction to the client's q. Without the
 * rewrite the server would connect to an address it cannot reach. */
static void test_nat_masq_port(void)
{
	static const char want[] = "PORT 203,0,113,1,195,081\r\n";
	const struct expect_request *r;
	struct harness h;

	masq_harness(&h, V4_CLIENT, V4_SERVER, NAT_GW);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	CHECK_INT(h.k.seqadj_diff, 0);
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(nat_expect(&h, NAT_GW, 50001, 1, V4_CLIENT));
	r = harness_expect(&h, NAT_GW, 50001);
	CHECK(r != NULL && inet_addr_equal(&r->expect.src, &h.server));
	CHECK(!harness_pinhole(&h, V4_CLIENT, 50001));
	CHECK_INT(harness_pinholes(&h), 1);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A PORT whose new address is longer: released 3 bytes longer with the
 * kernel's sequence adjustment asked for; the server's acknowledgements,
 * 3 ahead of what the client sent, read as no loss (no resync), and the
 * 200 still opens the pinhole. So do 50 more in the same session. */
static void test_nat_masq_port_resized(void)
{
	static const char want[] = "PORT 203,0,113,1,195,81\r\n";
	struct harness h;
	char port[64];
	int i, ok = 0;

	masq_harness(&h, "10.1.1.2", V4_SERVER, NAT_GW);
	harness_send(&h, C, "PORT 10,1,1,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	CHECK_INT(h.k.seqadj_diff, 3);
	masq_server_send(&h, "200 PORT command successful\r\n", 3);
	CHECK(nat_expect(&h, NAT_GW, 50001, 1, "10.1.1.2"));
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	CHECK(!h.d.resize_refused);
	for (i = 0; i < 50; i++) {
		snprintf(port, sizeof(port), "PORT 10,1,1,2,196,%d\r\n", i);
		harness_send(&h, C, port);
		masq_server_send(&h, "200 PORT command successful\r\n", 3 * (i + 2));
		ok += h.k.rewrites == (unsigned)i + 2 &&
		      nat_expect(&h, NAT_GW, (uint16_t)(196 * 256 + i), 1, "10.1.1.2");
	}
	CHECK_INT(ok, 50);
	CHECK_INT(h.k.seqadj_diff, 3 * 51);
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	CHECK_INT(h.d.stats.nat_rewrites, 51);
	CHECK_INT(h.d.stats.nat_rewrites_resized, 51);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 0);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A resized PORT, then a retransmission of that segment starting inside
 * it ("\nPORT ..."): bytes the session took already. Rewriting them again
 * would ask the kernel for a second adjustment at a new position (the
 * stream would be 6 bytes off where the server saw 3); it passes
 * unchanged (rewrite_again refuses a later start of a resized line). */
static void test_nat_masq_port_retransmitted_inside(void)
{
	const char *seg = "NOOP\r\nPORT 10,1,1,2,195,81\r\n";
	struct harness h;
	uint32_t seq;

	masq_harness(&h, "10.1.1.2", V4_SERVER, NAT_GW);
	seq = h.next_seq[C];
	harness_send(&h, C, seg);
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.k.seqadj_diff, 3);
	harness_segment(&h, C, TCP_BUILD_ACK | TCP_BUILD_PSH, seq + 5,
			h.next_seq[S], seg + 5, strlen(seg + 5), h.ifindex[C]);
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.k.seqadj_diff, 3);
	CHECK_INT(h.d.stats.nat_rewrites, 1);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* A PORT that would be resized, in a segment whose urgent byte follows
 * it ("X" of the next line: the receiver without SO_OOBINLINE takes it
 * out). The urgent pointer counts from the segment's start and neither
 * the kernel nor the rewrite moves it: 3 bytes longer, it would name the
 * last "1" of "81" in the rewritten PORT, and the server would read port
 * 195,8. Such a segment passes unchanged. */
static void test_nat_masq_port_urgent(void)
{
	const char *seg = "PORT 10,1,1,2,195,81\r\nX\r\n";
	struct harness h;

	masq_harness(&h, "10.1.1.2", V4_SERVER, NAT_GW);
	h.urg_ptr = 23;		/* Linux: the urgent byte is the one before */
	harness_segment(&h, C, TCP_BUILD_ACK | TCP_BUILD_PSH | TCP_BUILD_URG,
			h.next_seq[C], h.next_seq[S], seg, strlen(seg),
			h.ifindex[C]);
	h.next_seq[C] += (uint32_t)strlen(seg);
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(h.k.seqadj_diff, 0);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* The kernel did not record the adjustment (no seqadj extension: the
 * helper was attached after NAT was set up): said once the server's
 * acknowledgement shows it, and later resizes are refused (the PORT
 * passes unchanged); same-length rewrites go on. */
static void test_nat_masq_seqadj_missing(void)
{
	struct harness h;

	masq_harness(&h, "10.1.1.2", V4_SERVER, NAT_GW);
	h.k.no_seqadj_ext = true;
	harness_send(&h, C, "PORT 10,1,1,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(!h.d.resize_refused);
	masq_server_send(&h, "200 PORT command successful\r\n", 3);
	CHECK(h.d.resize_refused);
	harness_send(&h, C, "PORT 10,1,1,2,195,82\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.d.stats.nat_seqadj_missing, 1);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	harness_fini(&h);
}

/* Two clients behind one address naming the same port to one server
 * (doc/nat.md 2.4): the second is announced on the next free port of the
 * gateway, and its pinhole lands on the port the client named. */
static void test_nat_masq_clash(void)
{
	struct flow other = { tcp_build_addr("198.51.100.9"), tcp_build_addr(V4_SERVER), 40000, 21 };
	struct flow taken = { tcp_build_addr(V4_SERVER), tcp_build_addr(NAT_GW), 0, 50001 };
	const struct expect_request *r;
	struct harness h;
	bool is_new;

	masq_harness(&h, V4_CLIENT, V4_SERVER, NAT_GW);
	CHECK(pinhole_add(h.d.pinholes, &taken, &other, &is_new) != NULL);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == 26 &&
	      memcmp(h.k.rewritten, "PORT 203,0,113,1,195,082\r\n", 26) == 0);
	harness_send(&h, S, "200 PORT command successful\r\n");
	r = harness_expect(&h, NAT_GW, 50002);
	CHECK(r != NULL && r->nat.on && r->nat_dir == 1 && r->nat.port == 50001 &&
	      inet_addr_equal(&r->nat.address, &h.client));
	CHECK(harness_expect(&h, NAT_GW, 50001) == NULL);
	harness_fini(&h);
}

/* Under masquerade a PORT naming another address is not rewritten (the
 * server would be told to connect to the gateway for someone else) and
 * policy refuses it as before: no pinhole at all. */
static void test_nat_masq_third_party(void)
{
	struct harness h;

	masq_harness(&h, V4_CLIENT, V4_SERVER, NAT_GW);
	harness_send(&h, C, "PORT 192,0,2,7,195,81\r\n");
	CHECK_INT(h.k.rewrites, 0);
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 1);
	harness_fini(&h);
}

/* IPv6: an EPRT whose rewrite changes its length passes unchanged (the
 * kernel's adjustment is IPv4 only); a same-length one is rewritten. */
static void test_nat_masq_eprt_v6(void)
{
	static const char want[] = "EPRT |2|2001:db8:2::1|50001|\r\n";
	struct harness h;

	masq_harness(&h, V6_CLIENT, V6_SERVER, "2001:db8:2::1");
	harness_send(&h, C, "EPRT |2|2001:db8:1::2|50001|\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	harness_send(&h, S, "200 EPRT command successful\r\n");
	CHECK(nat_expect(&h, "2001:db8:2::1", 50001, 1, V6_CLIENT));
	harness_fini(&h);

	/* not rewritten: the pinhole is for what the server was told */
	masq_harness(&h, V6_CLIENT, V6_SERVER, "2001:db8:2::100");
	harness_send(&h, C, "EPRT |2|2001:db8:1::2|50001|\r\n");
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(h.k.seqadj_diff, 0);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	harness_send(&h, S, "200 EPRT command successful\r\n");
	CHECK(harness_pinhole(&h, V6_CLIENT, 50001));
	CHECK(!harness_expect(&h, V6_CLIENT, 50001)->nat.on);
	CHECK(!harness_pinhole(&h, "2001:db8:2::100", 50001));
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* ---- active-open = command ------------------------------------------ */

#define COMMAND ACTIVE "active-open = command\n"

/* The pinhole exists once the PORT is released, before the server
 * answers (pyftpdlib connects first); a 200 keeps it and supersedes the
 * older one, a 500 removes it and keeps the older one. */
static void test_command_active(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	CHECK(inet_addr_equal(&harness_expect(&h, V4_CLIENT, 50001)->expect.src,
			      &h.server));
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-opened\""), 1);
	harness_send(&h, S, "200 Active data connection established.\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	harness_send(&h, C, "PORT 198,51,100,2,195,82\r\n");
	CHECK_INT(harness_pinholes(&h), 2);
	harness_send(&h, S, "200 ok\r\n");
	CHECK(!harness_pinhole(&h, V4_CLIENT, 50001));
	CHECK(harness_pinhole(&h, V4_CLIENT, 50002));
	harness_send(&h, C, "PORT 198,51,100,2,195,83\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50003));
	harness_send(&h, S, "500 Illegal PORT command.\r\n");
	CHECK(!harness_pinhole(&h, V4_CLIENT, 50003));
	CHECK(harness_pinhole(&h, V4_CLIENT, 50002));
	CHECK_INT(h.d.stats.pinholes_removed, 2);
	/* refused at the command: said once, nothing installed */
	harness_send(&h, C, "PORT 192,0,2,7,195,84\r\n");
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 1);
	harness_send(&h, S, "500 no\r\n");
	CHECK_INT(harness_audit_count(&h, "third-party-address"), 1);
	CHECK_INT(harness_installs(&h), 3);
	CHECK_INT(h.k.rewrites, 0);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* The default (and active-open = reply): nothing at the command. */
static void test_command_reply_mode(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, ACTIVE "active-open = reply\n",
		     STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(harness_installs(&h), 0);
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(harness_pinhole(&h, V4_CLIENT, 50001));
	harness_fini(&h);
}

/* A masqueraded client in command mode: the PORT is rewritten and the
 * NATed pinhole (s -> G:q, landing on c:q) installed before it leaves;
 * the server's refusal removes it. */
static void test_command_masq(void)
{
	static const char want[] = "PORT 203,0,113,1,195,081\r\n";
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	CHECK(nat_expect(&h, NAT_GW, 50001, 1, V4_CLIENT));
	CHECK(!harness_pinhole(&h, V4_CLIENT, 50001));
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(nat_expect(&h, NAT_GW, 50001, 1, V4_CLIENT));
	CHECK_INT(harness_pinholes(&h), 1);
	harness_send(&h, C, "PORT 198,51,100,2,195,82\r\n");
	CHECK(nat_expect(&h, NAT_GW, 50002, 1, V4_CLIENT));
	harness_send(&h, S, "500 no\r\n");
	CHECK(!harness_pinhole(&h, NAT_GW, 50002));
	CHECK(nat_expect(&h, NAT_GW, 50001, 1, V4_CLIENT));
	CHECK_INT(h.k.rewrites, 2);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 0);
	CHECK(h.k.verdicts == h.packet_id);
	harness_fini(&h);
}

/* Resized (IPv4, sequence adjusted) in command mode, many times. */
static void test_command_masq_resized(void)
{
	struct harness h;
	char port[64];
	int i, ok = 0;

	harness_init(&h, "10.1.1.2", V4_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	harness_login(&h);
	for (i = 0; i < 20; i++) {
		snprintf(port, sizeof(port), "PORT 10,1,1,2,196,%d\r\n", i);
		harness_send(&h, C, port);
		ok += h.k.rewrites == (unsigned)i + 1 &&
		      nat_expect(&h, NAT_GW, (uint16_t)(196 * 256 + i), 1, "10.1.1.2");
		masq_server_send(&h, "200 PORT command successful\r\n", 3 * (i + 1));
		ok += harness_pinholes(&h) == 1;
	}
	CHECK_INT(ok, 40);
	CHECK_INT(h.k.seqadj_diff, 3 * 20);
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	harness_fini(&h);
}

/* Another client's pinhole has G:q: the PORT is announced, and its
 * pinhole opened at the command, on the next free port, landing on q. */
static void test_command_masq_clash(void)
{
	struct flow other = { tcp_build_addr("198.51.100.9"), tcp_build_addr(V4_SERVER), 40000, 21 };
	struct flow taken = { tcp_build_addr(V4_SERVER), tcp_build_addr(NAT_GW), 0, 50001 };
	const struct expect_request *r;
	struct harness h;
	bool is_new;

	harness_init(&h, V4_CLIENT, V4_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	harness_login(&h);
	CHECK(pinhole_add(h.d.pinholes, &taken, &other, &is_new) != NULL);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == 26 &&
	      memcmp(h.k.rewritten, "PORT 203,0,113,1,195,082\r\n", 26) == 0);
	r = harness_expect(&h, NAT_GW, 50002);
	CHECK(r != NULL && r->nat.on && r->nat_dir == 1 && r->nat.port == 50001 &&
	      inet_addr_equal(&r->nat.address, &h.client));
	CHECK(harness_expect(&h, NAT_GW, 50001) == NULL);
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK(harness_expect(&h, NAT_GW, 50002) != NULL);
	harness_fini(&h);
}

/* The planned rewrite is not sent (the kernel refuses the verdict): the
 * server is told the client's own address, so the pinhole opened for the
 * public one is removed (not-rewritten) before the packet goes. */
static void test_command_masq_send_fails(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	harness_login(&h);
	h.k.rewrite_error = EIO;
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(harness_installs(&h), 1);
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(h.d.stats.pinholes_removed, 1);
	CHECK_INT(h.k.op_count > 0 ? h.k.op[h.k.op_count - 1].op : 0, 'R');
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	CHECK(h.k.verdicts == h.packet_id);
	/* the server's 200 opens nothing more, removes nothing */
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK_INT(harness_installs(&h), 1);
	CHECK_INT(h.d.stats.pinholes_removed, 1);
	/* the kernel takes verdicts again: the next PORT works */
	h.k.rewrite_error = 0;
	harness_send(&h, C, "PORT 198,51,100,2,195,82\r\n");
	CHECK(nat_expect(&h, NAT_GW, 50002, 1, V4_CLIENT));
	harness_fini(&h);
}

/* A line that cannot be rewritten (IPv6, a resize): decided before the
 * session, passed unchanged, and its pinhole at the command is the plain
 * one for what the server was told, as at the 200 in reply mode. */
static void test_command_masq_not_rewritable(void)
{
	struct harness h;

	harness_init(&h, V6_CLIENT, V6_SERVER, COMMAND, STARTED_LONG_AGO);
	harness_nat(&h, V6_SERVER, "2001:db8:2::100", 61000);
	harness_login(&h);
	harness_send(&h, C, "EPRT |2|2001:db8:1::2|50001|\r\n");
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	CHECK(harness_pinhole(&h, V6_CLIENT, 50001));
	CHECK(!harness_expect(&h, V6_CLIENT, 50001)->nat.on);
	CHECK_INT(harness_audit_count(&h, "not-rewritten"), 0);
	harness_send(&h, S, "200 EPRT command successful\r\n");
	CHECK(harness_pinhole(&h, V6_CLIENT, 50001));
	harness_fini(&h);
}

int main(void)
{
	test_passive_baseline();
	test_verdict_now();
	test_epsv_ipv6_baseline();
	test_active_baseline();
	test_nat_dnat_227();
	test_nat_dnat_clash();
	test_nat_masq_port();
	test_nat_masq_port_resized();
	test_nat_masq_port_retransmitted_inside();
	test_nat_masq_port_urgent();
	test_nat_masq_seqadj_missing();
	test_nat_masq_clash();
	test_nat_masq_third_party();
	test_nat_masq_eprt_v6();
	test_command_active();
	test_command_reply_mode();
	test_command_masq();
	test_command_masq_resized();
	test_command_masq_clash();
	test_command_masq_send_fails();
	test_command_masq_not_rewritable();
	test_nat_third_party();
	test_nat_server_section();
	test_nat_announce_address();
	test_nat_229();
	test_nat_active_dnat();
	test_nat_none();
	test_nat_227_split();
	test_nat_227_many();
	test_nat_227_retransmitted();
	test_nat_227_overlap_resized();
	test_rst_passive_attack();
	test_rst_passive_attack_ipv6();
	test_rst_active_attack();
	test_rst_exact_ends();
	test_pickup_strict_late();
	test_pickup_after_restart();
	test_pickup_first_line_cut();
	test_destroy_event_ends();
	test_expect_flush();
	test_polled_tuple_taken();
	test_destroy_other_tuple();
	test_destroy_stale_event();
	test_data_connection_passed();
	test_closing_not_picked_up();
	test_half_open_evicted();
	test_syn_twin();
	test_established_not_evicted();
	test_forged_direction();
	test_forged_direction_acked();
	test_forged_first_server_packet();
	test_one_armed();
	test_conflicting_retransmission();
	test_conflicting_held();
	test_identical_retransmission();
	return check_report("inspect");
}
