/* cthelper: register ftpgate as a userspace conntrack helper
 * (nfnetlink_cthelper), with libmnl, one NETLINK_NETFILTER socket per call.
 *
 * Kernel behaviour relied on (read in Debian's linux-source-6.1, 6.1.192):
 *
 * net/netfilter/nfnetlink_cthelper.c
 *  - nfnl_cthelper_new(): a helper is identified by name + l3num + l4proto.
 *    NLM_F_CREATE is ignored: if the helper exists it is updated
 *    (nfnl_cthelper_update), unless NLM_F_EXCL is set (-EEXIST); if it does
 *    not exist it is created (nfnl_cthelper_create), which needs NFCTH_TUPLE,
 *    NFCTH_POLICY and NFCTH_PRIV_DATA_LEN (else -EINVAL: "a bare configure on
 *    a missing helper gets EINVAL"). So one NEW without NLM_F_EXCL and with
 *    every attribute is "create, or reconfigure if it exists".
 *  - nfnl_cthelper_update(): -EBUSY if NFCTH_PRIV_DATA_LEN differs from the
 *    live helper, if the number of expect classes differs, or if a policy
 *    name differs (nfnl_cthelper_update_policy_one). Queue number, expect
 *    max/timeout and status may change at any time.
 *  - nfnl_cthelper_create(): private data length > 32 (sizeof
 *    nf_conn_help.data) -> -ENOMEM; expect max > NF_CT_EXPECT_MAX_CNT (255)
 *    -> -EINVAL. A helper created without NFCTH_STATUS is *disabled*:
 *    nfnl_userspace_cthelper() returns NF_ACCEPT unless
 *    NF_CT_HELPER_F_CONFIGURED is set, so we always send NFCTH_STATUS.
 *  - Wire types: NFCTH_NAME and NFCTH_POLICY_NAME NUL-terminated strings of at
 *    most 15 characters; NFCTH_TUPLE_L3PROTONUM be16; NFCTH_TUPLE_L4PROTONUM
 *    u8; NFCTH_QUEUE_NUM, NFCTH_PRIV_DATA_LEN, NFCTH_STATUS,
 *    NFCTH_POLICY_SET_NUM, NFCTH_POLICY_EXPECT_MAX, NFCTH_POLICY_EXPECT_TIMEOUT
 *    be32 (all read with ntohl(nla_get_be32())).
 *  - nfnl_cthelper_get() without NLM_F_DUMP: replies with the first helper
 *    matching name (and tuple, if given), -ENOENT if none.
 * net/netfilter/nf_conntrack_helper.c nf_conntrack_helper_register(): -EBUSY
 *    if any helper (also an in-kernel one) has the same name and protocols.
 * net/netfilter/nfnetlink.c nfnetlink_rcv_msg(): a message for a subsystem
 *    that is not registered (module not loaded and request_module() did not
 *    load it) fails with -EINVAL, not -EOPNOTSUPP (that is only the batch
 *    path). We tell that case apart by asking a GET first, which cannot
 *    otherwise fail with -EINVAL for a well-formed name and tuple, and report
 *    it as -EOPNOTSUPP with the modprobe hint.
 *
 * Why libmnl here and not libnetfilter_cthelper (Debian's 1.0.x, the
 * library conntrackd uses): building, it would replace the fifteen
 * attribute puts below with as many setter calls on allocated helper and
 * policy objects. Reading a GET answer, it is unsafe: its policy-set
 * parser reads NFCTH_POLICY_SET_NUM entries (a number from the message)
 * of a six-entry table and appends each policy to a fixed array with no
 * bound check, it reads NFCTH_STATUS and NFCTH_PRIV_DATA_LEN without
 * checking their size, and it prints validation failures to stderr.
 * cth_info_cb below checks every attribute it reads. Registration runs at
 * start-up and on a reload only; nothing on the packet path.
 */
#include "cthelper.h"
#include "nlrequest.h"

#include <errno.h>
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
#include <linux/netfilter/nfnetlink_cthelper.h>

/* Kernel limits (include/net/netfilter/nf_conntrack_helper.h, _expect.h). */
#define CTH_NAME_MAX		15	/* NF_CT_HELPER_NAME_LEN - 1 */
#define CTH_PRIV_DATA_MAX	32	/* sizeof(struct nf_conn_help).data */
#define CTH_EXPECT_MAX_CNT	255	/* NF_CT_EXPECT_MAX_CNT */
#define CTH_TIMEOUT_S		5	/* wait for a reply this long */

