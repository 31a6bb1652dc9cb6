/* test_ctnl: ctnl's parse path on ctnetlink messages built with
 * libnetfilter_conntrack in the shape the kernel sends them (events and
 * dumps), and malformed ones (built by hand) refused. No kernel involved. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "check.h"
#include "ctnl.h"
#include "ctnl_oracle.h"
#include "expect.h"
#include "nlrequest.h"

static char buf[4096] __attribute__((aligned(8)));

static struct flow tuple(const char *src, uint16_t sport, const char *dst,
			       uint16_t dport)
{
	struct flow t;

	memset(&t, 0, sizeof(t));
	if (inet_addr_parse(src, &t.src) < 0 || inet_addr_parse(dst, &t.dst) < 0)
		abort();
	t.sport = sport;
	t.dport = dport;
	return t;
}

static struct nlmsghdr *msg(uint16_t subsys, uint16_t type, uint8_t family)
{
	memset(buf, 0, sizeof(buf));
	return nlrequest_nfnl_put(buf, (uint16_t)(subsys << 8 | type), 0, family);
}

/* The master tuple as libnetfilter_conntrack keeps it in a conntrack. */
static void ct_set_master(struct nf_conntrack *ct, const struct flow *t)
{
	nfct_set_attr_u8(ct, ATTR_MASTER_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_MASTER_IPV4_SRC, t->src.v4.s_addr);
	nfct_set_attr_u32(ct, ATTR_MASTER_IPV4_DST, t->dst.v4.s_addr);
	nfct_set_attr_u8(ct, ATTR_MASTER_L4PROTO, IPPROTO_TCP);
	nfct_set_attr_u16(ct, ATTR_MASTER_PORT_SRC, htons(t->sport));
	nfct_set_attr_u16(ct, ATTR_MASTER_PORT_DST, htons(t->dport));
}

static struct nlmsghdr *ct_msg(uint8_t type, const struct flow *orig,
			       const struct flow *master, uint32_t id)
{
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, type, AF_INET);
	struct nf_conntrack *ct = nfct_new();

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(orig, ct);
	if (master != NULL)
		ct_set_master(ct, master);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, 120);
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_EXPECTED | IPS_CONFIRMED);
	nfct_set_attr_u8(ct, ATTR_TCP_STATE, 7);	/* TIME_WAIT */
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	/* the library builds requests, which carry no CTA_ID */
	mnl_attr_put_u32(nlh, CTA_ID, htonl(id));
	return nlh;
}

static void test_conntrack(void)
{
	struct flow orig = tuple("198.51.100.2", 50123, "203.0.113.2", 40012);
	struct flow master = tuple("198.51.100.2", 41234, "203.0.113.2", 21);
	struct nlmsghdr *nlh;
	struct ctnl_msg m;

	/* a RELATED connection's NEW event */
	nlh = ct_msg(IPCTNL_MSG_CT_NEW, &orig, &master, 4242);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_CT_NEW);
	CHECK_INT(m.family, AF_INET);
	CHECK(flow_equal(&m.tuple, &orig));
	CHECK_INT(m.proto, IPPROTO_TCP);
	CHECK(m.has_master);
	CHECK(flow_equal(&m.master, &master));
	CHECK_INT(m.id, 4242);
	CHECK_INT(m.timeout_s, 120);

	/* an ordinary connection's DESTROY event: no master */
	nlh = ct_msg(IPCTNL_MSG_CT_DELETE, &master, NULL, 7);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_CT_DELETE);
	CHECK(!m.has_master);
	CHECK(flow_equal(&m.tuple, &master));
	CHECK_INT(m.id, 7);

}

/* An IPv4 TCP reply tuple on ct. */
static void ct_set_reply4(struct nf_conntrack *ct, const struct flow *reply)
{
	nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
	nfct_set_attr(ct, ATTR_REPL_IPV4_SRC, &reply->src.v4);
	nfct_set_attr(ct, ATTR_REPL_IPV4_DST, &reply->dst.v4);
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(reply->sport));
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(reply->dport));
}

