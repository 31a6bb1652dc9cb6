/* ctnl: ctnetlink through libnetfilter_conntrack, on a libmnl socket.
 *
 * Kernel facts relied on (Debian's linux-source-6.1, 6.1.192,
 * net/netfilter/nf_conntrack_netlink.c):
 *  - Conntrack messages (ctnetlink_fill_info, ctnetlink_conntrack_event)
 *    carry CTA_TUPLE_ORIG, CTA_ID, CTA_TIMEOUT; CTA_TUPLE_MASTER (the
 *    master's original tuple) in a dump whenever ct->master is set, and in
 *    a NEW event only when it carries IPCT_RELATED, i.e. for a connection
 *    that an expectation created (__nf_conntrack_confirm caches
 *    IPCT_RELATED instead of IPCT_NEW when master_ct(ct)).
 *  - Expectation messages (ctnetlink_exp_dump_expect): CTA_EXPECT_TUPLE,
 *    CTA_EXPECT_MASK, CTA_EXPECT_MASTER, CTA_EXPECT_TIMEOUT (seconds
 *    left), CTA_EXPECT_ID, CTA_EXPECT_HELP_NAME when it has a helper.
 *  - Tuples are parsed with the family of nfgenmsg.nfgen_family.
 *
 * libnetfilter_conntrack (1.0.9, Debian 12) facts: nfct_payload_parse and
 * nfexp_nlmsg_parse validate the size of every attribute they read and
 * take the tuples' family from nfgen_family; they do not check that the
 * message is long enough for its nfgenmsg (checked here first) and they
 * do not read CTA_EXPECT_ID (no such attribute in the library: read
 * here). Three faults are kept from them here (ctnl_ct_attrs_ok,
 * ctnl_exp_extra_cb): names without NUL, CTA_PROTOINFO types 4 and 5 (a
 * stack overwrite), and nfct_nlmsg_parse's length (not used). An
 * attribute of the wrong size ends the process (abi_breakage():
 * exit(EXIT_FAILURE)), as in conntrackd: only the kernel, or a process
 * with CAP_NET_ADMIN, can send to our NETLINK_NETFILTER sockets (nfnetlink
 * does not set NL_CFG_F_NONROOT_SEND). Addresses
 * and ports are in network order in its objects, IDs and timeouts in host
 * order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctnl.h"
#include "nlrequest.h"

#define CTNL_TIMEOUT_S 2
#define CTNL_BUFSIZE 65536

/* Where libnetfilter_conntrack keeps one tuple of a conntrack object. */
struct ctnl_tuple_attrs {
	enum nf_conntrack_attr l3, l4, v4src, v4dst, v6src, v6dst, sport, dport;
};

static const struct ctnl_tuple_attrs ctnl_orig = {
	ATTR_ORIG_L3PROTO, ATTR_ORIG_L4PROTO, ATTR_ORIG_IPV4_SRC,
	ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST,
	ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST,
};

static const struct ctnl_tuple_attrs ctnl_reply = {
	ATTR_REPL_L3PROTO, ATTR_REPL_L4PROTO, ATTR_REPL_IPV4_SRC,
	ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_SRC, ATTR_REPL_IPV6_DST,
	ATTR_REPL_PORT_SRC, ATTR_REPL_PORT_DST,
};

static const struct ctnl_tuple_attrs ctnl_master = {
	ATTR_MASTER_L3PROTO, ATTR_MASTER_L4PROTO, ATTR_MASTER_IPV4_SRC,
	ATTR_MASTER_IPV4_DST, ATTR_MASTER_IPV6_SRC, ATTR_MASTER_IPV6_DST,
	ATTR_MASTER_PORT_SRC, ATTR_MASTER_PORT_DST,
};

