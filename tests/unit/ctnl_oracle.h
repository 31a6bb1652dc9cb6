/* ctnl_oracle: what libnetfilter_conntrack reads of a queued packet's
 * conntrack attributes, for checking ctnl_parse_ct_attrs (a direct
 * reader, src/kernel/ctnl_queued.c) against the library on the same
 * bytes. Used by tests/unit/test_ctnl.c and tests/fuzz/fuzz_ctnl.c.
 *
 * The library's view: ctnl_parse (nfct_payload_parse, behind the guards
 * that keep the library's own faults away) of the attributes as a
 * CT_NEW message, and the TCP state from nfct_payload_parse. */
#ifndef FTPGATE_CTNL_ORACLE_H
#define FTPGATE_CTNL_ORACLE_H

#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctnl.h"

#define CTNL_ORACLE_MAX 65536

/* The library's reading of attrs[0..len) in family as *out: 0, or -1
 * when it refuses them (or len is over CTNL_ORACLE_MAX). Where the
 * library would end the process on an attribute of the wrong size, the
 * caller must catch exit() (the fuzz target does: hence no heap buffer
 * here, and the conntrack object is one the target tracks); the unit
 * tests give it none. */
static inline int ctnl_oracle_read(const void *attrs, size_t len, int family,
				   struct ctnl_ct *out)
{
	static char buf[NLMSG_HDRLEN + 16 + CTNL_ORACLE_MAX] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	size_t off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
	struct nf_conntrack *ct;
	struct ctnl_msg m;
	int rc = -1, state;

	memset(out, 0, sizeof(*out));
	if (len > CTNL_ORACLE_MAX)
		return -1;
	memset(buf, 0, NLMSG_HDRLEN + off + NLMSG_ALIGN(len));
	if ((ct = nfct_new()) == NULL)
		abort();
	nlh->nlmsg_len = (uint32_t)(NLMSG_HDRLEN + off + len);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW;
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = (uint8_t)family;
	memcpy((char *)mnl_nlmsg_get_payload(nlh) + off, attrs, len);
	if (ctnl_parse(nlh, &m) == 0 &&
	    nfct_payload_parse(attrs, len, (uint16_t)family, ct) == 0) {
		state = nfct_attr_is_set(ct, ATTR_TCP_STATE) > 0 ? nfct_get_attr_u8(ct, ATTR_TCP_STATE) : -1;
		out->orig = m.tuple;
		out->proto = m.proto;
		out->has_reply = m.has_reply;
		if (m.has_reply)
			out->reply = m.reply;
		out->status = m.status;
		out->id = m.id;
		out->expected = m.status & IPS_EXPECTED;
		out->closing = m.proto == IPPROTO_TCP &&
			       (state == TCP_CONNTRACK_FIN_WAIT || state == TCP_CONNTRACK_CLOSE_WAIT ||
				state == TCP_CONNTRACK_LAST_ACK || state == TCP_CONNTRACK_TIME_WAIT ||
				state == TCP_CONNTRACK_CLOSE);
		rc = 0;
	}
	nfct_destroy(ct);
	return rc;
}

/* Whether two readings agree on every field. */
static inline bool ctnl_oracle_same(const struct ctnl_ct *a, const struct ctnl_ct *b)
{
	return flow_equal(&a->orig, &b->orig) && a->proto == b->proto &&
	       a->has_reply == b->has_reply &&
	       (!a->has_reply || flow_equal(&a->reply, &b->reply)) &&
	       a->status == b->status && a->id == b->id &&
	       a->expected == b->expected && a->closing == b->closing;
}

#endif
