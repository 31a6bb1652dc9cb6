/* Every session action kind through the daemon's packet path (the fake
 * kernel of harness.c, the log kept by log_capture.c): its counter, its
 * exact log line and its exact audit line (timestamps masked). These pin
 * what the action table (src/daemon/action.c) must keep byte for byte. */
#include <errno.h>
#include <stdbool.h>

#include "check.h"
#include "harness.h"
#include "log_capture.h"
#include "tcp_build.h"

#define C HARNESS_CLIENT
#define S HARNESS_SERVER
#define V4_CLIENT "198.51.100.2"
#define V4_SERVER "203.0.113.2"
#define STARTED_LONG_AGO (3600u * 1000)
#define CONTROL "control 198.51.100.2:50000 -> 203.0.113.2:21"
#define AUDIT_CONTROL "\"control\":{\"client\":\"198.51.100.2\",\"client_port\":50000,\"server\":\"203.0.113.2\",\"server_port\":21,\"conntrack_id\":1000}"
#define AUDIT_OPENED "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-opened\",\"pinhole\":1,\"family\":\"ipv4\",\"protocol\":\"tcp\",\"mode\":\"passive\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"source\":\"198.51.100.2\",\"source_port\":null,\"destination\":\"203.0.113.2\",\"port\":50000,\"translated_destination\":null,\"translated_port\":null," AUDIT_CONTROL ",\"command\":\"PASV\",\"reply\":\"227 Entering Passive Mode (203,0,113,2,195,80)\",\"reply_code\":227,\"adopted\":false,\"timeout_s\":30,\"expires\":\"TIME\",\"refreshed\":false}"
#define PASV_REPLY "227 Entering Passive Mode (203,0,113,2,195,80)\r\n"

static char audit[4096];

/* Whether the log lines since the last check are exactly want[] (NULL
 * ended), in order; says what was logged if not. Then forgets them. */
static void check_log(const char *const *want, int at)
{
	unsigned i, n = 0;
	bool same = true;

	while (want[n])
		n++;
	if (log_capture_count() != n)
		same = false;
	for (i = 0; same && i < n; i++)
		same = strcmp(log_capture_line(i), want[i]) == 0;
	CHECK(same);
	if (!same) {
		fprintf(stderr, "  (line %d) wanted %u lines:\n", at, n);
		for (i = 0; i < n; i++)
			fprintf(stderr, "  want: %s\n", want[i]);
		for (i = 0; i < log_capture_count(); i++)
			fprintf(stderr, "  got:  %s\n", log_capture_line(i));
	}
	log_capture_reset();
}
#define CHECK_LOG(...) check_log((const char *const[]){ __VA_ARGS__, NULL }, __LINE__)

#define CHECK_AUDIT(h, event, want) \
	CHECK_STR(harness_audit_last(h, event, audit, sizeof(audit)), want)

static void start(struct harness *h, const char *config)
{
	harness_init(h, V4_CLIENT, V4_SERVER, config, STARTED_LONG_AGO);
	harness_login(h);
	log_capture_reset();
}

/* PINHOLE_OPEN installed, then PINHOLE_REMOVE at the transfer's end. */
static void test_open_and_remove(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	CHECK_INT(h.d.stats.pinholes_opened, 1);
	CHECK_LOG("notice: pinhole opened: 198.51.100.2 -> 203.0.113.2:50000 tcp, expires in 30s (reply 227 to \"PASV\"; " CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "pinhole-opened", AUDIT_OPENED);
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "150 here it comes\r\n");
	harness_send(&h, S, "226 done\r\n");
	CHECK_INT(h.d.stats.pinholes_removed, 1);
	CHECK_LOG("notice: pinhole removed (transfer-done): -> 203.0.113.2:50000 tcp: the transfer command finished (\"LIST\"; conntrack 1000)");
	harness_fini(&h);
}

