/* ctnl: ctnetlink parsing and queries over libmnl.
 *
 * Kernel facts relied on (Debian's linux-source-6.1, 6.1.192,
 * net/netfilter/nf_conntrack_netlink.c):
 *  - Conntrack messages (ctnetlink_fill_info, ctnetlink_conntrack_event):
 *    CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ID (be32), CTA_STATUS (be32),
 *    CTA_TIMEOUT (be32, seconds), CTA_PROTOINFO { CTA_PROTOINFO_TCP {
 *    CTA_PROTOINFO_TCP_STATE u8 } }; CTA_TUPLE_MASTER (the master's
 *    original tuple) in a dump whenever ct->master is set, and in a NEW
 *    event only when it carries IPCT_RELATED, i.e. for a connection that
 *    an expectation created (__nf_conntrack_confirm caches IPCT_RELATED
 *    instead of IPCT_NEW when master_ct(ct)).
 *  - Expectation messages (ctnetlink_exp_dump_expect): CTA_EXPECT_TUPLE,
 *    CTA_EXPECT_MASK, CTA_EXPECT_MASTER, CTA_EXPECT_TIMEOUT (be32, seconds
 *    left), CTA_EXPECT_ID, CTA_EXPECT_FLAGS, CTA_EXPECT_CLASS (be32),
 *    CTA_EXPECT_HELP_NAME (string) when the expectation has a helper.
 *  - Tuples: CTA_TUPLE_IP { CTA_IP_V4_SRC/DST (4 bytes) | CTA_IP_V6_SRC/DST
 *    (16 bytes) }, CTA_TUPLE_PROTO { CTA_PROTO_NUM u8, CTA_PROTO_SRC_PORT,
 *    CTA_PROTO_DST_PORT be16 }. A mask tuple has the same shape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctnl.h"
#include "nlrequest.h"

#define CTNL_TIMEOUT_S 2
#define CTNL_BUFSIZE 65536

struct ctnl_attrs {
	const struct nlattr **tb;
	unsigned max;
};

static int ctnl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct ctnl_attrs *a = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= a->max)
		a->tb[type] = attr;	/* newer kernels' extras: ignored */
	return MNL_CB_OK;
}

static bool ctnl_nested(const struct nlattr *nest, const struct nlattr **tb,
			unsigned max)
{
	struct ctnl_attrs a = { tb, max };

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return nest != NULL && mnl_attr_validate(nest, MNL_TYPE_NESTED) == 0 &&
	       mnl_attr_parse_nested(nest, ctnl_attr_cb, &a) >= 0;
}

static bool ctnl_u32(const struct nlattr *a, uint32_t *v)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

static bool ctnl_addr(const struct nlattr *a, int family, struct inet_addr *out)
{
	size_t len = family == AF_INET6 ? 16 : 4;

	if (a == NULL || mnl_attr_get_payload_len(a) != len)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = family;
	memcpy(family == AF_INET6 ? (void *)&out->v6 : (void *)&out->v4,
	       mnl_attr_get_payload(a), len);
	return true;
}

int ctnl_parse_tuple(const void *nest_attr, struct ctnl_tuple *t)
{
	const struct nlattr *nest = nest_attr;
	const struct nlattr *tt[CTA_TUPLE_MAX + 1];
	const struct nlattr *ip[CTA_IP_MAX + 1];
	const struct nlattr *pr[CTA_PROTO_MAX + 1];

	memset(t, 0, sizeof(*t));
	if (!ctnl_nested(nest, tt, CTA_TUPLE_MAX) ||
	    !ctnl_nested(tt[CTA_TUPLE_IP], ip, CTA_IP_MAX))
		return -EINVAL;
	if (ip[CTA_IP_V4_SRC] != NULL || ip[CTA_IP_V4_DST] != NULL) {
		if (!ctnl_addr(ip[CTA_IP_V4_SRC], AF_INET, &t->src) ||
		    !ctnl_addr(ip[CTA_IP_V4_DST], AF_INET, &t->dst))
			return -EINVAL;
	} else if (!ctnl_addr(ip[CTA_IP_V6_SRC], AF_INET6, &t->src) ||
		   !ctnl_addr(ip[CTA_IP_V6_DST], AF_INET6, &t->dst)) {
		return -EINVAL;
	}
	if (!ctnl_nested(tt[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX))
		return -EINVAL;
	if (pr[CTA_PROTO_NUM] == NULL ||
	    mnl_attr_validate(pr[CTA_PROTO_NUM], MNL_TYPE_U8) < 0)
		return -EINVAL;
	t->proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (pr[CTA_PROTO_SRC_PORT] != NULL) {
		if (mnl_attr_validate(pr[CTA_PROTO_SRC_PORT], MNL_TYPE_U16) < 0)
			return -EINVAL;
		t->sport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]));
	}
	if (pr[CTA_PROTO_DST_PORT] != NULL) {
		if (mnl_attr_validate(pr[CTA_PROTO_DST_PORT], MNL_TYPE_U16) < 0)
			return -EINVAL;
		t->dport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]));
	}
	return 0;
}

void ctnl_put_tuple(struct nlmsghdr *nlh, uint16_t type,
		    const struct ctnl_tuple *t)
{
	struct nlattr *tuple, *ip, *proto;

	tuple = mnl_attr_nest_start(nlh, type);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (t->src.family == AF_INET6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, sizeof(t->src.v6), &t->src.v6);
		mnl_attr_put(nlh, CTA_IP_V6_DST, sizeof(t->dst.v6), &t->dst.v6);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, sizeof(t->src.v4), &t->src.v4);
		mnl_attr_put(nlh, CTA_IP_V4_DST, sizeof(t->dst.v4), &t->dst.v4);
	}
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tuple);
}

