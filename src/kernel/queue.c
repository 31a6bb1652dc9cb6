/* queue: the helper's NFQUEUE, read with libnetfilter_queue's mnl API.
 *
 * Kernel behaviour relied on (read in Debian's linux-source-6.1, 6.1.192):
 *
 * net/netfilter/nfnetlink_queue.c
 *  - nfqnl_recv_config(): one config message may carry the BIND command,
 *    NFQA_CFG_PARAMS and NFQA_CFG_FLAGS/MASK. Flags are checked first
 *    (NFQA_CFG_F_CONNTRACK without the ctnetlink glue hook -> -EOPNOTSUPP,
 *    after trying request_module("ip_conntrack_netlink")), then ownership
 *    (queue bound by another portid -> -EPERM, *not* -EBUSY), then BIND
 *    (-EBUSY only if this very socket already bound it), then params and
 *    flags are applied. We send all of it in one message so that a failure
 *    leaves nothing bound.
 *  - -EPERM is also what nfnetlink_rcv() answers without CAP_NET_ADMIN. To
 *    tell "queue owned by another process" from "no privilege" we then send
 *    the obsolete NFQNL_CFG_CMD_PF_BIND, which nfqnl_recv_config() acks with
 *    0 before looking at any queue: success means we are privileged, so the
 *    queue belongs to someone else.
 *  - Copy range is clamped to NFQNL_MAX_COPY_RANGE (0xffff - NLA_HDRLEN);
 *    NFQA_CAP_LEN is present when the payload was cut.
 *  - NFQA_CFG_F_GSO is NOT set: without it nfqnl_enqueue_packet() segments
 *    GSO/GRO super-packets in the kernel and nfqnl_build_packet_message()
 *    resolves CHECKSUM_PARTIAL, so every queued packet is one real segment
 *    of at most MTU size with a finished checksum and can never exceed the
 *    copy range (a 64 KiB GSO packet could). The cost (one verdict per
 *    segment) is nothing on an FTP control connection.
 *  - NFQA_CFG_F_FAIL_OPEN: when the queue is full (queue_maxlen, default
 *    1024, set with NFQA_CFG_QUEUE_MAXLEN in the same config message) or the
 *    netlink message cannot be delivered to our socket (receive buffer
 *    full), the packet is accepted uninspected instead of dropped
 *    (__nfqnl_enqueue_packet). With FAIL_OPEN neither case is counted in
 *    the queue's queue_dropped / queue_user_dropped (those count drops
 *    without it). In the second case our socket gets ENOBUFS on the next
 *    recv (we do not set NETLINK_NO_ENOBUFS), which queue_receive()
 *    reports and counts; the first case leaves no trace we could see.
 *  - Packet messages: NFQNL_MSG_PACKET, nfgenmsg.res_id = queue number,
 *    nfgenmsg.nfgen_family = the packet's family (entry->state.pf: the
 *    conntrack hooks are per family, so NFPROTO_IPV4 or NFPROTO_IPV6),
 *    NFQA_PACKET_HDR (packet_id be32), NFQA_PAYLOAD, NFQA_CT (nested, built
 *    by ctnetlink_glue_build() with the attributes of a ctnetlink conntrack
 *    message: read in that family by ctnl_parse_ct_attrs, directly, not
 *    through libnetfilter_conntrack: ctnl_queued.c says why), NFQA_CT_INFO be32 (enum
 *    ip_conntrack_info).
 *  - A verdict for an unknown id fails with -ENOENT; netlink then sends an
 *    NLMSG_ERROR to our socket even without NLM_F_ACK. queue_receive() counts
 *    those (queue_verdict_errors) instead of stopping on them.
 *  - Unbinding, closing the socket or exiting destroys the instance and
 *    drops (NF_DROP, nfqnl_flush()) every packet still waiting for a
 *    verdict; later packets find no queue and the helper's queue-bypass
 *    flag lets them pass. queue_close() therefore accepts what is waiting
 *    before it unbinds.
 *
 * net/netfilter/nfnetlink.c, net/netlink/af_netlink.c, net/socket.c
 *  - Several verdicts go in one send: nfnetlink_rcv() hands a buffer that
 *    does not start with NFNL_MSG_BATCH_BEGIN to netlink_rcv_skb(), which
 *    runs every message in it in order and answers each failing one with
 *    its own NLMSG_ERROR (NLM_F_ACK or not), as a send of one would.
 *  - recvmmsg() on the non-blocking socket stops at the first receive
 *    that finds nothing (EAGAIN) and returns what it got. An error after
 *    some messages (ENOBUFS) is left in sk_err for the next receive, and
 *    poll() says POLLERR meanwhile (the caller must treat POLLERR like
 *    POLLIN).
 */