/* A control connection conntrackd committed (its NEW event): its status,
 * its helper's name and its reply tuple are read. */
static void test_conntrack_committed(void)
{
	struct flow orig = tuple("198.51.100.2", 41234, "203.0.113.2", 21);
	struct flow reply = tuple("203.0.113.2", 21, "198.51.100.2", 41234);
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	struct nf_conntrack *ct = nfct_new();
	struct ctnl_msg m;

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(&orig, ct);
	ct_set_reply4(ct, &reply);
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED);
	nfct_set_attr(ct, ATTR_HELPER_NAME, "ftpgate");
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_CT_NEW);
	CHECK(!m.has_master);
	CHECK_INT(m.status, IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED);
	CHECK_STR(m.helper, "ftpgate");
	CHECK(m.has_reply);
	CHECK(flow_equal(&m.reply, &reply));

	/* a packet's conntrack at its confirmation: no reply seen, no helper
	 * sent */
	nlh = ct_msg(IPCTNL_MSG_CT_NEW, &orig, NULL, 9);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_STR(m.helper, "");
	CHECK(!(m.status & IPS_SEEN_REPLY));
}

/* A queued packet's NFQA_CT holds the attributes of a conntrack message
 * (ctnetlink_glue_build), IPv6 here. */
static void test_queued_conntrack(void)
{
	struct flow orig = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET6);
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct ctnl_ct c;

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(&orig, ct);
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(31337));
	CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
				      mnl_nlmsg_get_payload_len(nlh) - off, AF_INET6, &c), 0);
	CHECK(flow_equal(&c.orig, &orig));
	CHECK_INT(c.proto, IPPROTO_TCP);
	CHECK_INT(c.id, 31337);
	/* no status and no TCP state sent: neither expected nor closing */
	CHECK(!c.expected && !c.closing);
	/* without the original tuple: no conntrack */
	CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
				      0, AF_INET6, &c), -EINVAL);
}

/* ctnl_queued_ct: a queued packet's NFQA_CT with the status and TCP state
 * given, built by the library; ctnl_parse_ct_attrs' answer in *c. */
static int ctnl_queued_ct(uint32_t status, int tcp_state, struct ctnl_ct *c)
{
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 40001);
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(&orig, ct);
	nfct_set_attr_u32(ct, ATTR_STATUS, status);
	if (tcp_state >= 0)
		nfct_set_attr_u8(ct, ATTR_TCP_STATE, (uint8_t)tcp_state);
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	return ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
				   mnl_nlmsg_get_payload_len(nlh) - off, AF_INET, c);
}

/* A DNATed and masqueraded control connection (doc/nat.md "Names used
 * here"): the reply tuple names the real server and the client as the
 * server sees it, and the status says the conntrack is NATed. */
static void test_queued_nat(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "198.51.100.1", 21);
	struct flow reply = tuple("203.0.113.2", 21, "203.0.113.1", 61000);
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct ctnl_ct c;

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(&orig, ct);
	ct_set_reply4(ct, &reply);
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_CONFIRMED | IPS_SRC_NAT | IPS_DST_NAT);
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
				      mnl_nlmsg_get_payload_len(nlh) - off, AF_INET, &c), 0);
	CHECK(flow_equal(&c.orig, &orig));
	CHECK(c.has_reply);
	CHECK(flow_equal(&c.reply, &reply));
	CHECK_INT(c.status & IPS_NAT_MASK, IPS_SRC_NAT | IPS_DST_NAT);
	CHECK(!c.expected);
	/* no reply tuple sent (test_queued_status' messages): not invented */
	CHECK_INT(ctnl_queued_ct(IPS_CONFIRMED, -1, &c), 0);
	CHECK(!c.has_reply);
	CHECK_INT(c.status, IPS_CONFIRMED);
}

/* What the daemon needs of a queued packet's conntrack besides its tuple:
 * whether an expectation admitted it (a data connection), and whether it
 * is closing (past ESTABLISHED). */
