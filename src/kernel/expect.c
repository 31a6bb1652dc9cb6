/* expect: conntrack expectations (pinholes) installed with ctnetlink,
 * built by libnetfilter_conntrack (one builder, expect_object), sent on a
 * libmnl socket synchronously (each request waits for the kernel's ACK).
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
 *    read on this path (we send it anyway, as conntrackd does). Measured
 *    in the lab: Debian's 6.1.176 also gives the data connection that
 *    helper (helper=ftpgate on its conntrack, its packets queued to us),
 *    with or without the name; 6.1.192 and 6.12.118 do not (queue.h,
 *    `expected`: ftpgated passes such packets unread). Only
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
 *  - Tuples need CTA_PROTO_SRC_PORT and CTA_PROTO_DST_PORT for TCP. The
 *    mask carries the real protocol number (6), like the kernel's own
 *    ctnetlink_exp_dump_mask() and conntrackd: 0xff would select the
 *    generic protocol, whose parser ignores the ports.
 *  - ctnetlink_del_expect() with CTA_EXPECT_TUPLE: finds the expectation
 *    the way a packet would (nf_ct_expect_find_get: the lookup tuple
 *    compared under each expectation's mask, so the source port asked for
 *    must be the one the expectation was created with when its mask says
 *    exact), -ENOENT if none; with CTA_EXPECT_ID (be32) too, it deletes
 *    only if the found one has that ID, else -ENOENT. GET with a tuple
 *    returns the expectation with its CTA_EXPECT_ID and CTA_EXPECT_MASTER,
 *    so GET then DEL by tuple + ID removes exactly the expectation that was
 *    checked, never one another connection created meanwhile.
 *  - ctnetlink_get_expect() and ctnetlink_del_expect() read
 *    CTA_EXPECT_TUPLE (and CTA_EXPECT_ID, CTA_EXPECT_ZONE) and ignore the
 *    rest, so they get the same whole expectation as a create. Without a
 *    tuple a delete removes every expectation of CTA_EXPECT_HELP_NAME:
 *    expect_object always sets the tuple.
 *  - ctnetlink_exp_dump_table(): a dump with nfgen_family AF_UNSPEC lists
 *    the expectations of all families in the socket's namespace, each with
 *    CTA_EXPECT_MASTER (the master's original tuple) and
 *    CTA_EXPECT_HELP_NAME (the helper's name). ctnetlink_get_expect() with
 *    CTA_EXPECT_TUPLE returns the expectation matching that tuple.
 */
