/* nlrequest: the synchronous netlink request loop that cthelper, expect,
 * ctnl and queue share.
 *
 * Kernel behaviour relied on (Debian's linux-source-6.1, 6.1.192):
 *  - net/netlink/af_netlink.c netlink_ack(): the ACK or error of a request
 *    carries the request's sequence number and the requester's portid;
 *    with NETLINK_EXT_ACK set and an extack message, NLM_F_ACK_TLVS is set
 *    and NLMSGERR_ATTR_MSG follows the nlmsgerr (after the echoed request,
 *    unless NETLINK_CAP_ACK set NLM_F_CAPPED and left it out).
 *  - netlink_dump_done(): a dump ends with NLMSG_DONE whose payload is an
 *    int, negative when the dump failed; no ACK follows unless asked for.
 *  - Replies of the nfnetlink subsystems (nfnl_cthelper_fill_info,
 *    ctnetlink_exp_fill_info, ...) carry the request's sequence number and
 *    portid too; unsolicited messages (queued packets, events) carry
 *    sequence number 0.
 *  - netlink_overrun(): when a message cannot be queued to a socket, its
 *    next recv fails once with ENOBUFS; messages after that still arrive.
 *  - libmnl mnl_socket_recvfrom(): a datagram longer than the buffer
 *    (MSG_TRUNC) fails with ENOSPC.
 */
#include "nlrequest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>

void nlrequest_init(struct nlrequest *r, struct mnl_socket *nl, uint32_t seq0,
		    void *buf, size_t buflen, unsigned int timeout_s)
{
	struct timeval tv = { .tv_sec = (time_t)timeout_s };

	memset(r, 0, sizeof(*r));
	r->nl = nl;
	r->portid = mnl_socket_get_portid(nl);
	r->seq = seq0;
	r->buf = buf;
	r->buflen = buflen;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
}

static int ext_ack_attr_cb(const struct nlattr *attr, void *data)
{
	const char **msg = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*msg = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

/* Copy the NLMSGERR_ATTR_MSG of an error message into r->ext. */
static void take_ext_ack(struct nlrequest *r, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t len = mnl_nlmsg_get_payload_len(nlh);
	size_t off = NLMSG_ALIGN(sizeof(*e));
	const char *msg = NULL;

	r->ext[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	if (off >= len)
		return;
	mnl_attr_parse_payload((const char *)e + off, len - off,
			       ext_ack_attr_cb, &msg);
	if (msg != NULL)
		snprintf(r->ext, sizeof(r->ext), "%s", msg);
}

int nlrequest_talk(struct nlrequest *r, struct nlmsghdr *nlh, nlrequest_cb cb,
		   void *data)
{
	uint32_t seq = ++r->seq;
	int cb_err = 0;

	r->ext[0] = '\0';
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(r->nl, r->buf, r->buflen);
		const struct nlmsghdr *m;
		int rem;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -ETIMEDOUT;
			if (errno == ENOBUFS && r->enobufs != NULL) {
				(*r->enobufs)++;
				continue;
			}
			return -errno;
		}
		rem = (int)n;
		for (m = (const struct nlmsghdr *)r->buf; mnl_nlmsg_ok(m, rem);
		     m = mnl_nlmsg_next(m, &rem)) {
			if (m->nlmsg_seq != seq ||
			    (m->nlmsg_pid != 0 && m->nlmsg_pid != r->portid)) {
				/* not our answer: a stale reply, or a
				 * message the owner may want */
				if (r->other != NULL)
					r->other(m, r->other_data);
				continue;
			}
			switch (m->nlmsg_type) {
			case NLMSG_NOOP:
			case NLMSG_OVERRUN:
				continue;
			case NLMSG_ERROR: {
				const struct nlmsgerr *e =
					mnl_nlmsg_get_payload(m);

				if (mnl_nlmsg_get_payload_len(m) < sizeof(*e))
					return -EPROTO;
				if (e->error != 0) {
					take_ext_ack(r, m);
					return e->error;
				}
				return cb_err;
			}
			case NLMSG_DONE:
				if (mnl_nlmsg_get_payload_len(m) >= sizeof(int)) {
					int st = *(const int *)
						mnl_nlmsg_get_payload(m);

					if (st < 0)
						return st;
				}
				return cb_err;
			default:
				if (cb != NULL) {
					int rc = cb(m, data);

					if (rc < 0 && cb_err == 0)
						cb_err = rc;
				}
			}
		}
	}
}

struct nlmsghdr *nlrequest_nfnl_put(void *buf, uint16_t type, uint16_t flags,
				    uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

void nlrequest_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
