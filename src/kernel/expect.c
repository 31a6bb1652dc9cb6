/* expect: conntrack expectations (pinholes) installed with ctnetlink over
 * libmnl, synchronously (each request waits for the kernel's ACK).
 *
 * Kernel behaviour relied on (read in Debian's linux-source-6.1, 6.1.192,
 * net/netfilter/nf_conntrack_netlink.c and nf_conntrack_expect.c):
 *
 *  - ctnetlink_new_expect(): needs CTA_EXPECT_TUPLE, CTA_EXPECT_MASK and
 *    CTA_EXPECT_MASTER (else -EINVAL); tuples are parsed with the family of
 *    nfgenmsg.nfgen_family. It first looks the tuple up among existing
 *    expectations: found + NLM_F_EXCL -> -EEXIST; found without EXCL -> only
 *    CTA_EXPECT_TIMEOUT is applied (ctnetlink_change_expect); not found ->
 *    created only with NLM_F_CREATE (else -ENOENT).
 *  - ctnetlink_create_expect(): master looked up by tuple in the default
 *    zone (-ENOENT if gone); ctnetlink_alloc_expect(): master without a
 *    helper -> -EOPNOTSUPP; class > helper's class max -> -EINVAL. The
 *    helper of the expectation is the master's; CTA_EXPECT_HELP_NAME is not
 *    read on this path (we send it anyway, as conntrackd does). Only
 *    mask->src (address and port) is used; the destination always matches
 *    exactly.
 *  - nf_ct_expect_insert(): the timeout of a new expectation is the master
 *    helper's expect policy timeout; CTA_EXPECT_TIMEOUT is ignored on
 *    create. So after creating we send an update (no NLM_F_CREATE) with our
 *    timeout, which ctnetlink_change_expect() applies (now + timeout),
 *    unless ours is the policy's (expect_set_policy_timeout), which the
 *    create already used. A userspace helper's policy is changed in place
 *    by NFNL_MSG_CTHELPER_NEW (nfnl_cthelper_update_policy_one), so it is
 *    the policy of every master of that helper, old ones too.
 *  - __nf_ct_expect_check(): an expectation overlapping another master's
 *    -> -EBUSY; more than the policy's expect max for one master evicts the
 *    oldest (no error); table full -> -EMFILE.
 *  - Tuple wire format (ctnetlink_parse_tuple_filter()): CTA_TUPLE_IP {
 *    CTA_IP_V4_SRC/DST 4 bytes or CTA_IP_V6_SRC/DST 16 bytes, network
 *    order } and CTA_TUPLE_PROTO { CTA_PROTO_NUM u8, CTA_PROTO_SRC_PORT and
 *    CTA_PROTO_DST_PORT be16, both required for TCP }. The mask carries the
 *    real protocol number (6), like the kernel's own ctnetlink_exp_dump_mask()
 *    and conntrackd: 0xff would select the generic protocol, whose parser
 *    ignores the ports.
 *  - CTA_EXPECT_TIMEOUT, CTA_EXPECT_CLASS, CTA_EXPECT_FLAGS are be32.
 *  - ctnetlink_del_expect() with CTA_EXPECT_TUPLE: finds the expectation
 *    the way a packet would (nf_ct_expect_find_get: the lookup tuple
 *    compared under each expectation's mask, so the source port asked for
 *    must be the one the expectation was created with when its mask says
 *    exact), -ENOENT if none; with CTA_EXPECT_ID (be32) too, it deletes
 *    only if the found one has that ID, else -ENOENT. GET with a tuple
 *    returns the expectation with its CTA_EXPECT_ID and CTA_EXPECT_MASTER,
 *    so GET then DEL by tuple + ID removes exactly the expectation that was
 *    checked, never one another connection created meanwhile.
 *  - ctnetlink_exp_dump_table(): a dump with nfgen_family AF_UNSPEC lists
 *    the expectations of all families in the socket's namespace, each with
 *    CTA_EXPECT_MASTER (the master's original tuple) and
 *    CTA_EXPECT_HELP_NAME (the helper's name). ctnetlink_get_expect() with
 *    CTA_EXPECT_TUPLE returns the expectation matching that tuple.
 */