/* Active mode: the data connection comes from the server. */
static void test_open_active(void)
{
	struct harness h;

	start(&h, "active-mode = on\n");
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	harness_send(&h, S, "200 PORT command successful\r\n");
	CHECK_INT(h.d.stats.pinholes_opened, 1);
	CHECK_LOG("notice: pinhole opened: 203.0.113.2 -> 198.51.100.2:50001 tcp (active mode), expires in 30s (reply 200 to \"PORT 198,51,100,2,195,81\"; " CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "pinhole-opened", "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-opened\",\"pinhole\":1,\"family\":\"ipv4\",\"protocol\":\"tcp\",\"mode\":\"active\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"source\":\"203.0.113.2\",\"source_port\":null,\"destination\":\"198.51.100.2\",\"port\":50001,\"translated_destination\":null,\"translated_port\":null," AUDIT_CONTROL ",\"command\":\"PORT 198,51,100,2,195,81\",\"reply\":\"200 PORT command successful\",\"reply_code\":200,\"adopted\":false,\"timeout_s\":30,\"expires\":\"TIME\",\"refreshed\":false}");
	harness_fini(&h);
}

/* active-open = command: opened at the PORT (no reply yet), removed at
 * the server's refusal; a policy refusal at the command names no reply. */
static void test_open_active_command(void)
{
	struct harness h;

	start(&h, "active-mode = on\nactive-open = command\n");
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.d.stats.pinholes_opened, 1);
	CHECK_LOG("notice: pinhole opened: 203.0.113.2 -> 198.51.100.2:50001 tcp (active mode), expires in 30s (at the command \"PORT 198,51,100,2,195,81\"; " CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "pinhole-opened", "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-opened\",\"pinhole\":1,\"family\":\"ipv4\",\"protocol\":\"tcp\",\"mode\":\"active\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"source\":\"203.0.113.2\",\"source_port\":null,\"destination\":\"198.51.100.2\",\"port\":50001,\"translated_destination\":null,\"translated_port\":null," AUDIT_CONTROL ",\"command\":\"PORT 198,51,100,2,195,81\",\"reply\":null,\"reply_code\":null,\"adopted\":false,\"timeout_s\":30,\"expires\":\"TIME\",\"refreshed\":false}");
	harness_send(&h, S, "500 Illegal PORT command.\r\n");
	CHECK_INT(h.d.stats.pinholes_removed, 1);
	CHECK_LOG("notice: pinhole removed (refused-by-server): -> 198.51.100.2:50001 tcp (active mode): the server did not accept the command that opened it (\"PORT 198,51,100,2,195,81\"; conntrack 1000)");
	harness_send(&h, C, "PORT 198,51,100,2,0,22\r\n");
	CHECK_LOG("notice: pinhole refused (privileged-port): The announced port is below 1024.; announced 198.51.100.2:22 in \"PORT 198,51,100,2,0,22\" (" CONTROL ", conntrack 1000)");
	harness_fini(&h);
}

/* PINHOLE_OPEN the kernel refused: another master's expectation holds
 * the tuple. */
static void test_open_failed(void)
{
	struct harness h;
	struct fake_expect *x;

	start(&h, NULL);
	x = &h.k.expect[h.k.expect_count++];
	x->live = true;
	x->id = 77;
	x->r.expect = (struct flow){ h.client, h.server, 0, 50000 };
	x->r.master = (struct flow){ h.client, h.server, 40000, 21 };
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	CHECK_INT(h.d.stats.pinholes_failed, 1);
	CHECK_INT(h.d.stats.pinholes_opened, 0);
	CHECK_LOG("warning: pinhole not installed: 198.51.100.2 -> 203.0.113.2:50000 (" CONTROL "): clashes with another expectation");
	CHECK_AUDIT(&h, "pinhole-failed", "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-failed\",\"family\":\"ipv4\",\"protocol\":\"tcp\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"source\":\"198.51.100.2\",\"source_port\":null,\"destination\":\"203.0.113.2\",\"port\":50000," AUDIT_CONTROL ",\"command\":\"PASV\",\"reply\":\"227 Entering Passive Mode (203,0,113,2,195,80)\",\"reply_code\":227,\"error\":\"clashes with another expectation\"}");
	harness_fini(&h);
}

/* PINHOLE_OPEN at the per-client cap becomes PINHOLE_REFUSED in its
 * kernel step: no install, and it is counted, logged and audited as a
 * refusal. */