static void test_queued_status(void)
{
	static const struct { uint32_t status; int state; bool expected, closing; } cases[] = {
		{ IPS_CONFIRMED | IPS_SEEN_REPLY, TCP_CONNTRACK_ESTABLISHED, false, false },
		{ IPS_CONFIRMED | IPS_EXPECTED, TCP_CONNTRACK_SYN_SENT, true, false },
		{ IPS_EXPECTED, -1, true, false },
		{ IPS_CONFIRMED, TCP_CONNTRACK_SYN_RECV, false, false },
		{ IPS_CONFIRMED, TCP_CONNTRACK_FIN_WAIT, false, true },
		{ IPS_CONFIRMED, TCP_CONNTRACK_CLOSE_WAIT, false, true },
		{ IPS_CONFIRMED, TCP_CONNTRACK_LAST_ACK, false, true },
		{ IPS_CONFIRMED, TCP_CONNTRACK_TIME_WAIT, false, true },
		{ IPS_CONFIRMED, TCP_CONNTRACK_CLOSE, false, true },
	};
	struct ctnl_ct c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(ctnl_queued_ct(cases[i].status, cases[i].state, &c), 0);
		CHECK(c.expected == cases[i].expected);
		CHECK(c.closing == cases[i].closing);
	}
}

/* An IPCTNL_MSG_CT_NEW of orig built by the library, for a test to
 * append hand-made attributes to. */
static struct nlmsghdr *ct_new_msg(const struct flow *orig)
{
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);

	if (ct == NULL)
		abort();
	ctnl_flow_to_ct(orig, ct);
	if (nfct_nlmsg_build(nlh, ct) < 0)
		abort();
	nfct_destroy(ct);
	return nlh;
}

/* A helper or security context name without its NUL: the library would
 * read past it (fuzz_ctnl found it on a queued packet's NFQA_CT), so the
 * event is refused; with the NUL it is read. As NFQA_CT it is read either
 * way: the direct reader (ctnl_queued.c) reads no name. */
static void test_ct_name_without_nul(void)
{
	static const int nests[] = { CTA_HELP, CTA_SECCTX };
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct ctnl_ct c;
	struct ctnl_msg m;
	int i, nul;

	for (i = 0; i < 2; i++)
		for (nul = 0; nul <= 1; nul++) {
			struct nlmsghdr *nlh = ct_new_msg(&orig);
			struct nlattr *n;

			n = mnl_attr_nest_start(nlh, nests[i]);
			mnl_attr_put(nlh, 1, nul ? 8 : 7, "ftpgate");	/* CTA_*_NAME */
			mnl_attr_nest_end(nlh, n);
			CHECK_INT(ctnl_parse(nlh, &m), nul ? 0 : -EINVAL);
			CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
						      mnl_nlmsg_get_payload_len(nlh) - off, AF_INET, &c), 0);
			CHECK(flow_equal(&c.orig, &orig));
		}
}

/* CTA_PROTOINFO holding attribute 4 or 5 (types of CTA_PROTOINFO_TCP's
 * nest, misplaced): libnetfilter_conntrack 1.0.9 would store them past
 * its 4-entry stack table. An event is refused before it sees them;
 * types 1 to 3 (TCP, DCCP, SCTP) still parse. The direct reader of
 * NFQA_CT skips the unknown types and reads the TCP state only from
 * type 1. */
static void test_ct_protoinfo_type(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct ctnl_ct c;
	struct ctnl_msg m;
	uint16_t type;

	for (type = 1; type <= 5; type++) {
		struct nlmsghdr *nlh = ct_new_msg(&orig);
		struct nlattr *n, *inner;
		int want = type <= CTA_PROTOINFO_MAX ? 0 : -EINVAL;

		n = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		inner = mnl_attr_nest_start(nlh, type);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, 3);
		mnl_attr_nest_end(nlh, inner);
		mnl_attr_nest_end(nlh, n);
		CHECK_INT(ctnl_parse(nlh, &m), want);
		CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
					      mnl_nlmsg_get_payload_len(nlh) - off, AF_INET, &c), 0);
		CHECK(!c.closing);	/* 3 is ESTABLISHED in any nest */
	}
}