#include "expect.h"
#include "nlrequest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#define EXP_TIMEOUT_S	2		/* wait for the kernel this long */
#define EXP_BUFSIZE	65536		/* > largest dump skb (32 KiB) */
#define EXP_NAME_MAX	15		/* NF_CT_HELPER_NAME_LEN - 1 */

struct expect_handle {
	struct nlrequest req;		/* req.ext: kernel's extended ack */
	uint32_t policy_timeout_s;	/* the helper policy's; 0 unknown */
	char *buf;
};

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- netlink plumbing ------------------------------------------------- */

int expect_open(struct expect_handle **hp, char *err, size_t errlen)
{
	struct expect_handle *h;
	struct mnl_socket *nl;
	int one = 1, rc;

	if (hp == NULL)
		return -EINVAL;
	*hp = NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->buf = malloc(EXP_BUFSIZE)) == NULL) {
		free(h);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		rc = -errno;
		if (rc == -EPROTONOSUPPORT || rc == -EAFNOSUPPORT)
			seterr(err, errlen, "kernel has no nfnetlink: run "
			       "'modprobe nf_conntrack_netlink'; the kernel "
			       "needs CONFIG_NF_CT_NETLINK");
		else
			seterr(err, errlen, "cannot open netfilter netlink "
			       "socket: %s", strerror(-rc));
		goto fail;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot bind netfilter netlink socket: %s",
		       strerror(-rc));
		mnl_socket_close(nl);
		goto fail;
	}
	nlrequest_init(&h->req, nl, (uint32_t)time(NULL), h->buf, EXP_BUFSIZE,
		       EXP_TIMEOUT_S);
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	*hp = h;
	return 0;
fail:
	expect_close(h);
	return rc;
}

void expect_set_policy_timeout(struct expect_handle *h, uint32_t timeout_s)
{
	if (h != NULL)
		h->policy_timeout_s = timeout_s;
}

void expect_close(struct expect_handle *h)
{
	if (h == NULL)
		return;
	if (h->req.nl != NULL)
		mnl_socket_close(h->req.nl);
	free(h->buf);
	free(h);
}

/* ---- messages --------------------------------------------------------- */

static struct nlmsghdr *exp_msg(char *buf, uint8_t type, uint16_t flags,
				uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

/* Ports in host order. */
static void put_tuple(struct nlmsghdr *nlh, uint16_t type,
		      const struct inet_addr *src, const struct inet_addr *dst,
		      uint16_t sport, uint16_t dport)
{
	struct nlattr *tuple, *ip, *proto;

	tuple = mnl_attr_nest_start(nlh, type);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (src->family == AF_INET6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, sizeof(src->v6), &src->v6);
		mnl_attr_put(nlh, CTA_IP_V6_DST, sizeof(dst->v6), &dst->v6);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, sizeof(src->v4), &src->v4);
		mnl_attr_put(nlh, CTA_IP_V4_DST, sizeof(dst->v4), &dst->v4);
	}
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tuple);
}

static void put_expectation(struct nlmsghdr *nlh,
			    const struct expect_request *r)
{
	struct inet_addr ones;

	memset(&ones, 0xff, sizeof(ones));
	ones.family = r->source.family;

	put_tuple(nlh, CTA_EXPECT_MASTER, &r->master_src, &r->master_dst,
		  r->master_sport, r->master_dport);
	/* the data connection: source[:port] -> destination:port */
	put_tuple(nlh, CTA_EXPECT_TUPLE, &r->source, &r->destination,
		  r->source_port, r->destination_port);
	/* mask: source address exact, source port exact or any (the
	 * kernel keeps only the source part of the mask) */
	put_tuple(nlh, CTA_EXPECT_MASK, &ones, &ones,
		  r->source_port != 0 ? 0xffff : 0, 0xffff);
	if (r->timeout_s != 0)
		mnl_attr_put_u32(nlh, CTA_EXPECT_TIMEOUT, htonl(r->timeout_s));
	if (r->helper_name != NULL)
		mnl_attr_put_strz(nlh, CTA_EXPECT_HELP_NAME, r->helper_name);
	mnl_attr_put_u32(nlh, CTA_EXPECT_CLASS, htonl(0));
	mnl_attr_put_u32(nlh, CTA_EXPECT_FLAGS, htonl(0));
}