#include "expect.h"
#include "nlrequest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
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
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		rc = -errno;
		if (rc == -EPROTONOSUPPORT || rc == -EAFNOSUPPORT)
			nlrequest_seterr(err, errlen, "kernel has no nfnetlink: run "
			       "'modprobe nf_conntrack_netlink'; the kernel "
			       "needs CONFIG_NF_CT_NETLINK");
		else
			nlrequest_seterr(err, errlen, "cannot open netfilter netlink "
			       "socket: %s", strerror(-rc));
		goto fail;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		nlrequest_seterr(err, errlen, "cannot bind netfilter netlink socket: %s",
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

/* ---- the expectation ---------------------------------------------------- */

/* mask: source address exact, source port exact or any (the kernel keeps
 * only the source part of the mask), destination exact */
static struct flow exp_mask(const struct expect_request *r)
{
	struct inet_addr ones;

	memset(&ones, 0xff, sizeof(ones));
	ones.family = r->expect.src.family;
	return (struct flow){ ones, ones, r->expect.sport != 0 ? 0xffff : 0,
			      0xffff };
}

static void exp_set_tuple(struct nf_expect *exp, enum nf_expect_attr a,
			  const struct flow *f, struct nf_conntrack *ct)
{
	ctnl_flow_to_ct(f, ct);
	nfexp_set_attr(exp, a, ct);	/* copies ct */
}

/* The NAT part (doc/nat.md section 2), written here with libmnl:
 * libnetfilter_conntrack 1.0.9 (Debian 12) keeps ATTR_EXP_NAT_TUPLE,
 * ATTR_EXP_NAT_DIR and ATTR_EXP_FN but its nfexp_nlmsg_build() does not
 * put them in the message (tests/unit/test_ctnl.c reads the message back
 * with libmnl alone). Kernel facts (sources read, named in doc/nat.md):
 * ctnetlink_parse_expect_nat() takes CTA_EXPECT_NAT_DIR (be32) into
 * exp->dir and the NAT tuple's source into exp->saved_addr/saved_proto;
 * nf_nat_follow_master() then SNATs the data connection to
 * master->tuplehash[!dir].dst and DNATs it to master->tuplehash[!dir].src
 * port saved_proto. ctnetlink_alloc_expect() answers -EINVAL when
 * CTA_EXPECT_FN names a function nobody registered (nf_nat registers
 * "nat-follow-master" when it loads). The NAT tuple's destination is not
 * read; the expected one is sent, as a tuple must have both. */
static void exp_put_addr(struct nlmsghdr *nlh, uint16_t type,
			 const struct inet_addr *a)
{
	if (a->family == AF_INET6)
		mnl_attr_put(nlh, type, sizeof(a->v6), &a->v6);
	else
		mnl_attr_put(nlh, type, sizeof(a->v4), &a->v4);
}

static void exp_put_nat(struct nlmsghdr *nlh, const struct expect_request *r)
{
	bool v6 = r->expect.dst.family == AF_INET6;
	struct nlattr *nat, *tuple, *nest;

	nat = mnl_attr_nest_start(nlh, CTA_EXPECT_NAT);
	mnl_attr_put_u32(nlh, CTA_EXPECT_NAT_DIR, htonl(r->nat_dir));
	tuple = mnl_attr_nest_start(nlh, CTA_EXPECT_NAT_TUPLE);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	exp_put_addr(nlh, v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, &r->nat.address);
	exp_put_addr(nlh, v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, &r->expect.dst);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(r->nat.port));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(r->expect.dport));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
	mnl_attr_nest_end(nlh, nat);
	mnl_attr_put_strz(nlh, CTA_EXPECT_FN, EXPECT_NAT_FN);
}

/* Every expectation this daemon sends (create, update, get, delete) is
 * built here: the data connection source[:port] -> destination:port with
 * its mask, its master (when r names one), timeout and helper (the NAT
 * part is added to the message by expect_build). NULL when out of
 * memory. */
static struct nf_expect *expect_object(const struct expect_request *r)
{
	struct nf_expect *exp = nfexp_new();
	struct nf_conntrack *ct = nfct_new();
	struct flow mask = exp_mask(r);

	if (exp == NULL || ct == NULL) {
		nfexp_destroy(exp);
		nfct_destroy(ct);
		return NULL;
	}
	if (r->master.src.family != 0)
		exp_set_tuple(exp, ATTR_EXP_MASTER, &r->master, ct);
	exp_set_tuple(exp, ATTR_EXP_EXPECTED, &r->expect, ct);
	exp_set_tuple(exp, ATTR_EXP_MASK, &mask, ct);
	if (r->timeout_s != 0)
		nfexp_set_attr_u32(exp, ATTR_EXP_TIMEOUT, r->timeout_s);
	if (r->helper_name != NULL)
		nfexp_set_attr(exp, ATTR_EXP_HELPER_NAME, r->helper_name);
	nfexp_set_attr_u32(exp, ATTR_EXP_CLASS, 0);
	nfexp_set_attr_u32(exp, ATTR_EXP_FLAGS, 0);
	nfct_destroy(ct);
	return exp;
}

int expect_build(struct nlmsghdr *nlh, const struct expect_request *r)
{
	struct nf_expect *exp = expect_object(r);
	int rc;

	if (exp == NULL)
		return -ENOMEM;
	rc = nfexp_nlmsg_build(nlh, exp);
	nfexp_destroy(exp);
	if (rc < 0)
		return -EINVAL;
	if (r->nat.on)
		exp_put_nat(nlh, r);
	return 0;
}

/* Send IPCTNL_MSG_<type> for r's expectation (with CTA_EXPECT_ID when id
 * is not NULL: the library has no such attribute) and read the answer. */
static int expect_talk(struct expect_handle *h, const struct expect_request *r,
		       uint8_t type, uint16_t flags, const uint32_t *id,
		       nlrequest_cb cb, void *data)
{
	char buf[1024] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	int rc;

	nlh = nlrequest_nfnl_put(buf, NFNL_SUBSYS_CTNETLINK_EXP << 8 | type,
				 flags, (uint8_t)r->expect.src.family);
	rc = expect_build(nlh, r);
	if (rc < 0)
		return rc;
	if (id != NULL)
		mnl_attr_put_u32(nlh, CTA_EXPECT_ID, htonl(*id));
	return nlrequest_talk(&h->req, nlh, cb, data);
}