/* Hand-made: what no library builds. */
/* A CT_NEW message whose original tuple holds only an IPv4 address
 * nest: a source of src_len bytes, and a destination when with_dst. */
static struct nlmsghdr *ct_v4_addrs_msg(uint16_t src_len, bool with_dst)
{
	static const char bytes[5] = { 1, 2, 3, 4, 5 };
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	struct nlattr *t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);

	mnl_attr_put(nlh, CTA_IP_V4_SRC, src_len, bytes);
	if (with_dst)
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, bytes);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, t);
	return nlh;
}

static void test_malformed(void)
{
	struct nlmsghdr *nlh;
	struct ctnl_msg m;

	/* no original tuple */
	nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(1));
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);

	/* a tuple with a source address only */
	nlh = ct_v4_addrs_msg(4, false);
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);

	/* another subsystem: not ours */
	nlh = msg(NFNL_SUBSYS_QUEUE, 0, AF_INET);
	CHECK_INT(ctnl_parse(nlh, &m), -ENOENT);
	CHECK_INT(m.kind, CTNL_OTHER);
	/* too short for the nfgenmsg header */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8;
	CHECK_INT(ctnl_parse(nlh, &m), -ENOENT);
}

/* An attribute of the wrong size is what libnetfilter_conntrack calls a
 * broken kernel ABI: it ends the process (exit(EXIT_FAILURE)) instead of
 * returning. Only the kernel (or a CAP_NET_ADMIN process) can send to
 * ftpgated's netlink sockets; this pins the behaviour down. */
static void test_abi_breakage_exits(void)
{
	struct nlmsghdr *nlh;
	struct ctnl_msg m;
	int status = 0;
	pid_t pid;

	nlh = ct_v4_addrs_msg(5, true);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		ctnl_parse(nlh, &m);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILURE);
}

static struct nlmsghdr *exp_msg(uint8_t type, const struct flow *exp,
				const struct flow *master,
				const char *helper)
{
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, type, AF_INET6);
	struct flow mask = *exp;
	struct nf_expect *e = nfexp_new();
	struct nf_conntrack *ct = nfct_new();

	if (e == NULL || ct == NULL)
		abort();
	ctnl_flow_to_ct(exp, ct);
	nfexp_set_attr(e, ATTR_EXP_EXPECTED, ct);
	memset(&mask.src.v6, 0xff, sizeof(mask.src.v6));
	memset(&mask.dst.v6, 0xff, sizeof(mask.dst.v6));
	mask.sport = 0;
	mask.dport = 0xffff;
	ctnl_flow_to_ct(&mask, ct);
	nfexp_set_attr(e, ATTR_EXP_MASK, ct);
	if (master != NULL) {
		ctnl_flow_to_ct(master, ct);
		nfexp_set_attr(e, ATTR_EXP_MASTER, ct);
	}
	nfexp_set_attr_u32(e, ATTR_EXP_TIMEOUT, 28);
	nfexp_set_attr_u32(e, ATTR_EXP_FLAGS, 0);
	nfexp_set_attr_u32(e, ATTR_EXP_CLASS, 0);
	if (helper != NULL)
		nfexp_set_attr(e, ATTR_EXP_HELPER_NAME, helper);
	if (nfexp_nlmsg_build(nlh, e) < 0)
		abort();
	nfexp_destroy(e);
	nfct_destroy(ct);
	return nlh;
}

