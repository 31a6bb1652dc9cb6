/* conntrack: ctnetlink conntrack queries.
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
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "conntrack.h"

struct conntrack_found {
	const struct ctnl_tuple *want;
	int found;
};

static void conntrack_found_cb(const struct ctnl_msg *m, void *data)
{
	struct conntrack_found *f = data;

	if (m->kind == CTNL_CT_NEW && ctnl_tuple_equal(&m->tuple, f->want))
		f->found = 1;
}

int conntrack_exists(struct ctnl *c, const struct ctnl_tuple *orig)
{
	struct conntrack_found f = { orig, 0 };
	struct nlmsghdr *nlh;
	int rc;

	nlh = ctnl_msg_start(c, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
			     NLM_F_ACK, (uint8_t)orig->src.family);
	ctnl_put_tuple(nlh, CTA_TUPLE_ORIG, orig);
	rc = ctnl_request(c, nlh, conntrack_found_cb, &f);
	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? rc : f.found;
}

int conntrack_list_expected(struct ctnl *c,
			    void (*cb)(const struct ctnl_msg *m, void *data),
			    void *data)
{
	struct nlmsghdr *nlh;

	nlh = ctnl_msg_start(c, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
			     NLM_F_DUMP, AF_UNSPEC);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_EXPECTED));
	mnl_attr_put_u32(nlh, CTA_STATUS_MASK, htonl(IPS_EXPECTED));
	return ctnl_request(c, nlh, cb, data);
}