#include "queue.h"
#include "ctnl.h"
#include "nlrequest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnetfilter_queue/pktbuff.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv6.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>

#define QUEUE_RCVBUF_MIN	4096
/* One packet message: payload <= 0xffff plus metadata and conntrack
 * attributes (well under 2 KiB). */
#define QUEUE_BUFSIZE		(0xffff + 16384)
#define QUEUE_CONFIG_TIMEOUT_S	5
#define QUEUE_PENDING_MAX	256
#define QUEUE_CLOSE_DRAIN_MAX	4096
/* Messages read per recvmmsg() (each into its own QUEUE_BUFSIZE buffer);
 * their verdicts go out in one send after them. */
#define QUEUE_RECV_BATCH	8
/* Where each of those buffers starts: QUEUE_BUFSIZE (odd) rounded up, so
 * that every message header is aligned (a misaligned one is undefined
 * behaviour: UBSan stops the daemon on the second message of a batch). */
#define QUEUE_RECV_STRIDE	((QUEUE_BUFSIZE + 15) & ~15)
/* Verdicts kept for one send: room for QUEUE_RECV_BATCH plain verdicts
 * (32 bytes each) many times over; a full buffer is sent at once. */
#define QUEUE_VERDICT_BUFSIZE	4096
#define QUEUE_VERDICT_MSG_MAX	256	/* one plain verdict, with room */

struct pending_msg {
	void *msg;
	size_t len;
};

struct queue {
	/* the socket; req also runs queue_open()'s config requests */
	struct nlrequest req;
	uint16_t number;
	unsigned long overruns;
	unsigned long verdict_errors;
	unsigned long malformed;
	char *buf;
	/* recvmmsg()'s QUEUE_RECV_BATCH buffers, QUEUE_RECV_STRIDE apart */
	char *rbuf;
	struct mmsghdr rmsg[QUEUE_RECV_BATCH];
	struct iovec riov[QUEUE_RECV_BATCH];
	/* verdicts not sent yet (queue_verdicts_flush), vlen bytes of
	 * whole messages, vcount of them */
	char vbuf[QUEUE_VERDICT_BUFSIZE] __attribute__((aligned(8)));
	size_t vlen;
	unsigned vcount;
	/* packet messages that arrived while queue_open() waited for its
	 * ACK; delivered by the first queue_receive() */
	struct pending_msg pending[QUEUE_PENDING_MAX];
	size_t npending;
	/* another subsystem's messages on this socket (queue_set_foreign) */
	queue_foreign_cb foreign;
	void *foreign_data;
};