static bool ctnl_addr_get(const struct nf_conntrack *ct, enum nf_conntrack_attr a,
			  int family, struct inet_addr *out)
{
	const void *v = nfct_get_attr(ct, a);

	if (v == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = family;
	if (family == AF_INET6)
		memcpy(&out->v6, v, sizeof(out->v6));
	else
		memcpy(&out->v4, v, sizeof(out->v4));
	return true;
}

/* The tuple at `at` in ct into *f and *proto (NULL: not wanted): 0, or
 * -EINVAL when its family or an address is missing. Ports and protocol
 * are 0 when absent. */
static int ctnl_tuple_get(const struct nf_conntrack *ct,
			  const struct ctnl_tuple_attrs *at, struct flow *f,
			  uint8_t *proto)
{
	int fam = nfct_attr_is_set(ct, at->l3) > 0 ? nfct_get_attr_u8(ct, at->l3) : 0;
	bool v6 = fam == AF_INET6;

	memset(f, 0, sizeof(*f));
	if ((fam != AF_INET && fam != AF_INET6) ||
	    !ctnl_addr_get(ct, v6 ? at->v6src : at->v4src, fam, &f->src) ||
	    !ctnl_addr_get(ct, v6 ? at->v6dst : at->v4dst, fam, &f->dst))
		return -EINVAL;
	if (proto != NULL)
		*proto = nfct_attr_is_set(ct, at->l4) > 0 ? nfct_get_attr_u8(ct, at->l4) : 0;
	if (nfct_attr_is_set(ct, at->sport) > 0)
		f->sport = ntohs(nfct_get_attr_u16(ct, at->sport));
	if (nfct_attr_is_set(ct, at->dport) > 0)
		f->dport = ntohs(nfct_get_attr_u16(ct, at->dport));
	return 0;
}

void ctnl_flow_to_ct(const struct flow *f, struct nf_conntrack *ct)
{
	bool v6 = f->src.family == AF_INET6;

	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, (uint8_t)f->src.family);
	nfct_set_attr(ct, v6 ? ATTR_ORIG_IPV6_SRC : ATTR_ORIG_IPV4_SRC,
		      v6 ? (const void *)&f->src.v6 : (const void *)&f->src.v4);
	nfct_set_attr(ct, v6 ? ATTR_ORIG_IPV6_DST : ATTR_ORIG_IPV4_DST,
		      v6 ? (const void *)&f->dst.v6 : (const void *)&f->dst.v4);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, IPPROTO_TCP);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(f->sport));
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(f->dport));
}

/* Conntrack attributes the library would read past: a helper or
 * security context name without its NUL (libnetfilter_conntrack 1.0.9
 * copies CTA_HELP_NAME with snprintf and CTA_SECCTX_NAME with strdup;
 * found by tests/fuzz/fuzz_ctnl.c). The kernel sends neither
 * (nla_put_string). Both names are attribute 1 of their nest. */
static int ctnl_ct_name_cb(const struct nlattr *attr, void *data)
{
	bool *bad = data;

	if (mnl_attr_get_type(attr) == CTA_HELP_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		*bad = true;
	return MNL_CB_OK;
}

/* An attribute in CTA_PROTOINFO the library would write past its stack
 * table with: 1.0.9's nfct_parse_protoinfo_attr_cb checks the type
 * against CTA_PROTOINFO_TCP_MAX (5) but stores into a table of
 * CTA_PROTOINFO_MAX + 1 (4) entries, so types 4 and 5 overwrite the
 * stack (tests/fuzz/fuzz_ctnl.c: SEGV with the stack pointer in the
 * heap, CI of 03c2352). The kernel sends only types 1 to 3. */
static int ctnl_ct_protoinfo_cb(const struct nlattr *attr, void *data)
{
	bool *bad = data;

	if (mnl_attr_get_type(attr) > CTA_PROTOINFO_MAX)
		*bad = true;
	return MNL_CB_OK;
}

static int ctnl_ct_attr_cb(const struct nlattr *attr, void *data)
{
	bool *bad = data;
	uint16_t type = mnl_attr_get_type(attr);

	if ((type == CTA_HELP || type == CTA_SECCTX) &&
	    mnl_attr_parse_nested(attr, ctnl_ct_name_cb, bad) < 0)
		*bad = true;
	if (type == CTA_PROTOINFO &&
	    mnl_attr_parse_nested(attr, ctnl_ct_protoinfo_cb, bad) < 0)
		*bad = true;
	return MNL_CB_OK;
}

/* Whether the conntrack attributes in payload[0..len) are ones the
 * library can take without reading or writing out of bounds. */
static bool ctnl_ct_attrs_ok(const void *payload, size_t len)
{
	bool bad = false;

	return mnl_attr_parse_payload(payload, len, ctnl_ct_attr_cb, &bad) >= 0 && !bad;
}

/* A conntrack's status, helper name and reply tuple, when sent. */
static void ctnl_ct_more_get(const struct nf_conntrack *ct, struct ctnl_msg *m)
{
	if (nfct_attr_is_set(ct, ATTR_STATUS) > 0)
		m->status = nfct_get_attr_u32(ct, ATTR_STATUS);
	if (nfct_attr_is_set(ct, ATTR_HELPER_NAME) > 0)
		snprintf(m->helper, sizeof(m->helper), "%.*s", CTNL_HELPER_MAX - 1,
			 (const char *)nfct_get_attr(ct, ATTR_HELPER_NAME));
	m->has_reply = ctnl_tuple_get(ct, &ctnl_reply, &m->reply, NULL) == 0 &&
		       m->reply.src.family == m->tuple.src.family;
}

static int ctnl_parse_ct(const struct nlmsghdr *nlh, struct ctnl_msg *m)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const void *attrs = (const char *)nfg + sizeof(*nfg);
	size_t attrs_len = mnl_nlmsg_get_payload_len(nlh) - sizeof(*nfg);
	struct nf_conntrack *ct = nfct_new();
	int rc = -EINVAL;

	if (ct == NULL)
		return -ENOMEM;
	/* nfct_payload_parse, not nfct_nlmsg_parse: 1.0.9's nfct_nlmsg_parse
	 * gives it nlmsg_len as the attributes' length, 20 bytes more than
	 * they have, and it reads on into whatever follows the message. */
	if (!ctnl_ct_attrs_ok(attrs, attrs_len) ||
	    nfct_payload_parse(attrs, attrs_len, nfg->nfgen_family, ct) < 0 ||
	    ctnl_tuple_get(ct, &ctnl_orig, &m->tuple, &m->proto) < 0)
		goto out;
	m->has_master = nfct_attr_is_set(ct, ATTR_MASTER_L3PROTO) > 0;
	if (m->has_master && ctnl_tuple_get(ct, &ctnl_master, &m->master, NULL) < 0)
		goto out;
	if (nfct_attr_is_set(ct, ATTR_ID) > 0)
		m->id = nfct_get_attr_u32(ct, ATTR_ID);
	if (nfct_attr_is_set(ct, ATTR_TIMEOUT) > 0)
		m->timeout_s = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
	ctnl_ct_more_get(ct, m);
	rc = 0;
out:
	nfct_destroy(ct);
	return rc;
}