#define CTH_NO_SUPPORT_MSG \
	"kernel has no userspace conntrack helper support (nfnetlink_cthelper): " \
	"run 'modprobe nfnetlink_cthelper'; the kernel needs " \
	"CONFIG_NF_CT_NETLINK_HELPER"

static const int cth_families[] = { AF_INET, AF_INET6 };

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* ---- one socket per call ----------------------------------------------- */

/* Receive buffer, on the heap: a GET answers with one helper (a few
 * hundred bytes); cthelper sends no dumps. */
#define CTH_BUFSIZE		8192

struct nlconn {
	struct nlrequest req;
	char *buf;
};

static void nlconn_close(struct nlconn *c)
{
	if (c->req.nl != NULL)
		mnl_socket_close(c->req.nl);
	c->req.nl = NULL;
	free(c->buf);
	c->buf = NULL;
}

static int nlconn_open(struct nlconn *c, char *err, size_t errlen)
{
	struct mnl_socket *nl;
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->buf = malloc(CTH_BUFSIZE);
	if (c->buf == NULL) {
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		int e = errno;

		if (e == EPROTONOSUPPORT || e == EAFNOSUPPORT) {
			nlrequest_seterr(err, errlen, "%s (no nfnetlink socket: %s)",
			       CTH_NO_SUPPORT_MSG, strerror(e));
			nlconn_close(c);
			return -EOPNOTSUPP;
		}
		nlrequest_seterr(err, errlen, "cannot open netfilter netlink socket: %s",
		       strerror(e));
		nlconn_close(c);
		return -e;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		nlrequest_seterr(err, errlen, "cannot bind netfilter netlink socket: %s",
		       strerror(e));
		mnl_socket_close(nl);
		nlconn_close(c);
		return -e;
	}
	nlrequest_init(&c->req, nl, (uint32_t)time(NULL), c->buf, CTH_BUFSIZE,
		       CTH_TIMEOUT_S);
	/* Best effort: short error replies carrying the kernel's reason. */
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	return 0;
}

/* ---- cthelper messages ------------------------------------------------- */

static struct nlmsghdr *cth_msg(char *buf, uint8_t type, uint16_t flags)
{
	return nlrequest_nfnl_put(buf, NFNL_SUBSYS_CTHELPER << 8 | type, flags,
				  AF_UNSPEC);
}

static void cth_put_name_tuple(struct nlmsghdr *nlh, const char *name,
			       int family)
{
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFCTH_NAME, name);
	nest = mnl_attr_nest_start(nlh, NFCTH_TUPLE);
	mnl_attr_put_u16(nlh, NFCTH_TUPLE_L3PROTONUM, htons((uint16_t)family));
	mnl_attr_put_u8(nlh, NFCTH_TUPLE_L4PROTONUM, IPPROTO_TCP);
	mnl_attr_nest_end(nlh, nest);
}

/* What GET tells about one helper. */
struct cth_info {
	bool found;
	uint32_t queue_number;
	uint32_t status;
	uint32_t private_data_length;
	uint32_t policy_count;
	char policy_name[CTH_NAME_MAX + 1];
	uint32_t expect_max;
	uint32_t expect_timeout;
};

static int cth_u32_attr_ok(const struct nlattr *a)
{
	return mnl_attr_validate(a, MNL_TYPE_U32) == 0;
}

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

static int parse_nested(const struct nlattr *nest, const struct nlattr **tb,
			unsigned int max)
{
	struct attr_table t = { tb, max };

	memset(tb, 0, sizeof(*tb) * (max + 1));
	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return -EPROTO;
	return mnl_attr_parse_nested(nest, table_cb, &t) < 0 ? -EPROTO : 0;
}