static void test_open_client_capped(void)
{
	struct harness h;

	struct flow expect, master;
	bool is_new;

	start(&h, "max-pinholes-per-client = 1\n");
	/* the client's pinhole on another control connection */
	expect = (struct flow){ h.client, h.server, 0, 50005 };
	master = (struct flow){ h.client, h.server, 40000, 21 };
	CHECK(pinhole_add(h.d.pinholes, &expect, &master, &is_new) != NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(h.k.verdicts_now, 0);	/* nothing opened: batched */
	CHECK_INT(h.d.stats.refused[POLICY_REFUSE_CLIENT_CAP], 1);
	CHECK_LOG("notice: pinhole refused (client-pinhole-cap): The client address already has max-pinholes-per-client pinholes open over all its control connections.; announced 203.0.113.2:50000 in \"227 Entering Passive Mode (203,0,113,2,195,80)\": 1 pinholes open (" CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "pinhole-refused", "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-refused\",\"reason\":\"client-pinhole-cap\",\"reason_text\":\"The client address already has max-pinholes-per-client pinholes open over all its control connections.\",\"mode\":\"passive\",\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"announced\":\"203.0.113.2\",\"port\":50000," AUDIT_CONTROL ",\"command\":\"PASV\",\"reply\":\"227 Entering Passive Mode (203,0,113,2,195,80)\",\"reply_code\":227,\"detail\":\"1 pinholes open\"}");
	harness_fini(&h);
}

/* PINHOLE_REMOVE of a pinhole already used (-ENOENT), and one the kernel
 * would not remove. */
static void test_remove_gone_and_refused(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	h.k.expect[0].live = false;
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "226 done\r\n");
	CHECK_INT(h.d.stats.pinholes_removed, 0);
	CHECK_LOG("notice: pinhole opened: 198.51.100.2 -> 203.0.113.2:50000 tcp, expires in 30s (reply 227 to \"PASV\"; " CONTROL ", conntrack 1000)",
		  "debug: pinhole to 203.0.113.2:50000 already gone (transfer-done; conntrack 1000)");
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	h.k.expect[1].r.master.sport = 40000;
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "226 done\r\n");
	CHECK_INT(h.d.stats.pinholes_removed, 0);
	CHECK_LOG("notice: pinhole opened: 198.51.100.2 -> 203.0.113.2:50000 tcp, expires in 30s (reply 227 to \"PASV\"; " CONTROL ", conntrack 1000)",
		  "warning: pinhole to 203.0.113.2:50000 not removed (transfer-done): Device or resource busy");
	harness_fini(&h);
}

/* PINHOLE_REFUSED: a port below 1024. */
static void test_refused(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, "227 Entering Passive Mode (203,0,113,2,0,22)\r\n");
	CHECK_INT(stats_refused_total(&h.d.stats), 1);
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_LOG("notice: pinhole refused (privileged-port): The announced port is below 1024.; announced 203.0.113.2:22 in \"227 Entering Passive Mode (203,0,113,2,0,22)\" (" CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "pinhole-refused", "{\"v\":1,\"time\":\"TIME\",\"event\":\"pinhole-refused\",\"reason\":\"privileged-port\",\"reason_text\":\"The announced port is below 1024.\",\"mode\":\"passive\",\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"announced\":\"203.0.113.2\",\"port\":22," AUDIT_CONTROL ",\"command\":\"PASV\",\"reply\":\"227 Entering Passive Mode (203,0,113,2,0,22)\",\"reply_code\":227,\"detail\":null}");
	harness_fini(&h);
}

/* LINE_REJECTED: a NUL in a command. */
static void test_line_rejected(void)
{
	struct harness h;

	start(&h, NULL);
	harness_segment(&h, C, TCP_BUILD_ACK | TCP_BUILD_PSH, h.next_seq[C],
			h.next_seq[S], "NOOP\0x\r\n", 8, h.ifindex[C]);
	h.next_seq[C] += 8;
	CHECK_INT(h.d.stats.lines_rejected_rule[SESSION_RULE_NUL], 1);
	CHECK_LOG("info: line rejected from client (nul-byte): NUL byte in command (" CONTROL ")");
	CHECK_AUDIT(&h, "line-rejected", "{\"v\":1,\"time\":\"TIME\",\"event\":\"line-rejected\",\"rule\":\"nul-byte\",\"attack\":false,\"from\":\"client\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\"," AUDIT_CONTROL ",\"line\":\"NOOP?x\",\"detail\":\"NUL byte in command\"}");
	harness_fini(&h);
}

