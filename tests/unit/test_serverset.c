/* Unit tests for nftelem (the kernel's element layout) and serverset (the
 * protected servers' elements from a policy, and their comparison). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "nftelem.h"
#include "serverset.h"

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	if (inet_addr_parse(s, &a) != 0)
		abort();
	return a;
}

/* Layout as nft 1.0.6 sends "203.0.113.2 . 40000-40099" to an
 * ipv4_addr . inet_service interval set: address, then the port in
 * network order padded to 4 bytes; the upper bound in key_end. */
static void test_layout(void)
{
	static const uint8_t key4[8] = { 203, 0, 113, 2, 0x9c, 0x40, 0, 0 };
	static const uint8_t end4[8] = { 203, 0, 113, 2, 0x9c, 0xa3, 0, 0 };
	struct inet_addr a4 = addr("203.0.113.2"), a6 = addr("2001:db8:2::2");
	struct nftelem e;

	nftelem_init(&e, true);
	CHECK_INT(nftelem_put_addr(&e, &a4), 0);
	CHECK_INT(nftelem_put_port_range(&e, 40000, 40099), 0);
	CHECK_INT(e.len, 8);
	CHECK(memcmp(e.key, key4, 8) == 0);
	CHECK(memcmp(e.key_end, end4, 8) == 0);

	nftelem_init(&e, true);
	CHECK_INT(nftelem_put_addr(&e, &a6), 0);
	CHECK_INT(nftelem_put_port_range(&e, 21, 21), 0);
	CHECK_INT(e.len, 20);
	CHECK(memcmp(e.key, &a6.v6, 16) == 0);
	CHECK(e.key[16] == 0 && e.key[17] == 21 && e.key[18] == 0 && e.key[19] == 0);

	/* a grant: client . server . port range fits; 4 IPv6 addresses too */
	nftelem_init(&e, true);
	CHECK_INT(nftelem_put_addr(&e, &a6), 0);
	CHECK_INT(nftelem_put_addr(&e, &a6), 0);
	CHECK_INT(nftelem_put_addr(&e, &a6), 0);
	CHECK_INT(nftelem_put_addr(&e, &a6), 0);
	CHECK_INT(e.len, 64);
	CHECK_INT(nftelem_put_port_range(&e, 1, 2), -ENOSPC);
	CHECK_INT(e.len, 64);

	nftelem_init(&e, false);
	CHECK_INT(nftelem_put_port_range(&e, 1024, 2048), -EINVAL);	/* no interval */
	CHECK_INT(nftelem_put_port_range(&e, 2048, 2048), 0);
	nftelem_init(&e, true);
	CHECK_INT(nftelem_put_port_range(&e, 2048, 1024), -EINVAL);
	{
		struct inet_addr unset = { 0 };

		CHECK_INT(nftelem_put_addr(&e, &unset), -EAFNOSUPPORT);
	}
}

static struct policy policy_with(size_t n)
{
	struct policy p;

	policy_init_defaults(&p);
	p.servers = calloc(n, sizeof(*p.servers));
	p.server_count = n;
	return p;
}

static void test_entries(void)
{
	struct policy p = policy_with(3);
	struct serverset_entry e[4];
	char buf[128];

	p.passive_range = (struct policy_port_range){ 50000, 50999 };
	p.servers[0].addr = addr("203.0.113.2");
	p.servers[0].passive_range = (struct policy_port_range){ 40000, 40099 };
	p.servers[1].addr = addr("2001:db8:2::2");
	p.servers[2].addr = addr("203.0.113.3");	/* global range */
	CHECK_INT(serverset_entries(&p, AF_INET, e, 4), 2);
	CHECK_STR(serverset_format(&e[0], buf, sizeof(buf)), "203.0.113.2 . 40000-40099");
	CHECK_STR(serverset_format(&e[1], buf, sizeof(buf)), "203.0.113.3 . 50000-50999");
	CHECK_INT(serverset_entries(&p, AF_INET, e, 1), 1);	/* bounded */
	CHECK_INT(serverset_entries(&p, AF_INET6, e, 4), 1);
	CHECK_STR(serverset_format(&e[0], buf, sizeof(buf)), "2001:db8:2::2 . 50000-50999");
	e[0].range = (struct policy_port_range){ 40000, 40000 };
	CHECK_STR(serverset_format(&e[0], buf, sizeof(buf)), "2001:db8:2::2 . 40000");
	policy_free(&p);

	p = policy_with(0);
	CHECK_INT(serverset_entries(&p, AF_INET, e, 4), 0);	/* no server: empty */
	policy_free(&p);
}

static void test_compare(void)
{
	struct serverset_entry want[3] = {
		{ addr("203.0.113.2"), { 40000, 40099 } },
		{ addr("203.0.113.3"), { 40000, 40099 } },
		{ addr("203.0.113.4"), { 1024, 65535 } },
	};
	struct nftelem have[4];
	size_t n_missing, n_extra;
	long missing;

	/* the kernel lists them in its own order */
	CHECK_INT(serverset_elem(&want[2], &have[0]), 0);
	CHECK_INT(serverset_elem(&want[0], &have[1]), 0);
	CHECK_INT(serverset_elem(&want[1], &have[2]), 0);
	CHECK(serverset_compare(want, 3, have, 3, &missing, &n_missing, &n_extra));
	CHECK_INT(missing, -1);
	CHECK_INT(n_missing, 0);
	CHECK_INT(n_extra, 0);

	/* a range changed (the configuration says 40000-40099); have was
	 * sorted in place */
	CHECK_INT(serverset_elem(&want[0], &have[0]), 0);
	{
		struct serverset_entry other = { addr("203.0.113.3"), { 40000, 40199 } };

		CHECK_INT(serverset_elem(&other, &have[2]), 0);
	}
	CHECK_INT(serverset_elem(&want[2], &have[1]), 0);
	CHECK(!serverset_compare(want, 3, have, 3, &missing, &n_missing, &n_extra));
	CHECK_INT(missing, 1);
	CHECK_INT(n_missing, 1);
	CHECK_INT(n_extra, 1);

	/* emptied: every wanted one missing, the first named */
	CHECK(!serverset_compare(want, 3, have, 0, &missing, &n_missing, &n_extra));
	CHECK_INT(missing, 0);
	CHECK_INT(n_missing, 3);
	CHECK_INT(n_extra, 0);

	/* nothing configured, something in the set */
	CHECK(!serverset_compare(want, 0, have, 2, &missing, &n_missing, &n_extra));
	CHECK_INT(missing, -1);
	CHECK_INT(n_extra, 2);
	CHECK(serverset_compare(want, 0, have, 0, &missing, &n_missing, &n_extra));
}

int main(void)
{
	test_layout();
	test_entries();
	test_compare();
	return check_report("serverset");
}