/* "[2001:db8::1]:21" or "192.0.2.1:21"; port 0 prints as "*". */
static void fmt_endpoint(char *out, size_t outlen, const struct inet_addr *a,
			 uint16_t port, bool any_port)
{
	char addr[INET6_ADDRSTRLEN];
	char portbuf[8];

	if (a->family != AF_INET && a->family != AF_INET6)
		snprintf(addr, sizeof(addr), "-");
	else if (inet_ntop(a->family, a->family == AF_INET6 ?
			   (const void *)&a->v6 : (const void *)&a->v4,
			   addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	if (any_port)
		snprintf(portbuf, sizeof(portbuf), "*");
	else
		snprintf(portbuf, sizeof(portbuf), "%u", (unsigned int)port);
	if (a->family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", addr, portbuf);
	else
		snprintf(out, outlen, "%s:%s", addr, portbuf);
}

static void fmt_request(char *out, size_t outlen,
			const struct expect_request *r)
{
	char src[64], dst[64], msrc[64], mdst[64];

	fmt_endpoint(src, sizeof(src), &r->source, r->source_port,
		     r->source_port == 0);
	fmt_endpoint(dst, sizeof(dst), &r->destination, r->destination_port,
		     false);
	fmt_endpoint(msrc, sizeof(msrc), &r->master_src, r->master_sport,
		     false);
	fmt_endpoint(mdst, sizeof(mdst), &r->master_dst, r->master_dport,
		     false);
	snprintf(out, outlen, "tcp %s -> %s (master tcp %s -> %s)", src, dst,
		 msrc, mdst);
}

/* ---- reading an expectation back -------------------------------------- */

struct attr_table {
	const struct nlattr **tb;
	unsigned int max;
};

static int table_cb(const struct nlattr *attr, void *data)
{
	const struct attr_table *t = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type > t->max)
		return MNL_CB_OK;	/* newer kernel: ignore */
	t->tb[type] = attr;
	return MNL_CB_OK;
}

static bool parse_nested(const struct nlattr *nest, const struct nlattr **tb,
			 unsigned int max)
{
	struct attr_table t = { tb, max };

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return mnl_attr_validate(nest, MNL_TYPE_NESTED) == 0 &&
	       mnl_attr_parse_nested(nest, table_cb, &t) >= 0;
}

static bool parse_exp_attrs(const struct nlmsghdr *nlh,
			    const struct nlattr **tb)
{
	struct attr_table t = { tb, CTA_EXPECT_MAX };

	memset(tb, 0, sizeof(*tb) * (CTA_EXPECT_MAX + 1));
	if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK_EXP ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return false;
	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_cb, &t) >= 0;
}

/* Does the tuple attribute describe src:sport -> dst:dport over TCP? */
static bool tuple_matches(const struct nlattr *tuple,
			  const struct inet_addr *src,
			  const struct inet_addr *dst, uint16_t sport,
			  uint16_t dport)
{
	const struct nlattr *tt[CTA_TUPLE_MAX + 1];
	const struct nlattr *ip[CTA_IP_MAX + 1];
	const struct nlattr *pr[CTA_PROTO_MAX + 1];
	int ts = src->family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC;
	int td = src->family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST;
	size_t alen = src->family == AF_INET6 ? sizeof(src->v6)
					      : sizeof(src->v4);
	const void *sa = src->family == AF_INET6 ? (const void *)&src->v6
						 : (const void *)&src->v4;
	const void *da = src->family == AF_INET6 ? (const void *)&dst->v6
						 : (const void *)&dst->v4;

	if (!parse_nested(tuple, tt, CTA_TUPLE_MAX) ||
	    tt[CTA_TUPLE_IP] == NULL || tt[CTA_TUPLE_PROTO] == NULL ||
	    !parse_nested(tt[CTA_TUPLE_IP], ip, CTA_IP_MAX) ||
	    !parse_nested(tt[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX))
		return false;
	if (ip[ts] == NULL || ip[td] == NULL ||
	    mnl_attr_get_payload_len(ip[ts]) != alen ||
	    mnl_attr_get_payload_len(ip[td]) != alen ||
	    memcmp(mnl_attr_get_payload(ip[ts]), sa, alen) != 0 ||
	    memcmp(mnl_attr_get_payload(ip[td]), da, alen) != 0)
		return false;
	if (pr[CTA_PROTO_NUM] == NULL ||
	    mnl_attr_validate(pr[CTA_PROTO_NUM], MNL_TYPE_U8) < 0 ||
	    mnl_attr_get_u8(pr[CTA_PROTO_NUM]) != IPPROTO_TCP ||
	    pr[CTA_PROTO_SRC_PORT] == NULL || pr[CTA_PROTO_DST_PORT] == NULL ||
	    mnl_attr_validate(pr[CTA_PROTO_SRC_PORT], MNL_TYPE_U16) < 0 ||
	    mnl_attr_validate(pr[CTA_PROTO_DST_PORT], MNL_TYPE_U16) < 0)
		return false;
	return ntohs(mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT])) == sport &&
	       ntohs(mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT])) == dport;
}