/* What ctnl reads itself of an expectation message, before the library
 * does: the ID, and whether its strings are ones the library can take.
 * libnetfilter_conntrack 1.0.9 asserts (aborts) on a CTA_EXPECT_FN longer
 * than 24 bytes and reads past a CTA_EXPECT_HELP_NAME or CTA_EXPECT_FN
 * without a NUL (found by tests/fuzz/fuzz_ctnl.c); the kernel sends
 * neither (nla_put_string). */
struct ctnl_exp_extra {
	uint32_t id;
	bool bad;		/* or any attribute the library cannot take */
};

#define CTNL_EXPECTFN_MAX 24		/* the library's __NFCT_EXPECTFN_MAX */

/* An attribute in CTA_EXPECT_NAT other than CTA_EXPECT_NAT_DIR and
 * CTA_EXPECT_NAT_TUPLE: libnetfilter_conntrack 1.0.9 stores such types
 * past a stack table too (tests/fuzz/fuzz_ctnl.c: an expectation whose
 * CTA_EXPECT_NAT held type 19 gave the SEGV with the stack pointer in
 * the heap, every time). The kernel sends only those two. */
static int ctnl_exp_nat_cb(const struct nlattr *attr, void *data)
{
	bool *bad = data;

	if (mnl_attr_get_type(attr) > CTA_EXPECT_NAT_MAX)
		*bad = true;
	return MNL_CB_OK;
}

static int ctnl_exp_extra_cb(const struct nlattr *attr, void *data)
{
	struct ctnl_exp_extra *x = data;

	if (mnl_attr_get_type(attr) == CTA_EXPECT_NAT &&
	    mnl_attr_parse_nested(attr, ctnl_exp_nat_cb, &x->bad) < 0)
		x->bad = true;

	if (mnl_attr_get_type(attr) == CTA_EXPECT_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		x->id = ntohl(mnl_attr_get_u32(attr));
	if ((mnl_attr_get_type(attr) == CTA_EXPECT_FN ||
	     mnl_attr_get_type(attr) == CTA_EXPECT_HELP_NAME) &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		x->bad = true;
	if (mnl_attr_get_type(attr) == CTA_EXPECT_FN &&
	    mnl_attr_get_payload_len(attr) > CTNL_EXPECTFN_MAX)
		x->bad = true;
	return MNL_CB_OK;
}

/* Where an expectation's data connection is translated to: the source of
 * its CTA_EXPECT_NAT tuple (the kernel's ctnetlink_exp_dump_expect()
 * writes the saved address and port there, the destination zero). */
static void ctnl_exp_nat_get(const struct nf_expect *exp, struct ctnl_msg *m)
{
	const struct nf_conntrack *nat;
	struct flow f;

	if (nfexp_attr_is_set(exp, ATTR_EXP_NAT_TUPLE) <= 0 ||
	    (nat = nfexp_get_attr(exp, ATTR_EXP_NAT_TUPLE)) == NULL ||
	    ctnl_tuple_get(nat, &ctnl_orig, &f, NULL) < 0)
		return;
	m->nat = (struct flow_nat){ true, f.src, f.sport };
}

static int ctnl_parse_exp(const struct nlmsghdr *nlh, struct ctnl_msg *m)
{
	struct ctnl_exp_extra x = { 0, false };
	const struct nf_conntrack *tuple, *master;
	struct nf_expect *exp;
	int rc = -EINVAL;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), ctnl_exp_extra_cb, &x) < 0 ||
	    x.bad)
		return -EINVAL;
	exp = nfexp_new();
	if (exp == NULL)
		return -ENOMEM;
	if (nfexp_nlmsg_parse(nlh, exp) < 0 ||
	    (tuple = nfexp_get_attr(exp, ATTR_EXP_EXPECTED)) == NULL ||
	    (master = nfexp_get_attr(exp, ATTR_EXP_MASTER)) == NULL ||
	    ctnl_tuple_get(tuple, &ctnl_orig, &m->tuple, &m->proto) < 0 ||
	    ctnl_tuple_get(master, &ctnl_orig, &m->master, NULL) < 0)
		goto out;
	m->has_master = true;
	ctnl_exp_nat_get(exp, m);
	if (nfexp_attr_is_set(exp, ATTR_EXP_TIMEOUT) > 0)
		m->timeout_s = nfexp_get_attr_u32(exp, ATTR_EXP_TIMEOUT);
	if (nfexp_attr_is_set(exp, ATTR_EXP_HELPER_NAME) > 0)
		snprintf(m->helper, sizeof(m->helper), "%.*s", CTNL_HELPER_MAX - 1,
			 (const char *)nfexp_get_attr(exp, ATTR_EXP_HELPER_NAME));
	m->id = x.id;
	rc = 0;
