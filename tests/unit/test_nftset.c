/* Unit tests for nftset's parser of listed set elements: messages built
 * with libnftnl as the kernel's dump sends them (no kernel access). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>

#include "check.h"
#include "nftset.h"
#include "serverset.h"

static char buf[8192] __attribute__((aligned(8)));

static void put_data(struct nlmsghdr *nlh, uint16_t type, const void *v, size_t len)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, v);
	mnl_attr_nest_end(nlh, nest);
}

/* A NEWSETELEM message holding e[0..n), laid out as the kernel's dump
 * (nf_tables_fill_setelem: one NFTA_LIST_ELEM nest per element; libnftnl's
 * request builder numbers them 1, 2, ... instead, which its own parser
 * refuses). */
static const struct nlmsghdr *message(const struct nftelem *e, size_t n)
{
	struct nlmsghdr *nlh;
	struct nlattr *list;
	size_t i;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFTSET_FAMILY_INET, 0, 1);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "ftpgate");
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, SERVERSET_IPV4);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (i = 0; i < n; i++) {
		struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

		put_data(nlh, NFTA_SET_ELEM_KEY, e[i].key, e[i].len);
		if (e[i].interval)
			put_data(nlh, NFTA_SET_ELEM_KEY_END, e[i].key_end, e[i].len);
		mnl_attr_nest_end(nlh, elem);
	}
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

static void entry(struct nftelem *e, const char *a, uint16_t low, uint16_t high)
{
	struct serverset_entry se;

	if (inet_addr_parse(a, &se.addr) != 0)
		abort();
	se.range = (struct policy_port_range){ low, high };
	if (serverset_elem(&se, e) != 0)
		abort();
}

int main(void)
{
	struct nftelem sent[3], got[4];
	size_t count = 0, total = 0;

	entry(&sent[0], "203.0.113.2", 40000, 40099);
	entry(&sent[1], "203.0.113.3", 1024, 65535);
	entry(&sent[2], "203.0.113.4", 21, 21);

	/* each element once (libnftnl's iterator returns the current one
	 * and then advances: a loop from iter_cur took the first twice) */
	CHECK_INT(nftset_elems_parse(message(sent, 3), got, 4, &count, &total), 0);
	CHECK_INT(count, 3);
	CHECK_INT(total, 3);
	CHECK(nftelem_equal(&got[0], &sent[0]));
	CHECK(nftelem_equal(&got[1], &sent[1]));
	CHECK(nftelem_equal(&got[2], &sent[2]));

	/* a second message of the same dump appends; max bounds the stored */
	CHECK_INT(nftset_elems_parse(message(sent, 2), got, 4, &count, &total), 0);
	CHECK_INT(count, 4);
	CHECK_INT(total, 5);
	CHECK(nftelem_equal(&got[3], &sent[0]));

	/* one element, none */
	count = total = 0;
	CHECK_INT(nftset_elems_parse(message(sent, 1), got, 4, &count, &total), 0);
	CHECK_INT(count, 1);
	CHECK_INT(total, 1);
	count = total = 0;
	CHECK_INT(nftset_elems_parse(message(sent, 0), got, 4, &count, &total), 0);
	CHECK_INT(count, 0);
	CHECK_INT(total, 0);

	/* without key_end (a set without flags interval) */
	sent[2].interval = false;
	count = total = 0;
	CHECK_INT(nftset_elems_parse(message(&sent[2], 1), got, 4, &count, &total), 0);
	CHECK_INT(count, 1);
	CHECK(!got[0].interval);
	CHECK(nftelem_equal(&got[0], &sent[2]));
	return check_report("nftset");
}
