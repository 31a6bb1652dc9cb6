/* Unit tests for policy: defaults, the order of the checks, per-server
 * settings, and the audit names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "policy.h"

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_addr_parse(s, &a) != 0) {
		fprintf(stderr, "bad test address %s\n", s);
		abort();
	}
	return a;
}

static void test_inet_addr(void)
{
	struct inet_addr a, b, unset;
	char buf[INET_ADDR_STRLEN], small[4];

	memset(&unset, 0, sizeof(unset));
	CHECK_INT(inet_addr_parse("10.0.0.1", &a), 0);
	CHECK_INT(a.family, AF_INET);
	CHECK_INT(inet_addr_parse("2001:DB8::1", &b), 0);
	CHECK_INT(b.family, AF_INET6);
	CHECK_STR(inet_addr_format(&b, buf, sizeof(buf)), "2001:db8::1");
	CHECK_STR(inet_addr_format(&a, buf, sizeof(buf)), "10.0.0.1");
	CHECK_STR(inet_addr_format(&unset, buf, sizeof(buf)), "-");
	CHECK_STR(inet_addr_format(&a, small, sizeof(small)), "?");
	a.family = 12345;
	CHECK_STR(inet_addr_format(&a, buf, sizeof(buf)), "?");

	b.family = 77;
	CHECK_INT(inet_addr_parse("", &b), -EINVAL);
	CHECK_INT(inet_addr_parse(" 10.0.0.1", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("10.0.0.1 ", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("10.0.0", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("10.0.0.256", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("010.0.0.1", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("ftp.example.org", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("fe80::1%eth0", &b), -EINVAL);
	CHECK_INT(inet_addr_parse("[::1]", &b), -EINVAL);
	CHECK_INT(inet_addr_parse(NULL, &b), -EINVAL);
	CHECK_INT(b.family, 77);		/* untouched on error */

	CHECK(inet_addr_equal(&unset, &unset));
	a = addr("10.0.0.1");
	b = addr("10.0.0.1");
	CHECK(inet_addr_equal(&a, &b));
	b = addr("10.0.0.2");
	CHECK(!inet_addr_equal(&a, &b));
	CHECK(!inet_addr_equal(&a, &unset));
	b = addr("::ffff:10.0.0.1");
	CHECK(!inet_addr_equal(&a, &b));
	a = addr("2001:db8::1");
	b = addr("2001:db8:0:0:0:0:0:1");
	CHECK(inet_addr_equal(&a, &b));
	CHECK(!inet_addr_equal(&a, NULL));
}

static void test_defaults(void)
{
	struct policy p;

	memset(&p, 0xa5, sizeof(p));
	policy_init_defaults(&p);
	CHECK_INT(p.passive_range.low, 1024);
	CHECK_INT(p.passive_range.high, 65535);
	CHECK_INT(p.max_pinholes_per_session, 8);
	CHECK_INT(p.expect_timeout_s, 30);
	CHECK(!p.active_mode);
	CHECK_INT(p.active_client_range.low, 1024);
	CHECK_INT(p.active_client_range.high, 65535);
	CHECK_INT(p.active_source_port, POLICY_SOURCE_PORT_ANY);
	CHECK(p.strict);
	CHECK(p.servers == NULL);
	CHECK_INT(p.server_count, 0);
	policy_free(&p);
	policy_free(&p);		/* twice is harmless */
	policy_free(NULL);
}