/* ENCRYPTED: AUTH TLS answered 234 (no grants in the harness). */
static void test_encrypted(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "AUTH TLS\r\n");
	harness_send(&h, S, "234 AUTH TLS OK\r\n");
	CHECK_INT(h.d.stats.sessions_encrypted, 1);
	CHECK_LOG("notice: control channel encrypted; ftpgate cannot open data pinholes for it (\"AUTH TLS\" answered \"234 AUTH TLS OK\"; " CONTROL ", conntrack 1000)");
	CHECK_AUDIT(&h, "session-encrypted", "{\"v\":1,\"time\":\"TIME\",\"event\":\"session-encrypted\",\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\"," AUDIT_CONTROL ",\"reason\":\"auth-tls\",\"detail\":\"control channel encrypted; ftpgate cannot open data pinholes for it\"}");
	harness_fini(&h);
}

/* STREAM_LOST: a retransmission that differs from the bytes held. */
static void test_stream_lost(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_forge(&h, S, "227 Entering Passive Mode (203,0,113,2,195,", h.ifindex[S]);
	harness_forge(&h, S, "227 Entering Passive Mode (203,0,113,2,12,234)\r\n", h.ifindex[S]);
	CHECK_INT(h.d.stats.streams_lost, 1);
	CHECK_LOG("warning: stopped tracking control connection 198.51.100.2:50000 -> 203.0.113.2:21: reply stream: retransmitted bytes differ from the copy ftpgated holds (forged segment?); its traffic still passes but it gets no pinholes");
	CHECK_AUDIT(&h, "session-lost", "{\"v\":1,\"time\":\"TIME\",\"event\":\"session-lost\",\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\"," AUDIT_CONTROL ",\"reason\":\"bounds\",\"detail\":\"reply stream: retransmitted bytes differ from the copy ftpgated holds (forged segment?)\"}");
	harness_fini(&h);
}

/* STREAM_RESYNC: the server acknowledges client bytes never seen. */
static void test_stream_resync(void)
{
	struct harness h;

	start(&h, NULL);
	h.next_seq[C] += 10;
	harness_send(&h, S, "200 ok\r\n");
	CHECK_INT(h.d.stats.streams_resynchronized, 1);
	CHECK_LOG("warning: control connection 198.51.100.2:50000 -> 203.0.113.2:21 (conntrack 1000): 10 bytes of the command stream passed uninspected; resynchronized at the next line; outstanding commands forgotten, announcements in the skipped bytes get no pinhole; packets passed uninspected because ftpgated was too slow or down (see queue_overruns_total; a full queue, queue-max-packets, is counted nowhere)");
	CHECK_AUDIT(&h, "stream-resynchronized", "{\"v\":1,\"time\":\"TIME\",\"event\":\"stream-resynchronized\",\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\"," AUDIT_CONTROL ",\"from\":\"client\",\"skipped_bytes\":10,\"detail\":\"10 bytes of the command stream passed uninspected; resynchronized at the next line\"}");
	harness_fini(&h);
}

/* DATA_TROUBLE: 425 to a LIST. */
static void test_data_trouble(void)
{
	struct harness h;

	start(&h, NULL);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REPLY);
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "425 Can't open data connection.\r\n");
	CHECK_INT(h.d.stats.data_trouble[stats_trouble_index(425)], 1);
	CHECK_LOG("notice: pinhole opened: 198.51.100.2 -> 203.0.113.2:50000 tcp, expires in 30s (reply 227 to \"PASV\"; " CONTROL ", conntrack 1000)",
		  "notice: server reports data-connection trouble: \"425 Can't open data connection.\" to \"LIST\" (" CONTROL ", conntrack 1000)",
		  "notice: pinhole removed (transfer-done): -> 203.0.113.2:50000 tcp: the transfer command finished (\"LIST\"; conntrack 1000)");
	CHECK_AUDIT(&h, "data-trouble", "{\"v\":1,\"time\":\"TIME\",\"event\":\"data-trouble\",\"code\":425,\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\"," AUDIT_CONTROL ",\"reply\":\"425 Can't open data connection.\",\"command\":\"LIST\"}");
	harness_fini(&h);
}

int main(void)
{
	test_open_and_remove();
	test_open_active();
	test_open_active_command();
	test_open_failed();
	test_open_client_capped();
	test_remove_gone_and_refused();
	test_refused();
	test_line_rejected();
	test_encrypted();
	test_stream_lost();
	test_stream_resync();
	test_data_trouble();
	return check_report("action");
}