static void test_expectation(void)
{
	struct flow exp = tuple("2001:db8:1::2", 0, "2001:db8:2::2", 40000);
	struct flow master = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	struct nlmsghdr *nlh;
	struct ctnl_msg m;

	/* a destroy event, with the ID the kernel adds */
	nlh = exp_msg(IPCTNL_MSG_EXP_DELETE, &exp, &master, "ftpgate");
	mnl_attr_put_u32(nlh, CTA_EXPECT_ID, htonl(99));
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_EXP_DELETE);
	CHECK_INT(m.family, AF_INET6);
	CHECK(flow_equal(&m.tuple, &exp));
	CHECK_INT(m.proto, IPPROTO_TCP);
	CHECK(flow_equal(&m.master, &master));
	CHECK(m.has_master);
	CHECK_INT(m.timeout_s, 28);
	CHECK_INT(m.id, 99);
	CHECK_STR(m.helper, "ftpgate");

	/* a dump entry (EXP_NEW) without a helper */
	nlh = exp_msg(IPCTNL_MSG_EXP_NEW, &exp, &master, NULL);
	CHECK_INT(ctnl_parse(nlh, &m), 0);
	CHECK_INT(m.kind, CTNL_EXP_NEW);
	CHECK_STR(m.helper, "");
	CHECK_INT(m.id, 0);

	/* an expectation needs its master */
	nlh = exp_msg(IPCTNL_MSG_EXP_DELETE, &exp, NULL, "ftpgate");
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);

	/* strings the library mishandles are refused before it sees them:
	 * a helper name without its NUL (it would read past it), an
	 * expectfn name over 24 bytes (it would abort) */
	nlh = exp_msg(IPCTNL_MSG_EXP_DELETE, &exp, &master, NULL);
	mnl_attr_put(nlh, CTA_EXPECT_HELP_NAME, 7, "ftpgate");
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);
	nlh = exp_msg(IPCTNL_MSG_EXP_DELETE, &exp, &master, "ftpgate");
	mnl_attr_put_strz(nlh, CTA_EXPECT_FN, "nat-follow-master-and-then-some");
	CHECK_INT(ctnl_parse(nlh, &m), -EINVAL);
	nlh = exp_msg(IPCTNL_MSG_EXP_DELETE, &exp, &master, "ftpgate");
	mnl_attr_put_strz(nlh, CTA_EXPECT_FN, "nat-follow-master");
	CHECK_INT(ctnl_parse(nlh, &m), 0);
}

/* ---- expectations with NAT (expect_build) ---------------------------- */

/* What one attribute of an expectation message holds, read with libmnl
 * alone (not with the library that built it). */
struct exp_seen {
	const struct nlattr *nat, *fn;
};

static int exp_seen_cb(const struct nlattr *attr, void *data)
{
	struct exp_seen *x = data;

	if (mnl_attr_get_type(attr) == CTA_EXPECT_NAT)
		x->nat = attr;
	if (mnl_attr_get_type(attr) == CTA_EXPECT_FN)
		x->fn = attr;
	return MNL_CB_OK;
}

static int nest_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	tb[mnl_attr_get_type(attr) & 15] = attr;
	return MNL_CB_OK;
}

/* The nest's attribute `type` (types below 16), or NULL. */
static const struct nlattr *nest_get(const struct nlattr *nest, int type)
{
	const struct nlattr *tb[16] = { 0 };

	if (nest == NULL || mnl_attr_parse_nested(nest, nest_cb, tb) < 0)
		return NULL;
	return tb[type];
}

/* A passive pinhole of a DNATed master (doc/nat.md 2.1): the request
 * carries CTA_EXPECT_NAT (direction ORIGINAL, tuple source = the real
 * server's listener) and CTA_EXPECT_FN "nat-follow-master"; a plain
 * request carries neither. */