static void fmt_request(char *out, size_t outlen,
			const struct expect_request *r)
{
	char expect[FLOW_STRLEN], master[FLOW_STRLEN];

	snprintf(out, outlen, "tcp %s (master tcp %s)",
		 flow_format(&r->expect, expect, sizeof(expect)),
		 flow_format(&r->master, master, sizeof(master)));
}

/* ---- reading an expectation back -------------------------------------- */

struct exp_found {
	struct ctnl_msg m;
	bool seen;
};

static int exp_found_cb(const struct nlmsghdr *nlh, void *data)
{
	struct exp_found *f = data;

	if (ctnl_parse(nlh, &f->m) == 0 && f->m.kind == CTNL_EXP_NEW)
		f->seen = true;
	return 0;
}

/* The expectation the kernel has for r's tuple, into *f: 0, -ENOENT when
 * there is none, or -errno. */
static int exp_get(struct expect_handle *h, const struct expect_request *r,
		   struct exp_found *f)
{
	int rc;

	f->seen = false;
	rc = expect_talk(h, r, IPCTNL_MSG_EXP_GET, NLM_F_ACK, NULL,
			 exp_found_cb, f);
	if (rc == 0 && !f->seen)
		rc = -ENOENT;
	return rc;
}

/* The expectation the kernel has for r's tuple: belongs to r's master?
 * Returns 1 same master, 0 another master, -ENOENT gone, or -errno. Its
 * ID goes to *id. */
static int existing_is_ours(struct expect_handle *h,
			    const struct expect_request *r, uint32_t *id)
{
	struct exp_found f;
	int rc = exp_get(h, r, &f);

	if (rc < 0)
		return rc;
	if (id != NULL)
		*id = f.m.id;
	return flow_equal(&f.m.master, &r->master) ? 1 : 0;
}

/* Set the timeout of the existing expectation (no NLM_F_CREATE). */
static int update_timeout(struct expect_handle *h,
			  const struct expect_request *r)
{
	return expect_talk(h, r, IPCTNL_MSG_EXP_NEW, NLM_F_ACK, NULL, NULL, NULL);
}