static bool is_packet_msg(const struct nlmsghdr *nlh)
{
	return (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_QUEUE &&
	       (nlh->nlmsg_type & 0xff) == NFQNL_MSG_PACKET;
}

static bool find_packet_id(const struct nlmsghdr *nlh, size_t avail,
			   uint32_t *id);
static int queue_verdict_keep(struct queue *q, uint32_t id, int verdict);
static int queue_verdicts_flush(struct queue *q);

static void keep_pending(struct queue *q, const struct nlmsghdr *nlh)
{
	void *copy;
	uint32_t id;

	if (q->npending == QUEUE_PENDING_MAX ||
	    (copy = malloc(nlh->nlmsg_len)) == NULL) {
		/* cannot keep it: release it so it does not hang (a
		 * foreign message holds no packet of ours: its attribute
		 * 1 is not an NFQA_PACKET_HDR) */
		q->malformed++;
		if (is_packet_msg(nlh) && find_packet_id(nlh, nlh->nlmsg_len, &id)) {
			queue_verdict_keep(q, id, NF_ACCEPT);
			queue_verdicts_flush(q);	/* no receive may follow */
		}
		return;
	}
	memcpy(copy, nlh, nlh->nlmsg_len);
	q->pending[q->npending].msg = copy;
	q->pending[q->npending].len = nlh->nlmsg_len;
	q->npending++;
}

/* Whether nlh is a message of another subsystem bound on this socket. */
static bool is_foreign_msg(const struct queue *q, const struct nlmsghdr *nlh)
{
	return q->foreign != NULL && nlh->nlmsg_type >= NLMSG_MIN_TYPE &&
	       (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_QUEUE;
}

/* While a config request waits for its ACK, packets may already come in
 * (the queue is bound by then): keep them, and another subsystem's, for
 * queue_receive(), in their order. */
static int keep_packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct queue *q = data;

	if (is_packet_msg(nlh) || is_foreign_msg(q, nlh))
		keep_pending(q, nlh);
	return 0;
}

/* Send a config message and wait for its ACK; packet messages that come in
 * meanwhile are kept for queue_receive(), an ENOBUFS is counted in
 * overruns. Returns 0 or -errno. */
static int config_request(struct queue *q, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return nlrequest_talk(&q->req, nlh, keep_packet_cb, q);
}

/* Send the verdicts kept in q->vbuf, in one send. 0, or -errno with every
 * one of them counted in verdict_errors (the kernel then holds those
 * packets until the queue goes away, when it drops them). */
static int queue_verdicts_flush(struct queue *q)
{
	int rc = 0;

	if (q->vlen == 0)
		return 0;
	while (mnl_socket_sendto(q->req.nl, q->vbuf, q->vlen) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			q->verdict_errors += q->vcount;
			break;
		}
	}
	q->vlen = 0;
	q->vcount = 0;
	return rc;
}

/* Keep a plain verdict for the next queue_verdicts_flush(), sending what
 * is kept first when there is no room. 0, or that send's -errno. */
static int queue_verdict_keep(struct queue *q, uint32_t id, int verdict)
{
	struct nlmsghdr *nlh;
	int rc = 0;

	if (q->vlen + QUEUE_VERDICT_MSG_MAX > sizeof(q->vbuf))
		rc = queue_verdicts_flush(q);
	nlh = nfq_nlmsg_put(q->vbuf + q->vlen, NFQNL_MSG_VERDICT, q->number);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	q->vlen += NLMSG_ALIGN(nlh->nlmsg_len);
	q->vcount++;
	return rc;
}

static void free_pending(struct queue *q)
{
	size_t i;

	for (i = 0; i < q->npending; i++)
		free(q->pending[i].msg);
	q->npending = 0;
}

/* Point recvmmsg()'s headers at their buffers, once: the kernel writes
 * only msg_len and msg_flags back. */
static void queue_recv_setup(struct queue *q)
{
	unsigned i;

	for (i = 0; i < QUEUE_RECV_BATCH; i++) {
		q->riov[i] = (struct iovec){ q->rbuf + (size_t)i * QUEUE_RECV_STRIDE,
					     QUEUE_BUFSIZE };
		q->rmsg[i] = (struct mmsghdr){ .msg_hdr = {
			.msg_iov = &q->riov[i], .msg_iovlen = 1 } };
	}
}

static void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	free_pending(q);
	if (q->req.nl != NULL)
		mnl_socket_close(q->req.nl);
	free(q->buf);
	free(q->rbuf);
	free(q);
}

