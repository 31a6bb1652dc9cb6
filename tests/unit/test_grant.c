/* Unit tests for grant (the decision on an encrypted control connection,
 * the registry of live grants, their nftables elements) and the session's
 * detection of TLS from the client's first bytes (issue 15). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "ctl.h"
#include "grant.h"
#include "report.h"
#include "session.h"

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_addr_parse(s, &a) != 0)
		abort();
	return a;
}

/* A policy with three servers: .2 with its own range of 100 ports under
 * client-range, .3 under client-range without passive-ports, .4 with a
 * range of 2000 ports under client-range, .5 opaque with a range. */
static struct policy_server servers[4];

static void policy_setup(struct policy *p)
{
	policy_init_defaults(p);
	memset(servers, 0, sizeof(servers));
	servers[0].addr = addr("203.0.113.2");
	servers[0].passive_range = (struct policy_port_range){ 40000, 40099 };
	servers[0].tls = POLICY_TLS_CLIENT_RANGE;
	servers[1].addr = addr("203.0.113.3");
	servers[1].tls = POLICY_TLS_CLIENT_RANGE;
	servers[2].addr = addr("203.0.113.4");
	servers[2].passive_range = (struct policy_port_range){ 40000, 41999 };
	servers[2].tls = POLICY_TLS_CLIENT_RANGE;
	servers[3].addr = addr("203.0.113.5");
	servers[3].passive_range = (struct policy_port_range){ 40000, 40099 };
	p->servers = servers;
	p->server_count = 4;
}

static void test_decide(void)
{
	struct policy p;
	struct policy_port_range r = { 0, 0 };
	struct inet_addr s2 = addr("203.0.113.2"), s3 = addr("203.0.113.3");
	struct inet_addr s4 = addr("203.0.113.4"), s5 = addr("203.0.113.5");
	struct inet_addr other = addr("203.0.113.9");

	policy_setup(&p);
	CHECK_INT(grant_decide(&p, &s2, 0, &r), GRANT_ALLOW);
	CHECK_INT(r.low, 40000);
	CHECK_INT(r.high, 40099);
	CHECK_INT(grant_decide(&p, &s2, 3, &r), GRANT_ALLOW);
	CHECK_INT(grant_decide(&p, &s2, 4, &r), GRANT_REFUSE_CLIENT_CAP);
	/* no passive-ports of its own: the global 1024-65535 is never granted */
	CHECK_INT(grant_decide(&p, &s3, 0, &r), GRANT_REFUSE_NO_RANGE);
	CHECK_INT(grant_decide(&p, &s4, 0, &r), GRANT_REFUSE_RANGE_SIZE);
	p.grant_max_ports = 2000;
	CHECK_INT(grant_decide(&p, &s4, 0, &r), GRANT_ALLOW);
	p.grant_max_ports = 1999;
	CHECK_INT(grant_decide(&p, &s4, 0, &r), GRANT_REFUSE_RANGE_SIZE);
	/* opaque (the default) behaves as before: nothing */
	CHECK_INT(grant_decide(&p, &s5, 0, &r), GRANT_OPAQUE);
	CHECK_INT(grant_decide(&p, &other, 0, &r), GRANT_OPAQUE);
	/* the global client-range reaches servers without their own
	 * setting, but only with their own range */
	p.tls = POLICY_TLS_CLIENT_RANGE;
	CHECK_INT(grant_decide(&p, &s5, 0, &r), GRANT_ALLOW);
	CHECK_INT(grant_decide(&p, &other, 0, &r), GRANT_REFUSE_NO_RANGE);
	servers[3].tls = POLICY_TLS_OPAQUE;
	CHECK_INT(grant_decide(&p, &s5, 0, &r), GRANT_OPAQUE);
	CHECK_STR(grant_reason_name(GRANT_REFUSE_RANGE_SIZE), "range-too-large");
	CHECK_STR(grant_reason_name(GRANT_REFUSE_NO_RANGE), "no-passive-range");
	CHECK_STR(grant_reason_name(GRANT_REFUSE_CLIENT_CAP), "client-grant-cap");
	CHECK_STR(grant_close_name(GRANT_CLOSE_LIFETIME), "lifetime");
	CHECK_STR(grant_reason_name(GRANT_REASON_COUNT), "unknown");
}