static int check_request(const struct expect_request *r, char *err,
			 size_t errlen)
{
	int f = r->expect.src.family;

	if (f != AF_INET && f != AF_INET6) {
		nlrequest_seterr(err, errlen, "expectation without an address family");
		return -EINVAL;
	}
	if (r->expect.dst.family != f || r->master.src.family != f ||
	    r->master.dst.family != f) {
		nlrequest_seterr(err, errlen, "expectation mixes IPv4 and IPv6 "
		       "addresses");
		return -EINVAL;
	}
	if (r->expect.dport == 0) {
		nlrequest_seterr(err, errlen, "expectation for port 0");
		return -EINVAL;
	}
	if (r->helper_name != NULL && strlen(r->helper_name) > EXP_NAME_MAX) {
		nlrequest_seterr(err, errlen, "helper name '%s' is longer than %d "
		       "characters", r->helper_name, EXP_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Why the kernel refused: the errors an install and a removal share, then
 * each one's own, with the kernel's extended-ack text when it sent one. */
static void explain(struct expect_handle *h, int rc, bool removing, bool nat,
		    const char *tuple, char *err, size_t errlen)
{
	const char *why;

	if (nat && !removing && rc == -EINVAL)
		why = "the kernel does not know the expectation function "
		      EXPECT_NAT_FN ", needed for a NATed control connection: "
		      "nf_nat is not loaded (modprobe nf_nat)";
	else if (rc == -EPERM)
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
	else if (rc == -EAGAIN)
		why = "another expectation for the same tuple was used or "
		      "expired twice while this one was being installed "
		      "(a busy port: the client may retry)";
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
	nlrequest_seterr(err, errlen, "cannot %s expectation %s: %s%s%s%s",
	       removing ? "remove" : "install", tuple, why,
	       h->req.ext[0] ? " (kernel: " : "", h->req.ext,
	       h->req.ext[0] ? ")" : "");
}

/* Create r's expectation; an existing one for the tuple is refreshed when
 * it is r's master's, a clash (-EBUSY) otherwise. -EAGAIN when the
 * existing one vanished (used or expired) both times it was looked at. */
static int expect_create(struct expect_handle *h, const struct expect_request *r)
{
	int rc, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		rc = expect_talk(h, r, IPCTNL_MSG_EXP_NEW,
				 NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NULL,
				 NULL, NULL);
		if (rc != -EEXIST)
			return rc;
		rc = existing_is_ours(h, r, NULL);
		if (rc == 0)
			return -EBUSY;	/* another control connection's */
		if (rc == 1)
			rc = update_timeout(h, r);
		if (rc != -ENOENT)
			return rc;
		/* expired or used meanwhile: try again */
	}
	return -EAGAIN;
}

int expect_install(struct expect_handle *h, const struct expect_request *r,
		   char *err, size_t errlen)
{
	char tuple[320];
	int rc;

	if (h == NULL || r == NULL)
		return -EINVAL;
	rc = check_request(r, err, errlen);
	if (rc < 0)
		return rc;
	fmt_request(tuple, sizeof(tuple), r);
	rc = expect_create(h, r);
	if (rc == 0 && r->timeout_s != 0 && r->timeout_s != h->policy_timeout_s) {
		/* The create took the helper policy's timeout; set ours
		 * (a refresh set it already; again does no harm).
		 * -ENOENT: already used by the data connection, fine. */
		rc = update_timeout(h, r);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc < 0)
		explain(h, rc, false, r->nat.on, tuple, err, errlen);
	return rc;
}

int expect_remove(struct expect_handle *h, const struct expect_request *r,
		  char *err, size_t errlen)
{
	char tuple[320];
	uint32_t id = 0;
	int rc;

	if (h == NULL || r == NULL)
		return -EINVAL;
	rc = check_request(r, err, errlen);
	if (rc < 0)
		return rc;
	fmt_request(tuple, sizeof(tuple), r);

	/* Look first: the tuple alone could name an expectation another
	 * connection created after ours was used. The ID makes the delete
	 * miss (-ENOENT) if what we checked was used and replaced in
	 * between. */
	rc = existing_is_ours(h, r, &id);
	if (rc == 0)
		rc = -EBUSY;
	if (rc > 0)
		rc = expect_talk(h, r, IPCTNL_MSG_EXP_DELETE, NLM_F_ACK,
				 id != 0 ? &id : NULL, NULL, NULL);
	if (rc < 0)
		explain(h, rc, true, false, tuple, err, errlen);
	return rc < 0 ? rc : 0;
}

/* ---- listing ------------------------------------------------------------ */

struct list_ctx {
	const char *name;
	void (*cb)(const struct ctnl_msg *m, void *data);
	void *data;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *lc = data;
	struct ctnl_msg m;

	if (ctnl_parse(nlh, &m) == 0 && m.kind == CTNL_EXP_NEW &&
	    strcmp(m.helper, lc->name) == 0)
		lc->cb(&m, lc->data);
	return 0;
}

int expect_list(struct expect_handle *h, const char *helper_name,
		void (*cb)(const struct ctnl_msg *m, void *data), void *data)
{
	char buf[256] __attribute__((aligned(8)));
	struct list_ctx lc = { helper_name, cb, data };
	struct nlmsghdr *nlh;

	if (h == NULL || helper_name == NULL || cb == NULL)
		return -EINVAL;
	/* AF_UNSPEC: every family; a dump ends with NLMSG_DONE, no ACK */
	nlh = nlrequest_nfnl_put(buf, NFNL_SUBSYS_CTNETLINK_EXP << 8 |
				 IPCTNL_MSG_EXP_GET, NLM_F_DUMP, AF_UNSPEC);
	return nlrequest_talk(&h->req, nlh, list_cb, &lc);
}

int expect_lookup(struct expect_handle *h, const struct expect_request *r,
		  struct ctnl_msg *out)
{
	struct exp_found f;
	int rc;

	if (h == NULL || r == NULL || out == NULL)
		return -EINVAL;
	rc = exp_get(h, r, &f);
	if (rc == 0)
		*out = f.m;
	return rc;
}