static void test_check_order(void)
{
	struct policy p;
	struct inet_addr srv = addr("192.0.2.10");
	struct inet_addr other = addr("192.0.2.99");
	struct inet_addr srv6 = addr("2001:db8::10");

	policy_init_defaults(&p);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 1024, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 65535, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv6, &srv6, 50000, 7), POLICY_ALLOW);

	/* family first, even if everything else is also wrong */
	CHECK_INT(policy_check_passive(&p, &srv, &srv6, 21, 100), POLICY_REFUSE_FAMILY);
	CHECK_INT(policy_check_passive(&p, &srv6, &srv, 50000, 0), POLICY_REFUSE_FAMILY);
	/* then third party */
	CHECK_INT(policy_check_passive(&p, &srv, &other, 21, 100), POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(policy_check_passive(&p, &srv, &other, 50000, 0), POLICY_REFUSE_THIRD_PARTY);
	/* then privileged */
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 1023, 100), POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 21, 0), POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 0, 0), POLICY_REFUSE_PRIVILEGED_PORT);
	/* then range */
	p.passive_range.low = 50000;
	p.passive_range.high = 50100;
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 49999, 100), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50101, 0), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50100, 0), POLICY_ALLOW);
	/* privileged wins even if a (bad) range covers it */
	p.passive_range.low = 1;
	p.passive_range.high = 65535;
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 21, 0), POLICY_REFUSE_PRIVILEGED_PORT);
	/* then the cap */
	policy_init_defaults(&p);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 7), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 8), POLICY_REFUSE_SESSION_CAP);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 1000), POLICY_REFUSE_SESSION_CAP);
	p.max_pinholes_per_session = 1;
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 1), POLICY_REFUSE_SESSION_CAP);

	/* nothing to go on: fail closed */
	CHECK_INT(policy_check_passive(NULL, &srv, &srv, 50000, 0), POLICY_REFUSE_MALFORMED);
	CHECK_INT(policy_check_passive(&p, NULL, &srv, 50000, 0), POLICY_REFUSE_MALFORMED);
	CHECK_INT(policy_check_passive(&p, &srv, NULL, 50000, 0), POLICY_REFUSE_MALFORMED);
	{
		struct inet_addr unset;

		memset(&unset, 0, sizeof(unset));
		CHECK_INT(policy_check_passive(&p, &unset, &unset, 50000, 0),
			  POLICY_REFUSE_MALFORMED);
		CHECK_INT(policy_check_passive(&p, &srv, &unset, 50000, 0),
			  POLICY_REFUSE_FAMILY);
	}
	policy_free(&p);
}