int queue_open(struct queue **qp, const struct queue_params *p, char *err,
	       size_t errlen)
{
	char buf[512] __attribute__((aligned(8)));
	const uint32_t flags = NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN;
	const uint32_t mask = flags | NFQA_CFG_F_GSO;	/* GSO: cleared */
	struct nlmsghdr *nlh;
	struct mnl_socket *nl;
	struct queue *q;
	uint16_t number;
	int one = 1, fd, fl, rcvbuf, rc;

	if (qp == NULL || p == NULL)
		return -EINVAL;
	*qp = NULL;
	if (p->max_packets == 0) {
		nlrequest_seterr(err, errlen, "queue %u: a limit of 0 packets would pass "
		       "every packet uninspected; ask for at least 1",
		       p->number);
		return -EINVAL;
	}
	if (p->rcvbuf_bytes < QUEUE_RCVBUF_MIN || p->rcvbuf_bytes > INT_MAX / 2) {
		nlrequest_seterr(err, errlen, "queue %u: receive buffer of %u bytes is out "
		       "of range; ask for %d to %d bytes", p->number,
		       p->rcvbuf_bytes, QUEUE_RCVBUF_MIN, INT_MAX / 2);
		return -EINVAL;
	}
	number = p->number;
	rcvbuf = (int)p->rcvbuf_bytes;
	q = calloc(1, sizeof(*q));
	if (q == NULL || (q->buf = malloc(QUEUE_BUFSIZE)) == NULL ||
	    (q->rbuf = malloc((size_t)QUEUE_RECV_BATCH * QUEUE_RECV_STRIDE)) == NULL) {
		queue_free(q);
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->number = number;
	queue_recv_setup(q);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		rc = -errno;
		if (rc == -EPROTONOSUPPORT || rc == -EAFNOSUPPORT)
			nlrequest_seterr(err, errlen, "kernel has no nfnetlink: run "
			       "'modprobe nfnetlink_queue'; the kernel needs "
			       "CONFIG_NETFILTER_NETLINK_QUEUE");
		else
			nlrequest_seterr(err, errlen, "cannot open netfilter netlink "
			       "socket: %s", strerror(-rc));
		queue_free(q);
		return rc;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		nlrequest_seterr(err, errlen, "cannot bind netfilter netlink socket: %s",
		       strerror(-rc));
		mnl_socket_close(nl);
		queue_free(q);
		return rc;
	}
	nlrequest_init(&q->req, nl, (uint32_t)time(NULL), q->buf,
		       QUEUE_BUFSIZE, QUEUE_CONFIG_TIMEOUT_S);
	q->req.other = keep_packet_cb;
	q->req.other_data = q;
	q->req.enobufs = &q->overruns;
	fd = mnl_socket_get_fd(nl);
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	/* A large receive buffer: FORCE needs CAP_NET_ADMIN, which we need
	 * anyway; fall back to what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, p->max_packets);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	rc = config_request(q, nlh);

	if (rc == -EPERM) {
		/* Another portid owns the queue, or we lack CAP_NET_ADMIN. */
		nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_PF_BIND);
		if (config_request(q, nlh) == 0)
			rc = -EBUSY;
		else
			nlrequest_seterr(err, errlen, "cannot bind queue %u: permission "
			       "denied (ftpgated needs CAP_NET_ADMIN)", number);
	}
	switch (rc) {
	case 0:
		break;
	case -EBUSY:
		nlrequest_seterr(err, errlen, "queue %u is already in use by another "
		       "process (is ftpgated already running?)", number);
		break;
	case -EPERM:
		break;
	case -EOPNOTSUPP:
		nlrequest_seterr(err, errlen, "cannot bind queue %u: the kernel cannot "
		       "attach conntrack information to queued packets: run "
		       "'modprobe nf_conntrack_netlink'; the kernel needs "
		       "CONFIG_NETFILTER_NETLINK_GLUE_CT", number);
		break;
	case -EINVAL:
		/* nfnetlink_rcv_msg(): the queue subsystem is not there */
		nlrequest_seterr(err, errlen, "cannot bind queue %u: kernel has no "
		       "nfnetlink_queue: run 'modprobe nfnetlink_queue'; the "
		       "kernel needs CONFIG_NETFILTER_NETLINK_QUEUE", number);
		rc = -EOPNOTSUPP;
		break;
	case -ETIMEDOUT:
		nlrequest_seterr(err, errlen, "cannot bind queue %u: no answer from the "
		       "kernel within %d s", number, QUEUE_CONFIG_TIMEOUT_S);
		break;
	default:
		nlrequest_seterr(err, errlen, "cannot bind queue %u: %s", number,
		       strerror(-rc));
	}
	if (rc < 0) {
		queue_free(q);
		return rc;
	}

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		nlrequest_seterr(err, errlen, "cannot make queue socket non-blocking: %s",
		       strerror(-rc));
		queue_close(q, NULL, 0);	/* its error: ours says more */
		return rc;
	}
	*qp = q;
	return 0;
}

int queue_fd(const struct queue *q)
{
	return q != NULL ? mnl_socket_get_fd(q->req.nl) : -1;
}

/* ---- packet message parsing -------------------------------------------- */

void queue_packet_conntrack(const struct nlattr *ct_attr,
			    const struct nlattr *info_attr, int family,
			    struct queue_packet *pkt)
{
	struct ctnl_ct ct;