static void test_expect_nat_build(void)
{
	struct expect_request r = {
		.master = tuple("198.51.100.2", 41000, "198.51.100.1", 21),
		.expect = tuple("198.51.100.2", 0, "198.51.100.1", 50000),
		.timeout_s = 30, .helper_name = "ftpgate",
		.nat = { .on = true, .port = 50000 }, .nat_dir = 0,
	};
	const struct nlattr *t, *ip, *proto, *dir;
	struct struct_in { struct in_addr a; } real;
	struct exp_seen x = { NULL, NULL };
	struct nlmsghdr *nlh;

	inet_pton(AF_INET, "203.0.113.2", &real.a);
	r.nat.address = tuple("203.0.113.2", 0, "203.0.113.2", 0).src;
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, AF_INET);
	CHECK_INT(expect_build(nlh, &r), 0);
	CHECK(mnl_attr_parse(nlh, sizeof(struct nfgenmsg), exp_seen_cb, &x) >= 0);
	CHECK(x.fn != NULL && mnl_attr_validate(x.fn, MNL_TYPE_NUL_STRING) == 0 &&
	      strcmp(mnl_attr_get_str(x.fn), "nat-follow-master") == 0);
	dir = nest_get(x.nat, CTA_EXPECT_NAT_DIR);
	CHECK(dir != NULL && mnl_attr_get_payload_len(dir) == 4 &&
	      ntohl(mnl_attr_get_u32(dir)) == 0);
	t = nest_get(x.nat, CTA_EXPECT_NAT_TUPLE);
	ip = nest_get(t, CTA_TUPLE_IP);
	proto = nest_get(t, CTA_TUPLE_PROTO);
	CHECK(nest_get(ip, CTA_IP_V4_SRC) != NULL &&
	      memcmp(mnl_attr_get_payload(nest_get(ip, CTA_IP_V4_SRC)), &real.a, 4) == 0);
	CHECK(nest_get(proto, CTA_PROTO_SRC_PORT) != NULL &&
	      ntohs(mnl_attr_get_u16(nest_get(proto, CTA_PROTO_SRC_PORT))) == 50000);
	CHECK(nest_get(proto, CTA_PROTO_NUM) != NULL &&
	      mnl_attr_get_u8(nest_get(proto, CTA_PROTO_NUM)) == IPPROTO_TCP);

	/* read back, as the kernel's listing would say it */
	{
		struct ctnl_msg m;
		char a[64];

		CHECK_INT(ctnl_parse(nlh, &m), 0);
		CHECK(m.nat.on);
		CHECK_STR(inet_ntop(AF_INET, &m.nat.address.v4, a, sizeof(a)), "203.0.113.2");
		CHECK_INT(m.nat.port, 50000);
	}

	/* active mode's direction is REPLY */
	r.nat_dir = 1;
	x.nat = x.fn = NULL;
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, AF_INET);
	CHECK_INT(expect_build(nlh, &r), 0);
	CHECK(mnl_attr_parse(nlh, sizeof(struct nfgenmsg), exp_seen_cb, &x) >= 0);
	dir = nest_get(x.nat, CTA_EXPECT_NAT_DIR);
	CHECK(dir != NULL && ntohl(mnl_attr_get_u32(dir)) == 1);

	/* no NAT: neither attribute (the request as before issue 13) */
	r.nat.on = false;
	x.nat = x.fn = NULL;
	nlh = msg(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, AF_INET);
	CHECK_INT(expect_build(nlh, &r), 0);
	CHECK(mnl_attr_parse(nlh, sizeof(struct nfgenmsg), exp_seen_cb, &x) >= 0);
	CHECK(x.nat == NULL && x.fn == NULL);
	{
		struct ctnl_msg m;

		CHECK_INT(ctnl_parse(nlh, &m), 0);
		CHECK(!m.nat.on);
	}
}

/* Every variation of a queued packet's conntrack the kernel sends
 * (__ctnetlink_glue_build: both families, with and without the reply
 * tuple, every TCP state, status, ID, helper, timeout, mark, zone), built
 * by the library: the direct reader gives what the library reads. */
