/* conntrack: ctnetlink conntrack queries, built by libnetfilter_conntrack.
 *
 * Kernel facts (Debian's linux-source-6.1, 6.1.192, nf_conntrack_netlink.c):
 *  - ctnetlink_get_conntrack() with CTA_TUPLE_ORIG looks the tuple up in
 *    the default zone: -ENOENT when no such conntrack (a deleted master is
 *    unhashed before its expectations are removed, so by the time we read
 *    their destroy events the master is already gone).
 *  - A dump's filter (ctnetlink_start -> ctnetlink_alloc_filter) takes
 *    CTA_STATUS and CTA_STATUS_MASK: only entries with (status & mask) ==
 *    value are sent. The kernel still walks the whole table. We do not
 *    use the tuple filter (CTA_FILTER): its IPv6 address comparison is
 *    inverted in 6.1 (ctnetlink_filter_match_tuple tests !ipv6_addr_cmp).
 */
#include <errno.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "conntrack.h"

struct conntrack_found {
	const struct flow *want;
	int found;
};

static void conntrack_found_cb(const struct ctnl_msg *m, void *data)
{
	struct conntrack_found *f = data;

	if (m->kind == CTNL_CT_NEW && m->proto == IPPROTO_TCP &&
	    flow_equal(&m->tuple, f->want))
		f->found = 1;
}

int conntrack_exists(struct ctnl *c, const struct flow *orig)
{
	struct conntrack_found f = { orig, 0 };
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh;
	int rc;

	if (ct == NULL)
		return -ENOMEM;
	nlh = ctnl_msg_start(c, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
			     NLM_F_ACK, (uint8_t)orig->src.family);
	ctnl_flow_to_ct(orig, ct);
	rc = nfct_nlmsg_build(nlh, ct);
	nfct_destroy(ct);
	if (rc < 0)
		return -EINVAL;
	rc = ctnl_request(c, nlh, conntrack_found_cb, &f);
	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? rc : f.found;
}

int conntrack_list_expected(struct ctnl *c,
			    void (*cb)(const struct ctnl_msg *m, void *data),
			    void *data)
{
	struct nfct_filter_dump_mark expected = { IPS_EXPECTED, IPS_EXPECTED };
	struct nfct_filter_dump *filter = nfct_filter_dump_create();
	struct nlmsghdr *nlh;
	int rc;

	if (filter == NULL)
		return -ENOMEM;
	nlh = ctnl_msg_start(c, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
			     NLM_F_DUMP, AF_UNSPEC);
	nfct_filter_dump_set_attr(filter, NFCT_FILTER_DUMP_STATUS, &expected);
	rc = nfct_nlmsg_build_filter(nlh, filter);
	nfct_filter_dump_destroy(filter);
	if (rc < 0)
		return -EINVAL;
	return ctnl_request(c, nlh, cb, data);
}