	if (ct_attr == NULL ||
	    ctnl_parse_ct_attrs(mnl_attr_get_payload(ct_attr),
				mnl_attr_get_payload_len(ct_attr), family, &ct) < 0) {
		memset(&pkt->orig, 0, sizeof(pkt->orig));
		return;
	}
	pkt->orig = ct.orig;
	pkt->has_reply = ct.has_reply;
	pkt->reply = ct.reply;
	pkt->ct_status = ct.status;
	pkt->l4proto = ct.proto;
	pkt->conntrack_id = ct.id;
	pkt->expected = ct.expected;
	pkt->closing = ct.closing;
	if (info_attr == NULL ||
	    mnl_attr_validate(info_attr, MNL_TYPE_U32) < 0)
		return;
	pkt->conntrack_info = (int)ntohl(mnl_attr_get_u32(info_attr));
	pkt->reply_direction = pkt->conntrack_info >= IP_CT_IS_REPLY;
	pkt->has_conntrack = true;
}

/* Find NFQA_PACKET_HDR without trusting the rest of the message, so that a
 * message we cannot parse (or could not read whole) can still be released.
 * Looks at no more than `avail` bytes from nlh. */
static bool find_packet_id(const struct nlmsghdr *nlh, size_t avail,
			   uint32_t *id)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	const struct nlattr *attr;

	if (nlh->nlmsg_len < avail)
		avail = nlh->nlmsg_len;
	if (avail <= off)
		return false;
	for (attr = (const struct nlattr *)((const char *)nlh + off);
	     mnl_attr_ok(attr, (int)((const char *)nlh + avail -
				     (const char *)attr));
	     attr = mnl_attr_next(attr)) {
		if (mnl_attr_get_type(attr) == NFQA_PACKET_HDR &&
		    mnl_attr_get_payload_len(attr) >=
			    sizeof(struct nfqnl_msg_packet_hdr)) {
			const struct nfqnl_msg_packet_hdr *ph =
				mnl_attr_get_payload(attr);

			*id = ntohl(ph->packet_id);
			return true;
		}
	}
	return false;
}

/* One message from the kernel. Returns 1 if a packet went to cb. */
static int handle_msg(struct queue *q, const struct nlmsghdr *nlh,
		      queue_packet_cb cb, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1];
	const struct nfqnl_msg_packet_hdr *ph;
	struct queue_packet pkt;
	uint32_t id;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		/* an asynchronous verdict failure (e.g. -ENOENT) */
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr) &&
		    ((const struct nlmsgerr *)
		     mnl_nlmsg_get_payload(nlh))->error != 0)
			q->verdict_errors++;
		return 0;
	}
	if (is_foreign_msg(q, nlh))
		return q->foreign(nlh, q->foreign_data);
	if (!is_packet_msg(nlh))
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg)) {
		q->malformed++;
		return 0;
	}

	memset(attr, 0, sizeof(attr));
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		q->malformed++;
		if (find_packet_id(nlh, nlh->nlmsg_len, &id))
			queue_verdict_keep(q, id, NF_ACCEPT);
		return 0;
	}

	memset(&pkt, 0, sizeof(pkt));
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	pkt.packet_id = ntohl(ph->packet_id);
	if (attr[NFQA_PAYLOAD] != NULL) {
		pkt.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		pkt.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	if (attr[NFQA_CAP_LEN] != NULL &&
	    mnl_attr_validate(attr[NFQA_CAP_LEN], MNL_TYPE_U32) == 0 &&
	    ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) > pkt.len)
		pkt.truncated = true;
	queue_packet_conntrack(attr[NFQA_CT], attr[NFQA_CT_INFO],
			((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family,
			&pkt);
	/* validated as a u32 by nfq_nlmsg_parse */
	if (attr[NFQA_IFINDEX_INDEV] != NULL)
		pkt.indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV] != NULL)
		pkt.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));

	cb(&pkt, data);
	return 1;
}

/* Up to QUEUE_RECV_BATCH messages, each into its own buffer: their count,
 * or -errno (-EAGAIN: nothing was waiting). */
static int queue_recv_batch(struct queue *q)
{
	int n = recvmmsg(mnl_socket_get_fd(q->req.nl), q->rmsg,
			 QUEUE_RECV_BATCH, MSG_TRUNC, NULL);

	return n < 0 ? -errno : n;
}