static void test_queued_matches_library(void)
{
	static const char *const addrs[2][4] = {
		{ "198.51.100.2", "203.0.113.2", "203.0.113.2", "203.0.113.1" },
		{ "2001:db8:1::2", "2001:db8:2::2", "2001:db8:2::2", "2001:db8:2::1" },
	};
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	int fam, with_reply, state, extra, compared = 0;

	for (fam = 0; fam < 2; fam++)
		for (with_reply = 0; with_reply <= 1; with_reply++)
			for (state = -1; state < TCP_CONNTRACK_MAX; state++)
				for (extra = 0; extra <= 1; extra++) {
					int family = fam ? AF_INET6 : AF_INET;
					struct flow orig = tuple(addrs[fam][0], 41000, addrs[fam][1], 21);
					struct flow reply = tuple(addrs[fam][2], 21, addrs[fam][3], 61000);
					struct nlmsghdr *nlh = msg(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, (uint8_t)family);
					struct nf_conntrack *ct = nfct_new();
					struct ctnl_ct got, want;
					const void *attrs;
					size_t len;

					if (ct == NULL)
						abort();
					ctnl_flow_to_ct(&orig, ct);
					if (with_reply) {
						nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, (uint8_t)family);
						nfct_set_attr(ct, fam ? ATTR_REPL_IPV6_SRC : ATTR_REPL_IPV4_SRC,
							      fam ? (const void *)&reply.src.v6 : (const void *)&reply.src.v4);
						nfct_set_attr(ct, fam ? ATTR_REPL_IPV6_DST : ATTR_REPL_IPV4_DST,
							      fam ? (const void *)&reply.dst.v6 : (const void *)&reply.dst.v4);
						nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
						nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(reply.sport));
						nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(reply.dport));
					}
					if (state >= 0) {
						nfct_set_attr_u8(ct, ATTR_TCP_STATE, (uint8_t)state);
						nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_ORIG, 7);
						nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_REPL, 7);
					}
					if (extra) {
						nfct_set_attr_u32(ct, ATTR_STATUS, IPS_EXPECTED | IPS_CONFIRMED |
								  IPS_SRC_NAT | IPS_DST_NAT | IPS_SEEN_REPLY);
						nfct_set_attr_u32(ct, ATTR_TIMEOUT, 431999);
						nfct_set_attr_u32(ct, ATTR_MARK, 0x42);
						nfct_set_attr_u16(ct, ATTR_ZONE, 3);
						nfct_set_attr(ct, ATTR_HELPER_NAME, "ftpgate");
					}
					if (nfct_nlmsg_build(nlh, ct) < 0)
						abort();
					nfct_destroy(ct);
					if (extra)
						mnl_attr_put_u32(nlh, CTA_ID, htonl(0x9e3779b9));
					attrs = (char *)mnl_nlmsg_get_payload(nlh) + off;
					len = mnl_nlmsg_get_payload_len(nlh) - off;
					CHECK_INT(ctnl_oracle_read(attrs, len, family, &want), 0);
					CHECK_INT(ctnl_parse_ct_attrs(attrs, len, family, &got), 0);
					CHECK(ctnl_oracle_same(&got, &want));
					CHECK(got.has_reply == with_reply);
					CHECK(got.closing == (state >= TCP_CONNTRACK_FIN_WAIT &&
							      state <= TCP_CONNTRACK_CLOSE));
					compared++;
				}
	CHECK_INT(compared, 2 * 2 * (TCP_CONNTRACK_MAX + 1) * 2);
}

/* Hand-made conntrack attributes the direct reader must refuse, or read
 * safely, where the library would end the process (test_abi_breakage_exits). */