static int cth_info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cth_info *info = data;
	const struct nlattr *tb[NFCTH_MAX + 1] = { NULL };
	const struct nlattr *pol[NFCTH_POLICY_SET_MAX + 1];
	const struct nlattr *set[NFCTH_POLICY_MAX + 1];
	struct attr_table t = { tb, NFCTH_MAX };

	if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTHELPER ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return 0;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_cb, &t) < 0)
		return -EPROTO;
	if (info->found)
		return 0;	/* first match only, as the kernel does */

	memset(info, 0, sizeof(*info));
	info->found = true;
	if (tb[NFCTH_QUEUE_NUM] && cth_u32_attr_ok(tb[NFCTH_QUEUE_NUM]))
		info->queue_number = ntohl(mnl_attr_get_u32(tb[NFCTH_QUEUE_NUM]));
	if (tb[NFCTH_STATUS] && cth_u32_attr_ok(tb[NFCTH_STATUS]))
		info->status = ntohl(mnl_attr_get_u32(tb[NFCTH_STATUS]));
	if (tb[NFCTH_PRIV_DATA_LEN] && cth_u32_attr_ok(tb[NFCTH_PRIV_DATA_LEN]))
		info->private_data_length =
			ntohl(mnl_attr_get_u32(tb[NFCTH_PRIV_DATA_LEN]));
	if (tb[NFCTH_POLICY] &&
	    parse_nested(tb[NFCTH_POLICY], pol, NFCTH_POLICY_SET_MAX) == 0) {
		if (pol[NFCTH_POLICY_SET_NUM] &&
		    cth_u32_attr_ok(pol[NFCTH_POLICY_SET_NUM]))
			info->policy_count =
				ntohl(mnl_attr_get_u32(pol[NFCTH_POLICY_SET_NUM]));
		if (pol[NFCTH_POLICY_SET] &&
		    parse_nested(pol[NFCTH_POLICY_SET], set,
				 NFCTH_POLICY_MAX) == 0) {
			if (set[NFCTH_POLICY_NAME] &&
			    mnl_attr_validate(set[NFCTH_POLICY_NAME],
					      MNL_TYPE_NUL_STRING) == 0)
				snprintf(info->policy_name,
					 sizeof(info->policy_name), "%s",
					 mnl_attr_get_str(set[NFCTH_POLICY_NAME]));
			if (set[NFCTH_POLICY_EXPECT_MAX] &&
			    cth_u32_attr_ok(set[NFCTH_POLICY_EXPECT_MAX]))
				info->expect_max = ntohl(mnl_attr_get_u32(
					set[NFCTH_POLICY_EXPECT_MAX]));
			if (set[NFCTH_POLICY_EXPECT_TIMEOUT] &&
			    cth_u32_attr_ok(set[NFCTH_POLICY_EXPECT_TIMEOUT]))
				info->expect_timeout = ntohl(mnl_attr_get_u32(
					set[NFCTH_POLICY_EXPECT_TIMEOUT]));
		}
	}
	return 0;
}

/* Common errno -> message for every cthelper request. */
static int cth_fail(struct nlconn *c, int rc, const char *what,
		    const char *name, int family, char *err, size_t errlen)
{
	const char *ext = c->req.ext[0] ? c->req.ext : NULL;

	switch (rc) {
	case -EPERM:
		nlrequest_seterr(err, errlen, "%s helper '%s' (%s/TCP): permission denied "
		       "(ftpgated needs CAP_NET_ADMIN)", what, name,
		       family_name(family));
		break;
	case -ETIMEDOUT:
		nlrequest_seterr(err, errlen, "%s helper '%s' (%s/TCP): no answer from "
		       "the kernel within %d s", what, name,
		       family_name(family), CTH_TIMEOUT_S);
		break;
	default:
		nlrequest_seterr(err, errlen, "%s helper '%s' (%s/TCP): %s%s%s%s", what,
		       name, family_name(family), strerror(-rc),
		       ext ? " (kernel: " : "", ext ? ext : "",
		       ext ? ")" : "");
	}
	return rc;
}

/* GET one helper. 0 with info->found true/false, -EOPNOTSUPP (with the
 * modprobe hint) if the kernel has no cthelper subsystem, or -errno. */