struct same_master {
	const struct expect_request *r;
	bool seen;
	bool same;
	bool has_id;
	uint32_t id;			/* network order, as the kernel sent it */
};

static int same_master_cb(const struct nlmsghdr *nlh, void *data)
{
	struct same_master *sm = data;
	const struct nlattr *tb[CTA_EXPECT_MAX + 1];

	if (!parse_exp_attrs(nlh, tb))
		return 0;
	sm->seen = true;
	sm->same = tb[CTA_EXPECT_MASTER] != NULL &&
		   tuple_matches(tb[CTA_EXPECT_MASTER], &sm->r->master_src,
				 &sm->r->master_dst, sm->r->master_sport,
				 sm->r->master_dport);
	if (tb[CTA_EXPECT_ID] != NULL &&
	    mnl_attr_validate(tb[CTA_EXPECT_ID], MNL_TYPE_U32) == 0) {
		sm->has_id = true;
		sm->id = mnl_attr_get_u32(tb[CTA_EXPECT_ID]);
	}
	return 0;
}

/* Ask the kernel for the expectation of r's tuple; cb gets it. */
static int exp_get(struct expect_handle *h, const struct expect_request *r,
		   nlrequest_cb cb, void *data)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	nlh = exp_msg(buf, IPCTNL_MSG_EXP_GET, NLM_F_ACK,
		      (uint8_t)r->source.family);
	put_tuple(nlh, CTA_EXPECT_TUPLE, &r->source, &r->destination,
		  r->source_port, r->destination_port);
	return nlrequest_talk(&h->req, nlh, cb, data);
}

/* The expectation the kernel has for r's tuple: belongs to r's master?
 * Returns 1 same master, 0 another master, -ENOENT gone, or -errno. The
 * expectation's ID goes to *id (when id is not NULL and the kernel sent
 * one; *has_id says so). */
static int existing_is_ours_id(struct expect_handle *h,
			       const struct expect_request *r, bool *has_id,
			       uint32_t *id)
{
	struct same_master sm = { r, false, false, false, 0 };
	int rc;

	rc = exp_get(h, r, same_master_cb, &sm);
	if (rc < 0)
		return rc;
	if (!sm.seen)
		return -ENOENT;
	if (has_id != NULL)
		*has_id = sm.has_id;
	if (id != NULL)
		*id = sm.id;
	return sm.same ? 1 : 0;
}

static int existing_is_ours(struct expect_handle *h,
			    const struct expect_request *r)
{
	return existing_is_ours_id(h, r, NULL, NULL);
}

/* Set the timeout of the existing expectation (no NLM_F_CREATE). */
static int update_timeout(struct expect_handle *h,
			  const struct expect_request *r)
{
	char buf[1024] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	nlh = exp_msg(buf, IPCTNL_MSG_EXP_NEW, NLM_F_ACK,
		      (uint8_t)r->source.family);
	put_expectation(nlh, r);
	return nlrequest_talk(&h->req, nlh, NULL, NULL);
}