static void test_queued_malformed(void)
{
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct nlattr *pi, *tcp;
	struct nlmsghdr *nlh;
	struct ctnl_ct c;

#define QUEUED_READ(nlh) ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off, \
	mnl_nlmsg_get_payload_len(nlh) - off, AF_INET, &c)
	/* an address of 5 bytes */
	nlh = ct_v4_addrs_msg(5, true);
	CHECK_INT(QUEUED_READ(nlh), -EINVAL);
	/* a source address only */
	nlh = ct_v4_addrs_msg(4, false);
	CHECK_INT(QUEUED_READ(nlh), -EINVAL);
	/* a status of 2 bytes after a good tuple */
	nlh = ct_v4_addrs_msg(4, true);
	CHECK_INT(QUEUED_READ(nlh), 0);
	mnl_attr_put_u16(nlh, CTA_STATUS, 1);
	CHECK_INT(QUEUED_READ(nlh), -EINVAL);
	CHECK_INT(c.orig.src.family, 0);	/* nothing half-read */
	/* an IPv4 tuple in an IPv6 message: no address of its family */
	nlh = ct_v4_addrs_msg(4, true);
	CHECK_INT(ctnl_parse_ct_attrs((char *)mnl_nlmsg_get_payload(nlh) + off,
				      mnl_nlmsg_get_payload_len(nlh) - off, AF_INET6, &c), -EINVAL);
	/* a TCP nest with one flags attribute of the wrong size: the library
	 * would end the process; the reader reads no state (CLOSE here) */
	pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_CLOSE);
	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, 1);
	mnl_attr_nest_end(nlh, tcp);
	mnl_attr_nest_end(nlh, pi);
	CHECK_INT(QUEUED_READ(nlh), 0);
	CHECK(!c.closing);
	/* a truncated last attribute ends the walk, as in libmnl */
	nlh->nlmsg_len -= 2;
	CHECK_INT(QUEUED_READ(nlh), 0);
#undef QUEUED_READ
}

/* The library's unions, on sets it accepts (found by review; bytes as
 * the review gave them, O being an IPv4 TCP tuple 10.0.0.1 -> 10.0.0.2):
 * an IPv6 source in an IPv4 tuple's address nest overwrites the IPv4
 * source; an IPv6 destination in the reply tuple likewise; a DCCP state
 * after a TCP state overwrites it (CLOSE, then 1: not closing); an SCTP
 * state after ESTABLISHED (7: closing). The reader gives what the
 * library gives on each. */
static void test_queued_unions(void)
{
	static const char *const sets[] = {
		"2c00010028000100080001000a000001080002000a00000214000300c0000201000000000000000000000000",
		"1800010014000100080001000a000001080002000a0000022c00020028000100080001000a000002080002000a00000114000400c6336401000000000000000000000000",
		"2400010014000100080001000a000001080002000a0000020c0002000500010006000000"
		"1c0004000c00010005000100070000000c0002000500010001000000",
		"2400010014000100080001000a000001080002000a0000020c0002000500010006000000"
		"1c0004000c00010005000100030000000c0003000500010007000000",
	};
	static const bool closing[] = { false, false, false, true };
	uint8_t bytes[256];
	struct ctnl_ct got, want;
	size_t i, j, n;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		n = strlen(sets[i]) / 2;
		if (n > sizeof(bytes))
			abort();
		for (j = 0; j < n; j++)
			if (sscanf(sets[i] + 2 * j, "%2hhx", &bytes[j]) != 1)
				abort();
		CHECK_INT(ctnl_oracle_read(bytes, n, AF_INET, &want), 0);
		CHECK_INT(ctnl_parse_ct_attrs(bytes, n, AF_INET, &got), 0);
		CHECK(ctnl_oracle_same(&got, &want));
		CHECK(got.closing == closing[i]);
		/* the IPv6 attribute's first four bytes */
		if (i == 0)
			CHECK_STR(inet_ntoa(got.orig.src.v4), "192.0.2.1");
		if (i == 1)
			CHECK_STR(inet_ntoa(got.reply.dst.v4), "198.51.100.1");
	}
}

int main(void)
{
	test_conntrack();
	test_conntrack_committed();
	test_queued_conntrack();
	test_queued_status();
	test_queued_nat();
	test_queued_matches_library();
	test_queued_malformed();
	test_queued_unions();
	test_expect_nat_build();
	test_malformed();
	test_ct_name_without_nul();
	test_ct_protoinfo_type();
	test_abi_breakage_exits();
	test_expectation();
	return check_report("ctnl");
}