static int cth_get(struct nlconn *c, const char *name, int family,
		   struct cth_info *info, char *err, size_t errlen)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	int rc;

	memset(info, 0, sizeof(*info));
	nlh = cth_msg(buf, NFNL_MSG_CTHELPER_GET, NLM_F_ACK);
	cth_put_name_tuple(nlh, name, family);
	rc = nlrequest_talk(&c->req, nlh, cth_info_cb, info);
	if (rc == -ENOENT) {
		info->found = false;
		return 0;
	}
	if (rc == -EINVAL) {
		/* nfnetlink_rcv_msg(): no such subsystem (see top). */
		nlrequest_seterr(err, errlen, "%s", CTH_NO_SUPPORT_MSG);
		return -EOPNOTSUPP;
	}
	if (rc < 0)
		return cth_fail(c, rc, "query", name, family, err, errlen);
	return 0;
}

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t len;

	if (name == NULL || (len = strlen(name)) == 0) {
		nlrequest_seterr(err, errlen, "helper name is empty");
		return -EINVAL;
	}
	if (len > CTH_NAME_MAX) {
		nlrequest_seterr(err, errlen, "helper name '%s' is longer than %d "
		       "characters (kernel limit)", name, CTH_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The live helper has a property the kernel will not change on update. */
static int cth_check_compatible(const struct cthelper_params *p, int family,
				const struct cth_info *info, char *err,
				size_t errlen)
{
	char what[160];

	what[0] = '\0';
	if (info->private_data_length != p->private_data_length)
		snprintf(what, sizeof(what), "private data length %u (we need "
			 "%u)", info->private_data_length,
			 p->private_data_length);
	else if (info->policy_count != 1)
		snprintf(what, sizeof(what), "%u expect classes (we need 1)",
			 info->policy_count);
	else if (strcmp(info->policy_name, p->name) != 0)
		snprintf(what, sizeof(what), "expect policy named '%s' (we "
			 "need '%s')", info->policy_name, p->name);
	if (what[0] == '\0')
		return 0;
	nlrequest_seterr(err, errlen, "helper '%s' (%s/TCP) is already registered with "
	       "%s, which the kernel cannot change on a live helper; delete it "
	       "('nfct helper delete %s %s tcp', after removing the nft ct "
	       "helper objects that name it) and start again", p->name,
	       family_name(family), what, p->name,
	       family == AF_INET6 ? "inet6" : "inet");
	return -EBUSY;
}

int cthelper_register(const struct cthelper_params *p, char *err,
		      size_t errlen)
{
	struct nlconn c;
	size_t i;
	int rc;

	if (p == NULL) {
		nlrequest_seterr(err, errlen, "no helper parameters");
		return -EINVAL;
	}
	rc = check_name(p->name, err, errlen);
	if (rc < 0)
		return rc;
	if (p->expect_max > CTH_EXPECT_MAX_CNT) {
		nlrequest_seterr(err, errlen, "expect max %u is above the kernel limit "
		       "of %d", p->expect_max, CTH_EXPECT_MAX_CNT);
		return -EINVAL;
	}
	if (p->expect_timeout_s == 0) {
		nlrequest_seterr(err, errlen, "expectation timeout must be at least 1 s");
		return -EINVAL;
	}
	if (p->private_data_length > CTH_PRIV_DATA_MAX) {
		nlrequest_seterr(err, errlen, "private data length %u is above the kernel "
		       "limit of %d", p->private_data_length,
		       CTH_PRIV_DATA_MAX);
		return -EINVAL;
	}

	rc = nlconn_open(&c, err, errlen);
	if (rc < 0)
		return rc;

	for (i = 0; i < sizeof(cth_families) / sizeof(cth_families[0]); i++) {
		int family = cth_families[i];
		char buf[1024] __attribute__((aligned(8)));
		struct cth_info info;
		struct nlmsghdr *nlh;
		struct nlattr *policy, *set;

		rc = cth_get(&c, p->name, family, &info, err, errlen);
		if (rc < 0)
			goto out;
		if (info.found) {
			rc = cth_check_compatible(p, family, &info, err, errlen);
			if (rc < 0)
				goto out;
		}

		/* No NLM_F_EXCL: create, or update the existing helper. */
		nlh = cth_msg(buf, NFNL_MSG_CTHELPER_NEW,
			      NLM_F_CREATE | NLM_F_ACK);
		cth_put_name_tuple(nlh, p->name, family);
		mnl_attr_put_u32(nlh, NFCTH_QUEUE_NUM, htonl(p->queue_number));
		policy = mnl_attr_nest_start(nlh, NFCTH_POLICY);
		mnl_attr_put_u32(nlh, NFCTH_POLICY_SET_NUM, htonl(1));
		set = mnl_attr_nest_start(nlh, NFCTH_POLICY_SET);
		mnl_attr_put_strz(nlh, NFCTH_POLICY_NAME, p->name);
		mnl_attr_put_u32(nlh, NFCTH_POLICY_EXPECT_MAX,
				 htonl(p->expect_max));
		mnl_attr_put_u32(nlh, NFCTH_POLICY_EXPECT_TIMEOUT,
				 htonl(p->expect_timeout_s));
		mnl_attr_nest_end(nlh, set);
		mnl_attr_nest_end(nlh, policy);
		mnl_attr_put_u32(nlh, NFCTH_PRIV_DATA_LEN,
				 htonl(p->private_data_length));
		mnl_attr_put_u32(nlh, NFCTH_STATUS,
				 htonl(p->enabled ? NFCT_HELPER_STATUS_ENABLED
						  : NFCT_HELPER_STATUS_DISABLED));

		rc = nlrequest_talk(&c.req, nlh, NULL, NULL);
		if (rc == -EBUSY && !info.found) {
			nlrequest_seterr(err, errlen, "cannot create helper '%s' (%s/TCP): "
			       "another conntrack helper with that name exists "
			       "(an in-kernel helper, or one created just now)",
			       p->name, family_name(family));
			goto out;
		}
		if (rc == -EBUSY) {
			nlrequest_seterr(err, errlen, "cannot reconfigure helper '%s' "
			       "(%s/TCP): the kernel refused to change it "
			       "(private data length or expect policy differs)",
			       p->name, family_name(family));
			goto out;
		}
		if (rc < 0) {
			cth_fail(&c, rc, info.found ? "reconfigure" : "create",
				 p->name, family, err, errlen);
			goto out;
		}
	}
	rc = 0;
out:
	nlconn_close(&c);
	return rc;
}

int cthelper_set_enabled(const char *name, bool enabled, char *err,
			 size_t errlen)
{
	struct nlconn c;
	size_t i;
	int rc, seen = 0;

	rc = check_name(name, err, errlen);
	if (rc < 0)
		return rc;
	rc = nlconn_open(&c, err, errlen);
	if (rc < 0)
		return rc;

	for (i = 0; i < sizeof(cth_families) / sizeof(cth_families[0]); i++) {
		int family = cth_families[i];
		char buf[512] __attribute__((aligned(8)));
		struct cth_info info;
		struct nlmsghdr *nlh;

		/* A status-only NEW for a missing helper would try to create
		 * it and fail with EINVAL: look first. */
		rc = cth_get(&c, name, family, &info, err, errlen);
		if (rc < 0)
			goto out;
		if (!info.found)
			continue;
		seen++;
		nlh = cth_msg(buf, NFNL_MSG_CTHELPER_NEW, NLM_F_ACK);
		cth_put_name_tuple(nlh, name, family);
		mnl_attr_put_u32(nlh, NFCTH_STATUS,
				 htonl(enabled ? NFCT_HELPER_STATUS_ENABLED
					       : NFCT_HELPER_STATUS_DISABLED));
		rc = nlrequest_talk(&c.req, nlh, NULL, NULL);
		if (rc < 0) {
			cth_fail(&c, rc, enabled ? "enable" : "disable", name,
				 family, err, errlen);
			goto out;
		}
	}
	if (seen == 0 && enabled) {
		nlrequest_seterr(err, errlen, "helper '%s' is not registered", name);
		rc = -ENOENT;
		goto out;
	}
	rc = 0;	/* disabling a helper that does not exist: nothing to do */
out:
	nlconn_close(&c);
	return rc;
}

int cthelper_query(const char *name, uint16_t *queue_number, bool *enabled,
		   char *err, size_t errlen)
{
	struct cth_info info;
	struct nlconn c;
	int rc;

	rc = check_name(name, err, errlen);
	if (rc < 0)
		return rc;
	rc = nlconn_open(&c, err, errlen);
	if (rc < 0)
		return rc;
	rc = cth_get(&c, name, AF_INET, &info, err, errlen);
	nlconn_close(&c);
	if (rc < 0)
		return rc;
	if (!info.found) {
		nlrequest_seterr(err, errlen, "helper '%s' (IPv4/TCP) is not registered",
		       name);
		return -ENOENT;
	}
	if (queue_number != NULL)
		*queue_number = (uint16_t)info.queue_number;
	if (enabled != NULL)
		*enabled = info.status == NFCT_HELPER_STATUS_ENABLED;
	return 0;
}