/* The messages of one datagram of n bytes at buf (n > QUEUE_BUFSIZE: it
 * was cut). Returns the packets handed to cb. */
static int queue_handle_datagram(struct queue *q, const char *buf, size_t n,
				 queue_packet_cb cb, void *data)
{
	const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
	int handled = 0, rem;
	uint32_t id;

	if (n > QUEUE_BUFSIZE) {
		/* Cannot happen with our copy range. Never leave the packet
		 * hanging: its header is at the start. */
		q->malformed++;
		if (is_packet_msg(m) && find_packet_id(m, QUEUE_BUFSIZE, &id))
			queue_verdict_keep(q, id, NF_ACCEPT);
		return 0;
	}
	rem = (int)n;
	for (; mnl_nlmsg_ok(m, rem); m = mnl_nlmsg_next(m, &rem))
		handled += handle_msg(q, m, cb, data);
	return handled;
}

int queue_receive(struct queue *q, queue_packet_cb cb, void *data)
{
	int handled = 0, n = 0, i;

	if (q == NULL || cb == NULL)
		return -EINVAL;

	while (q->npending > 0 && handled < QUEUE_RECEIVE_MAX) {
		struct pending_msg p = q->pending[0];

		q->npending--;
		memmove(&q->pending[0], &q->pending[1],
			q->npending * sizeof(q->pending[0]));
		handled += handle_msg(q, p.msg, cb, data);
		free(p.msg);
	}

	while (handled < QUEUE_RECEIVE_MAX) {
		n = queue_recv_batch(q);
		if (n == -EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++)
			handled += queue_handle_datagram(q, q->riov[i].iov_base,
							 q->rmsg[i].msg_len,
							 cb, data);
		/* Sent before the next receive, even when this one found
		 * fewer messages than it asked for: a verdict often brings
		 * the next packet at once (the released segment reaches the
		 * peer, on this machine, within the send), and reading on
		 * until EAGAIN takes it in this round rather than the next. */
		queue_verdicts_flush(q);
		n = 0;
	}
	queue_verdicts_flush(q);
	if (n == -ENOBUFS) {
		/* the kernel could not deliver messages to us; with
		 * FAIL_OPEN it accepted them */
		q->overruns++;
		return -ENOBUFS;
	}
	return n < 0 && n != -EAGAIN && n != -EWOULDBLOCK ? n : handled;
}

void queue_set_foreign(struct queue *q, queue_foreign_cb cb, void *data)
{
	q->foreign = cb;
	q->foreign_data = data;
}

int queue_request(struct queue *q, struct nlmsghdr *nlh)
{
	return config_request(q, nlh);
}

int queue_accept(struct queue *q, uint32_t packet_id)
{
	if (q == NULL)
		return -EINVAL;
	return queue_verdict_keep(q, packet_id, NF_ACCEPT);
}

int queue_accept_now(struct queue *q, uint32_t packet_id)
{
	int kept, sent;

	if (q == NULL)
		return -EINVAL;
	kept = queue_verdict_keep(q, packet_id, NF_ACCEPT);	/* kept either way */
	sent = queue_verdicts_flush(q);
	return kept < 0 ? kept : sent;
}

int queue_accept_payload(struct queue *q, uint32_t packet_id,
			 const uint8_t *data, size_t len, bool seqadj)
{
	char *buf;
	struct nlmsghdr *nlh;
	int rc = 0;

	if (q == NULL || len > 65535)
		return -EINVAL;
	buf = malloc(MNL_SOCKET_BUFFER_SIZE + len);
	if (buf == NULL)
		return -ENOMEM;
	/* after the verdicts kept before it: the kernel sees them in order */
	queue_verdicts_flush(q);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, q->number);
	nfq_nlmsg_verdict_put(nlh, (int)packet_id, NF_ACCEPT);
	nfq_nlmsg_verdict_put_pkt(nlh, data, (uint32_t)len);
	if (seqadj)
		mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, NFQA_CT));
	while (mnl_socket_sendto(q->req.nl, nlh, nlh->nlmsg_len) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	free(buf);
	return rc;
}

/* The TCP header's place in pb, set for the pktbuff TCP functions: 0, or
 * -EINVAL when pb is not TCP over IPv4 or IPv6 without extension headers. */