static struct grant grant_of(const char *client, const char *server,
			     uint32_t ct, uint64_t expiry)
{
	struct grant g;

	memset(&g, 0, sizeof(g));
	g.client = addr(client);
	g.server = addr(server);
	g.conntrack_id = ct;
	g.range = (struct policy_port_range){ 40000, 40099 };
	g.expiry_ms = expiry;
	return g;
}

static void test_table(void)
{
	struct grant_table *t = grant_table_new(3);
	struct grant a = grant_of("198.51.100.2", "203.0.113.2", 11, 5000);
	struct grant b = grant_of("198.51.100.2", "203.0.113.2", 12, 9000);
	struct grant c = grant_of("198.51.100.3", "203.0.113.2", 13, 7000);
	struct grant *ra, *rb, *rc;
	struct inet_addr c2 = addr("198.51.100.2"), c3 = addr("198.51.100.3");
	struct inet_addr s2 = addr("203.0.113.2"), s9 = addr("203.0.113.9");

	CHECK(t != NULL);
	ra = grant_table_add(t, &a);
	rb = grant_table_add(t, &b);
	rc = grant_table_add(t, &c);
	CHECK(ra && rb && rc);
	CHECK(ra->id != rb->id && rb->id != rc->id);
	CHECK(grant_table_add(t, &a) == NULL);		/* full */
	CHECK_INT(grant_table_count(t), 3);
	CHECK_INT(grant_table_client_count(t, &c2), 2);
	CHECK_INT(grant_table_client_count(t, &c3), 1);
	/* two control connections of one client to one server share an
	 * element */
	CHECK_INT(grant_table_same_elem(t, &a), 2);
	CHECK_INT(grant_table_same_elem(t, &c), 1);
	CHECK(grant_table_find_session(t, 12) == rb);
	CHECK(grant_table_find_session(t, 99) == NULL);
	/* data connections: the client, to the server, into the range */
	CHECK(grant_table_match(t, &c3, &s2, 40050) == rc);
	CHECK(grant_table_match(t, &c2, &s2, 40050) == rb);	/* the newer */
	CHECK(grant_table_match(t, &c3, &s2, 40100) == NULL);
	CHECK(grant_table_match(t, &c3, &s2, 39999) == NULL);
	CHECK(grant_table_match(t, &c3, &s9, 40050) == NULL);
	CHECK(grant_table_match(t, &s2, &c3, 40050) == NULL);
	/* expiry: earliest first, none before its time */
	CHECK(grant_table_expired(t, 4999) == NULL);
	CHECK(grant_table_expired(t, 8000) == ra);
	grant_table_remove(t, ra);
	CHECK_INT(grant_table_count(t), 2);
	CHECK_INT(grant_table_same_elem(t, &a), 1);
	CHECK(grant_table_find_session(t, 11) == NULL);
	CHECK(grant_table_find_session(t, 13) != NULL);
	CHECK(grant_table_expired(t, 8000) != NULL);
	CHECK_INT(grant_table_expired(t, 8000)->conntrack_id, 13);
	grant_table_free(t);
}

/* The element as nft 1.0.6 sends "198.51.100.2 . 203.0.113.2 .
 * 40000-40099" to an ipv4_addr . ipv4_addr . inet_service interval set. */