bool ctnl_tuple_equal(const struct ctnl_tuple *a, const struct ctnl_tuple *b)
{
	return inet_addr_equal(&a->src, &b->src) &&
	       inet_addr_equal(&a->dst, &b->dst) &&
	       a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto;
}

static int ctnl_parse_ct(const struct nlattr **tb, struct ctnl_msg *m)
{
	const struct nlattr *pi[CTA_PROTOINFO_MAX + 1];
	const struct nlattr *tcp[CTA_PROTOINFO_TCP_MAX + 1];

	if (tb[CTA_TUPLE_ORIG] == NULL ||
	    ctnl_parse_tuple(tb[CTA_TUPLE_ORIG], &m->tuple) < 0)
		return -EINVAL;
	if (tb[CTA_TUPLE_REPLY] != NULL &&
	    ctnl_parse_tuple(tb[CTA_TUPLE_REPLY], &m->other) < 0)
		return -EINVAL;
	if (tb[CTA_TUPLE_MASTER] != NULL) {
		if (ctnl_parse_tuple(tb[CTA_TUPLE_MASTER], &m->master) < 0)
			return -EINVAL;
		m->has_master = true;
	}
	ctnl_u32(tb[CTA_ID], &m->id);
	ctnl_u32(tb[CTA_STATUS], &m->status);
	ctnl_u32(tb[CTA_TIMEOUT], &m->timeout_s);
	if (tb[CTA_PROTOINFO] != NULL &&
	    ctnl_nested(tb[CTA_PROTOINFO], pi, CTA_PROTOINFO_MAX) &&
	    ctnl_nested(pi[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX) &&
	    tcp[CTA_PROTOINFO_TCP_STATE] != NULL &&
	    mnl_attr_validate(tcp[CTA_PROTOINFO_TCP_STATE], MNL_TYPE_U8) == 0) {
		m->tcp_state = mnl_attr_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
		m->has_tcp_state = true;
	}
	return 0;
}

static int ctnl_parse_exp(const struct nlattr **tb, struct ctnl_msg *m)
{
	const struct nlattr *h = tb[CTA_EXPECT_HELP_NAME];

	if (tb[CTA_EXPECT_TUPLE] == NULL || tb[CTA_EXPECT_MASTER] == NULL ||
	    ctnl_parse_tuple(tb[CTA_EXPECT_TUPLE], &m->tuple) < 0 ||
	    ctnl_parse_tuple(tb[CTA_EXPECT_MASTER], &m->master) < 0)
		return -EINVAL;
	m->has_master = true;
	if (tb[CTA_EXPECT_MASK] != NULL &&
	    ctnl_parse_tuple(tb[CTA_EXPECT_MASK], &m->other) < 0)
		return -EINVAL;
	ctnl_u32(tb[CTA_EXPECT_ID], &m->id);
	ctnl_u32(tb[CTA_EXPECT_TIMEOUT], &m->timeout_s);
	ctnl_u32(tb[CTA_EXPECT_FLAGS], &m->flags);
	if (h != NULL && mnl_attr_validate(h, MNL_TYPE_NUL_STRING) == 0)
		snprintf(m->helper, sizeof(m->helper), "%s", mnl_attr_get_str(h));
	return 0;
}

int ctnl_parse(const struct nlmsghdr *nlh, struct ctnl_msg *out)
{
	const struct nlattr *tb[CTA_MAX > CTA_EXPECT_MAX ? CTA_MAX + 1 : CTA_EXPECT_MAX + 1];
	const struct nfgenmsg *nfg;
	unsigned subsys = nlh->nlmsg_type >> 8, type = nlh->nlmsg_type & 0xff;
	struct ctnl_attrs a = { tb, 0 };

	memset(out, 0, sizeof(*out));
	if (nlh->nlmsg_len < NLMSG_HDRLEN ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
		return -ENOENT;
	if (subsys == NFNL_SUBSYS_CTNETLINK && type == IPCTNL_MSG_CT_NEW)
		out->kind = CTNL_CT_NEW;
	else if (subsys == NFNL_SUBSYS_CTNETLINK && type == IPCTNL_MSG_CT_DELETE)
		out->kind = CTNL_CT_DELETE;
	else if (subsys == NFNL_SUBSYS_CTNETLINK_EXP && type == IPCTNL_MSG_EXP_NEW)
		out->kind = CTNL_EXP_NEW;
	else if (subsys == NFNL_SUBSYS_CTNETLINK_EXP && type == IPCTNL_MSG_EXP_DELETE)
		out->kind = CTNL_EXP_DELETE;
	else
		return -ENOENT;
	nfg = mnl_nlmsg_get_payload(nlh);
	out->family = nfg->nfgen_family;
	a.max = subsys == NFNL_SUBSYS_CTNETLINK ? CTA_MAX : CTA_EXPECT_MAX;
	memset(tb, 0, sizeof(tb));
	if (mnl_attr_parse(nlh, sizeof(*nfg), ctnl_attr_cb, &a) < 0)
		return -EINVAL;
	if (subsys == NFNL_SUBSYS_CTNETLINK)
		return ctnl_parse_ct(tb, out);
	return ctnl_parse_exp(tb, out);
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
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open a ctnetlink socket: %s (modprobe nf_conntrack_netlink)",
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
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(c->req_msg);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
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