static int queue_transport_set(struct pkt_buff *pb, int family)
{
	if (family == AF_INET) {
		struct iphdr *ip = nfq_ip_get_hdr(pb);

		if (ip == NULL || ip->protocol != IPPROTO_TCP ||
		    nfq_ip_set_transport_header(pb, ip) < 0)
			return -EINVAL;
		return 0;
	}
	{
		struct ip6_hdr *ip6 = nfq_ip6_get_hdr(pb);

		if (ip6 == NULL || ip6->ip6_nxt != IPPROTO_TCP ||
		    nfq_ip6_set_transport_header(pb, ip6, IPPROTO_TCP) < 0)
			return -EINVAL;
		return 0;
	}
}

int queue_tcp_mangle(const uint8_t *data, size_t len, size_t off,
		     size_t old_len, const char *rep, size_t rep_len,
		     uint8_t *out, size_t out_max, size_t *out_len)
{
	int family = len > 0 && (data[0] >> 4) == 6 ? AF_INET6 : AF_INET;
	size_t extra = rep_len > old_len ? rep_len - old_len : 0;
	struct pkt_buff *pb;
	struct tcphdr *th;
	int rc = -EINVAL;

	if (len + extra > 65535 || len + extra > out_max)
		return -EMSGSIZE;
	pb = pktb_alloc(family, (void *)data, len, extra);
	if (pb == NULL)
		return -ENOMEM;
	if (queue_transport_set(pb, family) == 0 &&
	    (th = nfq_tcp_get_hdr(pb)) != NULL &&
	    (size_t)((uint8_t *)th - pktb_data(pb)) + (size_t)th->doff * 4 +
		    off + old_len <= pktb_len(pb) &&
	    (family == AF_INET ?
		     nfq_tcp_mangle_ipv4(pb, (unsigned)off, (unsigned)old_len, rep,
					 (unsigned)rep_len) :
		     nfq_tcp_mangle_ipv6(pb, (unsigned)off, (unsigned)old_len, rep,
					 (unsigned)rep_len)) == 1) {
		*out_len = pktb_len(pb);
		memcpy(out, pktb_data(pb), *out_len);
		rc = 0;
	}
	pktb_free(pb);
	return rc;
}

unsigned long queue_overruns(const struct queue *q)
{
	return q != NULL ? q->overruns : 0;
}

unsigned long queue_verdict_errors(const struct queue *q)
{
	return q != NULL ? q->verdict_errors : 0;
}

static void accept_all_cb(const struct queue_packet *pkt, void *data)
{
	queue_accept(data, pkt->packet_id);
}

int queue_close(struct queue *q, char *err, size_t errlen)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	int fd, fl, drained = 0, rc;

	if (q == NULL)
		return 0;
	/* Release what is waiting: unbinding would drop it. */
	fd = mnl_socket_get_fd(q->req.nl);
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (drained < QUEUE_CLOSE_DRAIN_MAX) {
		int r = queue_receive(q, accept_all_cb, q);

		if (r == -ENOBUFS)
			continue;
		if (r <= 0)
			break;
		drained += r;
	}

	/* blocking again: the unbind waits for its ACK (SO_RCVTIMEO) */
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->number);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
	rc = config_request(q, nlh);
	if (rc < 0)
		nlrequest_seterr(err, errlen, "cannot unbind queue %u: %s (the "
				 "kernel unbinds it when the socket closes, "
				 "which follows)", q->number,
				 rc == -ETIMEDOUT ? "no answer from the kernel"
						  : strerror(-rc));
	queue_free(q);
	return rc;
}

/* /proc/net/netfilter/nfnetlink_queue (nfnetlink_queue.c, seq_show):
 * queue, portid, queue_total, copy_mode, copy_range, queue_dropped,
 * user_dropped, id_sequence, 1. */
int queue_proc_read(uint16_t number, struct queue_proc_row *row)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	unsigned q, portid, total, mode, range, dropped, user;
	int ret = -ENOENT;

	if (f == NULL)
		return -errno;
	while (fscanf(f, "%u %u %u %u %u %u %u %*u %*d", &q, &portid, &total,
		      &mode, &range, &dropped, &user) == 7) {
		if (q == number) {
			row->portid = portid;
			row->waiting = total;
			row->dropped = dropped;
			row->user_dropped = user;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}