static void test_elem(void)
{
	static const uint8_t key[12] = { 198, 51, 100, 2, 203, 0, 113, 2, 0x9c, 0x40, 0, 0 };
	static const uint8_t end[12] = { 198, 51, 100, 2, 203, 0, 113, 2, 0x9c, 0xa3, 0, 0 };
	struct grant g = grant_of("198.51.100.2", "203.0.113.2", 1, 0);
	struct grant g6 = grant_of("2001:db8:1::2", "2001:db8:2::2", 2, 0);
	struct grant mixed = grant_of("198.51.100.2", "2001:db8:2::2", 3, 0);
	struct nftelem e;
	char text[128];

	CHECK_INT(grant_elem(&g, 86400000, &e), 0);
	CHECK_INT(e.len, 12);
	CHECK(e.interval);
	CHECK(memcmp(e.key, key, 12) == 0);
	CHECK(memcmp(e.key_end, end, 12) == 0);
	CHECK_INT(e.timeout_ms, 86400000);
	CHECK_INT(grant_elem(&g6, 0, &e), 0);
	CHECK_INT(e.len, 36);
	CHECK_INT(grant_elem(&mixed, 0, &e), -EINVAL);
	CHECK_STR(grant_format(&g, text, sizeof(text)), "198.51.100.2 . 203.0.113.2 . 40000-40099");
}

/* TLS from the client's first bytes (RFC 8446 5.1). */
static void test_tls_record(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00 };
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x40, 0xab };
	static const uint8_t user[] = "USER anonymous\r\n";
	static const uint8_t bad_version[] = { 0x16, 0x02, 0x01, 0x02, 0x00, 0x01 };
	static const uint8_t huge[] = { 0x17, 0x03, 0x03, 0x48, 0x01, 0x00 };
	static const uint8_t empty_len[] = { 0x17, 0x03, 0x03, 0x00, 0x00, 0x00 };

	CHECK(session_tls_record(hello, sizeof(hello), true));
	CHECK(session_tls_record(hello, sizeof(hello), false));
	CHECK(!session_tls_record(appdata, sizeof(appdata), true));
	CHECK(session_tls_record(appdata, sizeof(appdata), false));
	CHECK(!session_tls_record(user, sizeof(user) - 1, false));
	CHECK(!session_tls_record(bad_version, sizeof(bad_version), false));
	CHECK(!session_tls_record(huge, sizeof(huge), false));
	CHECK(!session_tls_record(empty_len, sizeof(empty_len), false));
	CHECK(!session_tls_record(hello, 5, false));
	CHECK(!session_tls_record(NULL, 6, false));
	CHECK_STR(session_tls_start_name(SESSION_TLS_IMPLICIT), "implicit-tls");
	CHECK_STR(session_tls_start_name(SESSION_TLS_AUTH), "auth-tls");
}

static void feed(struct session *s, const struct policy *p, enum session_direction dir,
		 uint32_t seq, bool syn, const uint8_t *data, size_t len,
		 struct session_actions *out)
{
	struct packet_info pkt;

	memset(&pkt, 0, sizeof(pkt));
	memset(out, 0, sizeof(*out));
	pkt.seq = seq;
	pkt.syn = syn;
	pkt.ack_flag = !syn;
	pkt.payload = data;
	pkt.payload_len = len;
	session_packet(s, p, dir, &pkt, 1000, out);
}

/* Implicit FTPS: after the SYN the client's first bytes are a ClientHello:
 * encrypted at once (no "before the greeting" rejection); a client that
 * says USER first stays plain; a session picked up mid-stream whose first
 * client bytes are a TLS record is encrypted too. */