out:
	nfexp_destroy(exp);
	return rc;
}

static enum ctnl_kind ctnl_kind_of(uint16_t nlmsg_type)
{
	switch (nlmsg_type) {
	case NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW:
		return CTNL_CT_NEW;
	case NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE:
		return CTNL_CT_DELETE;
	case NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_NEW:
		return CTNL_EXP_NEW;
	case NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_DELETE:
		return CTNL_EXP_DELETE;
	default:
		return CTNL_OTHER;
	}
}

int ctnl_parse(const struct nlmsghdr *nlh, struct ctnl_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (nlh->nlmsg_len < NLMSG_HDRLEN ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -ENOENT;
	out->kind = ctnl_kind_of(nlh->nlmsg_type);
	out->family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	if (out->kind == CTNL_OTHER)
		return -ENOENT;
	if (out->kind == CTNL_CT_NEW || out->kind == CTNL_CT_DELETE)
		return ctnl_parse_ct(nlh, out);
	return ctnl_parse_exp(nlh, out);
}

/* ---- synchronous queries -------------------------------------------- */

struct ctnl {
	struct nlrequest req;
	char *buf;			/* receive buffer, CTNL_BUFSIZE */
	char req_msg[1024] __attribute__((aligned(8)));
};

int ctnl_open(struct ctnl **out, char *err, size_t errlen)
{
	struct ctnl *c;
	struct mnl_socket *nl;
	int rc, one = 1;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->buf = malloc(CTNL_BUFSIZE)) == NULL) {
		free(c);
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		nlrequest_seterr(err, errlen, "cannot open a ctnetlink socket: %s (modprobe nf_conntrack_netlink)",
				 strerror(-rc));
		if (nl != NULL)
			mnl_socket_close(nl);
		ctnl_close(c);
		return rc;
	}
	nlrequest_init(&c->req, nl, (uint32_t)time(NULL) ^ 0x5a5a0000u, c->buf,
		       CTNL_BUFSIZE, CTNL_TIMEOUT_S);
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	*out = c;
	return 0;
}

void ctnl_close(struct ctnl *c)
{
	if (c == NULL)
		return;
	if (c->req.nl != NULL)
		mnl_socket_close(c->req.nl);
	free(c->buf);
	free(c);
}

struct nlmsghdr *ctnl_msg_start(struct ctnl *c, uint16_t type, uint16_t flags,
				uint8_t family)
{
	return nlrequest_nfnl_put(c->req_msg, type, flags, family);
}

struct ctnl_answer {
	void (*cb)(const struct ctnl_msg *m, void *data);
	void *data;
};

/* Hand each data message that parses to the caller; others are skipped. */
static int ctnl_answer_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ctnl_answer *a = data;
	struct ctnl_msg msg;

	if (a->cb != NULL && ctnl_parse(nlh, &msg) == 0)
		a->cb(&msg, a->data);
	return 0;
}

int ctnl_request(struct ctnl *c, struct nlmsghdr *nlh,
		 void (*cb)(const struct ctnl_msg *m, void *data), void *data)
{
	struct ctnl_answer a = { cb, data };

	return nlrequest_talk(&c->req, nlh, ctnl_answer_cb, &a);
}