static void test_servers(void)
{
	struct policy p;
	struct inet_addr a = addr("192.0.2.10");	/* own range + announce */
	struct inet_addr b = addr("192.0.2.20");	/* announce only */
	struct inet_addr c = addr("192.0.2.30");	/* no entry */
	struct inet_addr pub = addr("203.0.113.5");
	struct inet_addr pub2 = addr("203.0.113.6");
	struct inet_addr v6 = addr("2001:db8::10");
	struct inet_addr v6b = addr("2001:db8::11");

	policy_init_defaults(&p);
	p.passive_range.low = 40000;
	p.passive_range.high = 40999;
	p.servers = calloc(3, sizeof(*p.servers));
	if (p.servers == NULL)
		abort();
	p.server_count = 3;
	p.servers[0].addr = a;
	p.servers[0].passive_range.low = 50000;
	p.servers[0].passive_range.high = 50010;
	p.servers[0].announce[0] = pub;
	p.servers[0].announce_count = 1;
	p.servers[1].addr = b;
	p.servers[1].announce[0] = pub2;
	p.servers[1].announce[1] = pub;
	p.servers[1].announce_count = 2;
	p.servers[2].addr = v6;
	p.servers[2].announce[0] = v6b;
	p.servers[2].announce_count = 1;

	CHECK(policy_server_find(&p, &a) == &p.servers[0]);
	CHECK(policy_server_find(&p, &b) == &p.servers[1]);
	CHECK(policy_server_find(&p, &v6) == &p.servers[2]);
	CHECK(policy_server_find(&p, &c) == NULL);
	CHECK(policy_server_find(&p, &pub) == NULL);
	CHECK(policy_server_find(&p, NULL) == NULL);
	CHECK(policy_server_find(NULL, &a) == NULL);

	/* server a: own range, announce pub allowed, pub2 not */
	CHECK_INT(policy_check_passive(&p, &a, &a, 50005, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &a, &pub, 50005, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &a, &pub2, 50005, 0), POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(policy_check_passive(&p, &a, &b, 50005, 0), POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(policy_check_passive(&p, &a, &a, 40500, 0), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_passive(&p, &a, &pub, 50011, 0), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_passive(&p, &a, &pub, 1000, 0), POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(policy_check_passive(&p, &a, &pub, 50000, 8), POLICY_REFUSE_SESSION_CAP);
	/* server b: no own range, global one applies */
	CHECK_INT(policy_check_passive(&p, &b, &pub2, 40000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &b, &pub, 40999, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &b, &pub, 50005, 0), POLICY_REFUSE_PORT_RANGE);
	/* an announce address of one server is no pass for another */
	CHECK_INT(policy_check_passive(&p, &c, &pub, 40000, 0), POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(policy_check_passive(&p, &c, &c, 40000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &c, &c, 39999, 0), POLICY_REFUSE_PORT_RANGE);
	/* v6 */
	CHECK_INT(policy_check_passive(&p, &v6, &v6b, 40000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &v6, &pub, 40000, 0), POLICY_REFUSE_FAMILY);
	/* announce_count beyond the array is not trusted */
	p.servers[0].announce_count = 1000;
	CHECK_INT(policy_check_passive(&p, &a, &pub, 50005, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &a, &pub2, 50005, 0), POLICY_REFUSE_THIRD_PARTY);

	policy_free(&p);
	CHECK(p.servers == NULL);
	CHECK_INT(p.server_count, 0);
	CHECK(policy_server_find(&p, &a) == NULL);
}

static void test_names(void)
{
	static const char *const want[POLICY_REASON_COUNT] = {
		[POLICY_ALLOW] = "allowed",
		[POLICY_REFUSE_UNSOLICITED] = "unsolicited-reply",
		[POLICY_REFUSE_THIRD_PARTY] = "third-party-address",
		[POLICY_REFUSE_FAMILY] = "address-family-mismatch",
		[POLICY_REFUSE_PRIVILEGED_PORT] = "privileged-port",
		[POLICY_REFUSE_PORT_RANGE] = "port-out-of-range",
		[POLICY_REFUSE_SESSION_CAP] = "session-pinhole-cap",
		[POLICY_REFUSE_MALFORMED] = "malformed-reply",
		[POLICY_REFUSE_ACTIVE_DISABLED] = "active-mode-disabled",
		[POLICY_REFUSE_NOT_ACCEPTED] = "not-accepted",
		[POLICY_REFUSE_EPSV_ALL] = "epsv-all",
		[POLICY_REFUSE_MALFORMED_COMMAND] = "malformed-command",
		[POLICY_REFUSE_CLIENT_CAP] = "client-pinhole-cap",
	};
	int i, j;

	for (i = 0; i < POLICY_REASON_COUNT; i++) {
		const char *t = policy_reason_text((enum policy_reason)i);

		CHECK_STR(policy_reason_name((enum policy_reason)i), want[i]);
		CHECK(t != NULL && strlen(t) > 10 && t[strlen(t) - 1] == '.');
		for (j = 0; j < i; j++)
			CHECK(strcmp(t, policy_reason_text((enum policy_reason)j)) != 0);
	}
	CHECK_STR(policy_reason_name(POLICY_REASON_COUNT), "unknown");
	CHECK_STR(policy_reason_name((enum policy_reason)-1), "unknown");
	CHECK(policy_reason_text((enum policy_reason)99) != NULL);
}

static void test_client_cap(void)
{
	struct policy p;

	policy_init_defaults(&p);
	CHECK_INT(p.max_pinholes_per_client, 256);
	CHECK_INT(policy_check_client(&p, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_client(&p, 255), POLICY_ALLOW);
	CHECK_INT(policy_check_client(&p, 256), POLICY_REFUSE_CLIENT_CAP);
	p.max_pinholes_per_client = 1;
	CHECK_INT(policy_check_client(&p, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_client(&p, 1), POLICY_REFUSE_CLIENT_CAP);
	CHECK_INT(policy_check_client(NULL, 0), POLICY_REFUSE_CLIENT_CAP);
	policy_free(&p);
}

static void test_active(void)
{
	struct policy p;
	struct inet_addr srv = addr("192.0.2.10");
	struct inet_addr srv2 = addr("192.0.2.20");
	struct inet_addr cli = addr("10.0.0.1");
	struct inet_addr other = addr("10.0.0.2");
	struct inet_addr cli6 = addr("2001:db8::1");
	struct inet_addr srv6 = addr("2001:db8::10");

	policy_init_defaults(&p);
	/* off by default, whatever the rest says */
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 0), POLICY_REFUSE_ACTIVE_DISABLED);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &other, 22, 100), POLICY_REFUSE_ACTIVE_DISABLED);
	CHECK(!policy_active_mode(&p, &srv));
	p.active_mode = true;
	CHECK(policy_active_mode(&p, &srv));
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 1024, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_active(&p, &srv6, &cli6, &cli6, 65535, 7), POLICY_ALLOW);
	/* then family */
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli6, 22, 100), POLICY_REFUSE_FAMILY);
	/* then the client's own address: not another host, not the server */
	CHECK_INT(policy_check_active(&p, &srv, &cli, &other, 22, 100), POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &srv, 50000, 0), POLICY_REFUSE_THIRD_PARTY);
	/* then privileged, range, cap */
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 1023, 100), POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 20, 0), POLICY_REFUSE_PRIVILEGED_PORT);
	p.active_client_range.low = 50000;
	p.active_client_range.high = 50100;
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 49999, 100), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50101, 0), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50100, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 8), POLICY_REFUSE_SESSION_CAP);
	/* the passive range does not apply to active mode, nor the
	 * reverse */
	p.passive_range.low = 40000;
	p.passive_range.high = 40000;
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_passive(&p, &srv, &srv, 50000, 0), POLICY_REFUSE_PORT_RANGE);
	/* nothing to go on */
	CHECK_INT(policy_check_active(NULL, &srv, &cli, &cli, 50000, 0), POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_INT(policy_check_active(&p, &srv, NULL, &cli, 50000, 0), POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_INT(policy_check_active(&p, &srv, &cli, NULL, 50000, 0), POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_INT(policy_active_source_port(&p, &srv), 0);
	CHECK_INT(policy_active_source_port(NULL, &srv), 0);
	CHECK(policy_strict(&p, &srv));
	CHECK(policy_strict(NULL, &srv));
	CHECK(!policy_active_mode(NULL, &srv));

	/* per server: each setting overrides the global one, unset inherits */
	p.servers = calloc(2, sizeof(*p.servers));
	if (p.servers == NULL)
		abort();
	p.server_count = 2;
	p.servers[0].addr = srv;
	p.servers[0].active_mode = POLICY_SWITCH_OFF;
	p.servers[0].strict = POLICY_SWITCH_OFF;
	p.servers[0].active_source_port = POLICY_SOURCE_PORT_20;
	p.servers[1].addr = srv2;
	p.servers[1].active_client_range.low = 60000;
	p.servers[1].active_client_range.high = 60010;
	CHECK(!policy_active_mode(&p, &srv));
	CHECK(policy_active_mode(&p, &srv2));
	CHECK(!policy_strict(&p, &srv));
	CHECK(policy_strict(&p, &srv2));
	CHECK_INT(policy_active_source_port(&p, &srv), 20);
	CHECK_INT(policy_active_source_port(&p, &srv2), 0);
	p.active_source_port = POLICY_SOURCE_PORT_20;
	CHECK_INT(policy_active_source_port(&p, &srv2), 20);
	p.servers[1].active_source_port = POLICY_SOURCE_PORT_ANY;
	CHECK_INT(policy_active_source_port(&p, &srv2), 0);
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 0), POLICY_REFUSE_ACTIVE_DISABLED);
	CHECK_INT(policy_check_active(&p, &srv2, &cli, &cli, 50000, 0), POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(policy_check_active(&p, &srv2, &cli, &cli, 60005, 0), POLICY_ALLOW);
	p.active_mode = false;
	p.servers[0].active_mode = POLICY_SWITCH_ON;
	CHECK_INT(policy_check_active(&p, &srv, &cli, &cli, 50000, 0), POLICY_ALLOW);
	CHECK_INT(policy_check_active(&p, &srv2, &cli, &cli, 60005, 0), POLICY_REFUSE_ACTIVE_DISABLED);
	p.strict = false;
	p.servers[1].strict = POLICY_SWITCH_ON;
	CHECK(policy_strict(&p, &srv2));
	CHECK(!policy_strict(&p, &cli));
	policy_free(&p);
}

int main(void)
{
	test_inet_addr();
	test_defaults();
	test_check_order();
	test_servers();
	test_names();
	test_active();
	test_client_cap();
	return check_report("policy");
}