static int check_request(const struct expect_request *r, char *err,
			 size_t errlen)
{
	int f = r->source.family;

	if (f != AF_INET && f != AF_INET6) {
		seterr(err, errlen, "expectation without an address family");
		return -EINVAL;
	}
	if (r->destination.family != f || r->master_src.family != f ||
	    r->master_dst.family != f) {
		seterr(err, errlen, "expectation mixes IPv4 and IPv6 "
		       "addresses");
		return -EINVAL;
	}
	if (r->destination_port == 0) {
		seterr(err, errlen, "expectation for port 0");
		return -EINVAL;
	}
	if (r->helper_name != NULL && strlen(r->helper_name) > EXP_NAME_MAX) {
		seterr(err, errlen, "helper name '%s' is longer than %d "
		       "characters", r->helper_name, EXP_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Why the kernel refused: the errors an install and a removal share, then
 * each one's own, with the kernel's extended-ack text when it sent one. */
static void explain(struct expect_handle *h, int rc, bool removing,
		    const char *tuple, char *err, size_t errlen)
{
	const char *why;

	if (rc == -EPERM)
		why = "permission denied (ftpgated needs CAP_NET_ADMIN)";
	else if (rc == -ETIMEDOUT)
		why = "no answer from the kernel";
	else if (removing && rc == -ENOENT)
		why = "no such expectation (used or expired)";
	else if (removing && rc == -EBUSY)
		why = "the expectation belongs to another connection";
	else if (rc == -ENOENT)
		why = "the master connection is not in the conntrack table "
		      "(closed?)";
	else if (rc == -EOPNOTSUPP)
		why = "the master connection has no conntrack helper attached "
		      "(no nft 'ct helper set' for it?)";
	else if (rc == -ESHUTDOWN)
		why = "the master connection has no helper extension";
	else if (rc == -EBUSY)
		why = "it clashes with an expectation of another connection";
	else if (rc == -EMFILE)
		why = "the kernel's expectation table is full "
		      "(nf_conntrack_expect_max)";
	else
		why = strerror(-rc);
	seterr(err, errlen, "cannot %s expectation %s: %s%s%s%s",
	       removing ? "remove" : "install", tuple, why,
	       h->req.ext[0] ? " (kernel: " : "", h->req.ext,
	       h->req.ext[0] ? ")" : "");
}

int expect_install(struct expect_handle *h, const struct expect_request *r,
		   char *err, size_t errlen)
{
	char buf[1024] __attribute__((aligned(8)));
	char tuple[320];
	struct nlmsghdr *nlh;
	int rc, attempt;

	if (h == NULL || r == NULL)
		return -EINVAL;
	rc = check_request(r, err, errlen);
	if (rc < 0)
		return rc;
	fmt_request(tuple, sizeof(tuple), r);

	for (attempt = 0; attempt < 2; attempt++) {
		nlh = exp_msg(buf, IPCTNL_MSG_EXP_NEW,
			      NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
			      (uint8_t)r->source.family);
		put_expectation(nlh, r);
		rc = nlrequest_talk(&h->req, nlh, NULL, NULL);
		if (rc != -EEXIST)
			break;
		/* An expectation for this tuple exists: ours again (the
		 * same port announced twice) is a refresh, another
		 * connection's is a clash. */
		rc = existing_is_ours(h, r);
		if (rc == -ENOENT)
			continue;	/* expired or used meanwhile: retry */
		if (rc == 0) {
			rc = -EBUSY;
			break;
		}
		if (rc < 0)
			break;
		rc = update_timeout(h, r);
		if (rc == -ENOENT)
			continue;
		break;
	}
	if (rc == 0 && r->timeout_s != 0 && r->timeout_s != h->policy_timeout_s) {
		/* The create took the helper policy's timeout; set ours
		 * (a refresh above set it already; again does no harm).
		 * -ENOENT: already used by the data connection, fine. */
		int u = update_timeout(h, r);

		if (u < 0 && u != -ENOENT) {
			explain(h, u, false, tuple, err, errlen);
			return u;
		}
	}
	if (rc < 0) {
		explain(h, rc, false, tuple, err, errlen);
		return rc;
	}
	return 0;
}

int expect_remove(struct expect_handle *h, const struct expect_request *r,
		  char *err, size_t errlen)
{
	char buf[512] __attribute__((aligned(8)));
	char tuple[320];
	struct nlmsghdr *nlh;
	bool has_id = false;
	uint32_t id = 0;
	int rc;

	if (h == NULL || r == NULL)
		return -EINVAL;
	rc = check_request(r, err, errlen);
	if (rc < 0)
		return rc;
	fmt_request(tuple, sizeof(tuple), r);

	/* Look first: the tuple alone could name an expectation another
	 * connection created after ours was used. */
	rc = existing_is_ours_id(h, r, &has_id, &id);
	if (rc == 0)
		rc = -EBUSY;
	if (rc < 0) {
		explain(h, rc, true, tuple, err, errlen);
		return rc;
	}
	nlh = exp_msg(buf, IPCTNL_MSG_EXP_DELETE, NLM_F_ACK,
		      (uint8_t)r->source.family);
	put_tuple(nlh, CTA_EXPECT_TUPLE, &r->source, &r->destination,
		  r->source_port, r->destination_port);
	/* The ID makes the delete miss (-ENOENT) if what we checked was
	 * used and replaced in between. */
	if (has_id)
		mnl_attr_put_u32(nlh, CTA_EXPECT_ID, id);
	rc = nlrequest_talk(&h->req, nlh, NULL, NULL);
	if (rc < 0) {
		explain(h, rc, true, tuple, err, errlen);
		return rc;
	}
	return 0;
}

struct count_ctx {
	const char *name;
	int count;
};

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct count_ctx *cc = data;
	const struct nlattr *tb[CTA_EXPECT_MAX + 1];

	if (!parse_exp_attrs(nlh, tb) || tb[CTA_EXPECT_HELP_NAME] == NULL ||
	    mnl_attr_validate(tb[CTA_EXPECT_HELP_NAME], MNL_TYPE_NUL_STRING) < 0)
		return 0;
	if (strcmp(mnl_attr_get_str(tb[CTA_EXPECT_HELP_NAME]), cc->name) == 0)
		cc->count++;
	return 0;
}

int expect_count(struct expect_handle *h, const char *helper_name)
{
	char buf[256] __attribute__((aligned(8)));
	struct count_ctx cc = { helper_name, 0 };
	struct nlmsghdr *nlh;
	int rc;

	if (h == NULL || helper_name == NULL)
		return -EINVAL;
	/* AF_UNSPEC: every family; a dump ends with NLMSG_DONE, no ACK */
	nlh = exp_msg(buf, IPCTNL_MSG_EXP_GET, NLM_F_DUMP, AF_UNSPEC);
	rc = nlrequest_talk(&h->req, nlh, count_cb, &cc);
	return rc < 0 ? rc : cc.count;
}

/* ---- listing ------------------------------------------------------------ */

struct list_ctx {
	const char *name;
	void (*cb)(const struct ctnl_msg *m, void *data);
	void *data;
	struct ctnl_msg *one;		/* expect_lookup: the answer */
	bool seen;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *lc = data;
	struct ctnl_msg m;

	if (ctnl_parse(nlh, &m) < 0 || m.kind != CTNL_EXP_NEW)
		return 0;
	if (lc->one != NULL) {
		*lc->one = m;
		lc->seen = true;
		return 0;
	}
	if (strcmp(m.helper, lc->name) == 0)
		lc->cb(&m, lc->data);
	return 0;
}

int expect_list(struct expect_handle *h, const char *helper_name,
		void (*cb)(const struct ctnl_msg *m, void *data), void *data)
{
	char buf[256] __attribute__((aligned(8)));
	struct list_ctx lc = { helper_name, cb, data, NULL, false };
	struct nlmsghdr *nlh;

	if (h == NULL || helper_name == NULL || cb == NULL)
		return -EINVAL;
	nlh = exp_msg(buf, IPCTNL_MSG_EXP_GET, NLM_F_DUMP, AF_UNSPEC);
	return nlrequest_talk(&h->req, nlh, list_cb, &lc);
}

int expect_lookup(struct expect_handle *h, const struct expect_request *r,
		  struct ctnl_msg *out)
{
	struct list_ctx lc = { NULL, NULL, NULL, out, false };
	int rc;

	if (h == NULL || r == NULL || out == NULL)
		return -EINVAL;
	rc = exp_get(h, r, list_cb, &lc);
	if (rc < 0)
		return rc;
	return lc.seen ? 0 : -ENOENT;
}
