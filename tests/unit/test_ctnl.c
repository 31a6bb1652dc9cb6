/* test_ctnl: ctnetlink messages as the kernel sends them (built here with
 * libmnl in the layout of nf_conntrack_netlink.c) read into ctnl_msg, and
 * malformed ones refused. No kernel involved. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "check.h"
#include "ctnl.h"

static char buf[4096] __attribute__((aligned(8)));

static struct ctnl_tuple tuple(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport)
{
	struct ctnl_tuple t;

	memset(&t, 0, sizeof(t));
	if (inet_addr_parse(src, &t.src) < 0 || inet_addr_parse(dst, &t.dst) < 0)
		abort();
	t.sport = sport;
	t.dport = dport;
	t.proto = IPPROTO_TCP;
	return t;
}

static struct nlmsghdr *msg(uint16_t subsys, uint16_t type, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	return nlh;
}

static void test_conntrack_new(void)
{
	struct ctnl_tuple orig = tuple("198.51.100.2", 50123, "203.0.113.2", 40012);
	struct ctnl_tuple reply = tuple("203.0.113.2", 40012, "198.51.100.2", 50123);
	struct ctnl_tuple master = tuple("198.51.100.2", 41234, "203.0.113.2", 21);
	struct nlmsghdr *nlh;
	struct nlattr *pi, *tcp;
	struct ctnl_msg m;

	/* a RELATED connection's NEW event */
	nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	ctnl_put_tuple(nlh, CTA_TUPLE_ORIG, &orig);
	ctnl_put_tuple(nlh, CTA_TUPLE_REPLY, &reply);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(4242));
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_EXPECTED | IPS_CONFIRMED));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(120));
	pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, 7);	/* TIME_WAIT */
	mnl_attr_nest_end(nlh, tcp);
	mnl_attr_nest_end(nlh, pi);
	ctnl_put_tuple(nlh, CTA_TUPLE_MASTER, &master);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_CT_NEW);
	CHECK_INT(m.family, AF_INET);
	CHECK(ctnl_tuple_equal(&m.tuple, &orig));
	CHECK(ctnl_tuple_equal(&m.other, &reply));
	CHECK(m.has_master);
	CHECK(ctnl_tuple_equal(&m.master, &master));
	CHECK_INT(m.id, 4242);
	CHECK_INT(m.status, IPS_EXPECTED | IPS_CONFIRMED);
	CHECK_INT(m.timeout_s, 120);
	CHECK(m.has_tcp_state);
	CHECK_INT(m.tcp_state, 7);

	/* an ordinary new connection: no master */
	nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	ctnl_put_tuple(nlh, CTA_TUPLE_ORIG, &master);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK(!m.has_master);
	CHECK(!m.has_tcp_state);

	/* no original tuple: malformed */
	nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(1));
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);

	/* a tuple with a 5-byte IPv4 address: malformed */
	{
		struct nlattr *t, *ip, *pr;
		char five[5] = { 1, 2, 3, 4, 5 };

		nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
		t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
		ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 5, five);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, five);
		mnl_attr_nest_end(nlh, ip);
		pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
		mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
		mnl_attr_nest_end(nlh, pr);
		mnl_attr_nest_end(nlh, t);
		CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);
	}

	/* another subsystem: not ours */
	nlh = msg(NFNL_SUBSYS_QUEUE, 0, AF_INET);
	CHECK_INT(ctnl_parse(nlh, &m), -ENOENT);
	CHECK_INT(m.kind, CTNL_OTHER);
	/* too short for the nfgenmsg header */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8;
	CHECK_INT(ctnl_parse(nlh, &m), -ENOENT);
}

static void test_expectation(void)
{
	struct ctnl_tuple exp = tuple("2001:db8:1::2", 0, "2001:db8:2::2", 40000);
	struct ctnl_tuple master = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	struct ctnl_tuple mask = tuple("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0,
				       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0xffff);
	struct nlmsghdr *nlh;
	struct ctnl_msg m;

	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_DELETE, AF_INET6);
	ctnl_put_tuple(nlh, CTA_EXPECT_TUPLE, &exp);
	ctnl_put_tuple(nlh, CTA_EXPECT_MASK, &mask);
	ctnl_put_tuple(nlh, CTA_EXPECT_MASTER, &master);
	mnl_attr_put_u32(nlh, CTA_EXPECT_TIMEOUT, htonl(28));
	mnl_attr_put_u32(nlh, CTA_EXPECT_ID, htonl(99));
	mnl_attr_put_u32(nlh, CTA_EXPECT_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, CTA_EXPECT_CLASS, htonl(0));
	mnl_attr_put_strz(nlh, CTA_EXPECT_HELP_NAME, "ftpgate");
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_EXP_DELETE);
	CHECK_INT(m.family, AF_INET6);
	CHECK(ctnl_tuple_equal(&m.tuple, &exp));
	CHECK(ctnl_tuple_equal(&m.master, &master));
	CHECK(m.has_master);
	CHECK_INT(m.other.dport, 0xffff);
	CHECK_INT(m.timeout_s, 28);
	CHECK_INT(m.id, 99);
	CHECK_STR(m.helper, "ftpgate");

	/* a dump entry (EXP_NEW) without a helper */
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, AF_INET6);
	ctnl_put_tuple(nlh, CTA_EXPECT_TUPLE, &exp);
	ctnl_put_tuple(nlh, CTA_EXPECT_MASTER, &master);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_EXP_NEW);
	CHECK_STR(m.helper, "");

	/* an expectation needs its master */
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_DELETE, AF_INET6);
	ctnl_put_tuple(nlh, CTA_EXPECT_TUPLE, &exp);
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);

	/* a helper name without its NUL is ignored, not read past */
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_DELETE, AF_INET6);
	ctnl_put_tuple(nlh, CTA_EXPECT_TUPLE, &exp);
	ctnl_put_tuple(nlh, CTA_EXPECT_MASTER, &master);
	mnl_attr_put(nlh, CTA_EXPECT_HELP_NAME, 7, "ftpgate");
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_STR(m.helper, "");
}

int main(void)
{
	test_conntrack_new();
	test_expectation();
	return check_report("ctnl");
}