static void test_session_tls(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01 };
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x40, 0xab, 0xcd };
	static const uint8_t greeting[] = "220 hi\r\n";
	static const uint8_t user[] = "USER a\r\n";
	struct inet_addr c = addr("198.51.100.2"), sv = addr("203.0.113.2");
	struct session_actions out;
	struct policy p;
	struct session s;

	policy_init_defaults(&p);
	session_init(&s, &c, 40000, &sv, 990, NULL);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 100, true, NULL, 0, &out);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 101, false, hello, sizeof(hello), &out);
	CHECK(s.encrypted);
	CHECK_INT(out.count, 1);
	CHECK_INT(out.item[0].kind, SESSION_ACTION_ENCRYPTED);
	CHECK_INT(out.item[0].tls_start, SESSION_TLS_IMPLICIT);
	session_free(&s);

	/* plain FTP: greeting, then USER; a later "TLS-looking" packet is
	 * not the first client bytes and changes nothing */
	session_init(&s, &c, 40001, &sv, 21, NULL);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 100, true, NULL, 0, &out);
	feed(&s, &p, SESSION_DIR_REPLY, 500, true, NULL, 0, &out);
	feed(&s, &p, SESSION_DIR_REPLY, 501, false, greeting, sizeof(greeting) - 1, &out);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 101, false, user, sizeof(user) - 1, &out);
	CHECK(!s.encrypted);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 101 + sizeof(user) - 1, false, hello, sizeof(hello), &out);
	CHECK(!s.encrypted);
	session_free(&s);

	/* picked up mid-stream: any TLS record from the client */
	session_init(&s, &c, 40002, &sv, 21, NULL);
	session_picked_up(&s, true);
	session_stream_unseen(&s, SESSION_DIR_ORIGINAL);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 7777, false, appdata, sizeof(appdata), &out);
	CHECK(s.encrypted);
	CHECK_INT(out.count, 1);
	CHECK_INT(out.item[0].tls_start, SESSION_TLS_PICKED_UP);
	session_free(&s);

	/* ... but a ClientHello is needed from a stream seen from its SYN */
	session_init(&s, &c, 40003, &sv, 990, NULL);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 100, true, NULL, 0, &out);
	feed(&s, &p, SESSION_DIR_ORIGINAL, 101, false, appdata, sizeof(appdata), &out);
	CHECK(!s.encrypted);
	session_free(&s);
}

/* ftpgatectl grants: the request, the table and the JSON. */
static void test_report(void)
{
	struct grant g = grant_of("198.51.100.2", "203.0.113.2", 77, 61000);
	struct ctl_request req;
	struct strbuf b;
	const char *why = NULL;

	CHECK_INT(ctl_request_parse("grants --json\n", 14, &req, &why), 0);
	CHECK_INT(req.command, CTL_GRANTS);
	CHECK(req.json);
	g.id = 3;
	g.client_port = 45001;
	g.server_port = 21;
	g.opened_ms = 1000;
	g.data_connections = 2;
	strbuf_init(&b, 1 << 16);
	report_grants(&g, 1, true, 1000, 0, &b);
	CHECK(strstr(strbuf_str(&b), "\"count\":1,\"grants\":[{\"grant_id\":3,\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\",\"ports\":\"40000-40099\"") != NULL);
	CHECK(strstr(strbuf_str(&b), "\"lifetime_ends\":\"1970-01-01T00:01:00.000Z\",\"data_connections\":2,\"control\":{\"client\":\"198.51.100.2\",\"client_port\":45001") != NULL);
	strbuf_free(&b);
	strbuf_init(&b, 1 << 16);
	report_grants(&g, 1, false, 1000, 0, &b);
	CHECK(strstr(strbuf_str(&b), "CLIENT") != NULL);
	CHECK(strstr(strbuf_str(&b), "40000-40099") != NULL);
	CHECK(strstr(strbuf_str(&b), "198.51.100.2:45001 (conntrack 77)") != NULL);
	CHECK(strstr(strbuf_str(&b), "1 grant: each admits") != NULL);
	strbuf_free(&b);
	strbuf_init(&b, 1 << 16);
	report_grants(NULL, 0, false, 0, 0, &b);
	CHECK(strncmp(strbuf_str(&b), "no grants", 9) == 0);
	strbuf_free(&b);
}

int main(void)
{
	test_report();
	test_decide();
	test_table();
	test_elem();
	test_tls_record();
	test_session_tls();
	return check_report("grant");
}
