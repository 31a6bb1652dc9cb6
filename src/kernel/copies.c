/* copies: the client's packets of FTP control connections as NFLOG copies
 * (capture = replies), read with libnetfilter_log's mnl API.
 *
 * Kernel behaviour relied on (read in net/netfilter/nfnetlink_log.c of
 * the 6.x sources; the delivery order and the loss accounting measured in
 * the lab on Debian's 6.1 and 6.12, tests/lab/suite-capture.sh):
 *  - nfulnl_recv_config(): one config message may carry the BIND command,
 *    NFULA_CFG_MODE, NFULA_CFG_QTHRESH and NFULA_CFG_FLAGS. The flags are
 *    checked first: NFULNL_CFG_F_CONNTRACK without the ctnetlink glue hook
 *    -> -EOPNOTSUPP (after trying request_module). A group bound by
 *    another portid -> -EPERM, as for a missing CAP_NET_ADMIN. The
 *    queue's way of telling the two apart (the obsolete PF_BIND) is not
 *    used here: for nfnetlink_log it is nf_log_bind_pf(), which makes
 *    nfnetlink_log the namespace's logger for the family (found by an
 *    adversarial review). BIND of a group this socket bound already ->
 *    -EBUSY.
 *  - nfulnl_log_packet(): the message is built into the instance's skb
 *    and sent when the instance holds qthreshold messages, or when its
 *    flush timer fires. With a threshold of 1 (ours, and the ruleset's
 *    "queue-threshold 1", which wins for its rule) every copy is unicast
 *    to us from the packet's own path, before the packet goes on: a copy
 *    is in our socket before anything the packet causes can reach the
 *    gateway. capture.c's ordering rests on this.
 *  - When our receive buffer is full the unicast fails, the copy is lost
 *    and our next recv fails with ENOBUFS (we do not set
 *    NETLINK_NO_ENOBUFS). With NFULNL_CFG_F_SEQ each message carries the
 *    instance's sequence number (NFULA_SEQ, incremented for every message
 *    built, delivered or not), so a gap counts the copies lost.
 *  - NFULA_PAYLOAD: copy_range bytes at most (0xffff, the maximum), from
 *    the network header; no NFULA_CAP_LEN exists, so a cut copy is told by
 *    the IP header's length. NFULA_CT is built by the same ctnetlink glue
 *    as NFQA_CT (ctnl_parse_ct_attrs reads it); NFULA_CT_INFO be32.
 *    NFULA_IFINDEX_INDEV/OUTDEV be32, present when the hook has the
 *    device (at POSTROUTING a forwarded packet has both, as in the queue).
 *  - Closing the socket (NETLINK_URELEASE) destroys the instances it
 *    bound: no unbind is needed.
 */
#include "copies.h"
#include "nlrequest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#define COPIES_RCVBUF_MIN	4096
/* One copy: payload <= 0xffff plus metadata and conntrack attributes. */
#define COPIES_BUFSIZE		(0xffff + 16384)
#define COPIES_CONFIG_TIMEOUT_S	5

struct copies {
	struct nlrequest req;	/* the socket; also runs copies_open's config */
	uint16_t group;
	bool seq_known;
	uint32_t next_seq;
	unsigned long lost;		/* seen missing */
	unsigned long overruns;		/* ENOBUFS */
	unsigned long malformed;
	char *buf;
};

static bool copies_is_packet(const struct nlmsghdr *nlh)
{
	return (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_ULOG &&
	       (nlh->nlmsg_type & 0xff) == NFULNL_MSG_PACKET;
}

/* The IP header's own idea of the packet's length, 0 when data does not
 * start with one. */
static size_t copies_ip_length(const uint8_t *data, size_t len)
{
	if (len >= 20 && data[0] >> 4 == 4)
		return (size_t)data[2] << 8 | data[3];
	if (len >= 40 && data[0] >> 4 == 6)
		return 40 + ((size_t)data[4] << 8 | data[5]);
	return 0;
}

/* A be32 attribute's value into *v when attr is there and well-formed. */
static bool copies_attr_u32(const struct nlattr *attr, uint32_t *v)
{
	if (attr == NULL || mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return false;
	*v = ntohl(mnl_attr_get_u32(attr));
	return true;
}

int copies_parse_msg(const struct nlmsghdr *nlh, struct queue_packet *pkt,
		    uint32_t *seq, bool *has_seq)
{
	struct nlattr *attr[NFULA_MAX + 1];

	memset(pkt, 0, sizeof(*pkt));
	*has_seq = false;
	if (!copies_is_packet(nlh) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -EINVAL;
	memset(attr, 0, sizeof(attr));
	if (nflog_nlmsg_parse(nlh, attr) < 0 || attr[NFULA_PAYLOAD] == NULL)
		return -EINVAL;
	pkt->copy = true;
	pkt->data = mnl_attr_get_payload(attr[NFULA_PAYLOAD]);
	pkt->len = mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]);
	pkt->truncated = copies_ip_length(pkt->data, pkt->len) > pkt->len;
	queue_packet_conntrack(attr[NFULA_CT], attr[NFULA_CT_INFO],
			       ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family,
			       pkt);
	copies_attr_u32(attr[NFULA_IFINDEX_INDEV], &pkt->indev);
	copies_attr_u32(attr[NFULA_IFINDEX_OUTDEV], &pkt->outdev);
	*has_seq = copies_attr_u32(attr[NFULA_SEQ], seq);
	return 0;
}

/* Copies missing before sequence number seq. */
static void copies_seq_check(struct copies *l, uint32_t seq)
{
	if (l->seq_known && seq != l->next_seq)
		l->lost += (uint32_t)(seq - l->next_seq);
	l->seq_known = true;
	l->next_seq = seq + 1;
}

/* One message: 1 when a copy went to cb. */
static int copies_handle(struct copies *l, const struct nlmsghdr *nlh,
			queue_packet_cb cb, void *data)
{
	struct queue_packet pkt;
	uint32_t seq = 0;
	bool has_seq;

	if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_NOOP)
		return 0;
	if (copies_parse_msg(nlh, &pkt, &seq, &has_seq) < 0) {
		l->malformed++;
		return 0;
	}
	if (has_seq)
		copies_seq_check(l, seq);
	cb(&pkt, data);
	return 1;
}

/* Config messages: copies that come in while one waits for its ACK are
 * not ours yet to read (the ruleset cannot have sent any before the group
 * existed); they are counted lost, which fails closed. */
static int copies_during_config(const struct nlmsghdr *nlh, void *data)
{
	struct copies *l = data;

	if (copies_is_packet(nlh))
		l->lost++;
	return 0;
}

static int copies_config(struct copies *l, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return nlrequest_talk(&l->req, nlh, NULL, NULL);
}

/* BIND, whole packets, threshold 1, conntrack and sequence numbers: one
 * message, so that a refusal leaves nothing bound. */
static int copies_bind(struct copies *l)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, l->group);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
	nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS,
			 htons(NFULNL_CFG_F_SEQ | NFULNL_CFG_F_CONNTRACK));
	return copies_config(l, nlh);
}

static void copies_bind_error(const struct copies *l, int rc, char *err,
			     size_t errlen)
{
	switch (rc) {
	case -EBUSY:
	case -EPERM:
		/* Not told apart with the queue's PF_BIND probe: here that
		 * would make nfnetlink_log the namespace's IPv4 logger. */
		nlrequest_seterr(err, errlen, "cannot bind NFLOG group %u: another process has bound it (is ftpgated already running? ulogd?), or ftpgated lacks CAP_NET_ADMIN; for the first, set capture-log-group to a free group and the same number in the ruleset's \"log group\"",
				 l->group);
		break;
	case -EOPNOTSUPP:
		nlrequest_seterr(err, errlen, "cannot bind NFLOG group %u: the kernel cannot attach conntrack information to logged packets: run 'modprobe nf_conntrack_netlink'; the kernel needs CONFIG_NETFILTER_NETLINK_GLUE_CT",
				 l->group);
		break;
	case -EINVAL:
		/* nfnetlink_rcv_msg(): the log subsystem is not there */
		nlrequest_seterr(err, errlen, "cannot bind NFLOG group %u: kernel has no nfnetlink_log: run 'modprobe nfnetlink_log'; the kernel needs CONFIG_NETFILTER_NETLINK_LOG",
				 l->group);
		break;
	default:
		nlrequest_seterr(err, errlen, "cannot bind NFLOG group %u: %s",
				 l->group, rc == -ETIMEDOUT ? "no answer from the kernel" : strerror(-rc));
	}
}

static void copies_free(struct copies *l)
{
	if (l == NULL)
		return;
	if (l->req.nl != NULL)
		mnl_socket_close(l->req.nl);
	free(l->buf);
	free(l);
}

/* The socket, bound, with its receive buffer. */
static int copies_socket(struct copies *l, int rcvbuf, char *err, size_t errlen)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1, fd;

	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int rc = -errno;

		nlrequest_seterr(err, errlen, "cannot open a netfilter netlink socket for NFLOG: %s",
				 strerror(-rc));
		if (nl != NULL)
			mnl_socket_close(nl);
		return rc;
	}
	nlrequest_init(&l->req, nl, (uint32_t)time(NULL), l->buf, COPIES_BUFSIZE,
		       COPIES_CONFIG_TIMEOUT_S);
	l->req.other = copies_during_config;
	l->req.other_data = l;
	l->req.enobufs = &l->overruns;
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	fd = mnl_socket_get_fd(nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

int copies_open(struct copies **lp, const struct copies_params *p, char *err,
	       size_t errlen)
{
	struct copies *l;
	int rc, fd, fl;

	*lp = NULL;
	if (p->rcvbuf_bytes < COPIES_RCVBUF_MIN || p->rcvbuf_bytes > INT_MAX / 2) {
		nlrequest_seterr(err, errlen, "NFLOG group %u: receive buffer of %u bytes is out of range; ask for %d to %d bytes",
				 p->group, p->rcvbuf_bytes, COPIES_RCVBUF_MIN, INT_MAX / 2);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL || (l->buf = malloc(COPIES_BUFSIZE)) == NULL) {
		free(l);
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->group = p->group;
	rc = copies_socket(l, (int)p->rcvbuf_bytes, err, errlen);
	if (rc == 0 && (rc = copies_bind(l)) < 0)
		copies_bind_error(l, rc, err, errlen);
	fd = rc == 0 ? mnl_socket_get_fd(l->req.nl) : -1;
	if (rc == 0 && ((fl = fcntl(fd, F_GETFL)) < 0 ||
			fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		rc = -errno;
		nlrequest_seterr(err, errlen, "cannot make the NFLOG socket non-blocking: %s",
				 strerror(-rc));
	}
	if (rc < 0) {
		copies_free(l);
		return rc;
	}
	*lp = l;
	return 0;
}

int copies_fd(const struct copies *l)
{
	return l != NULL ? mnl_socket_get_fd(l->req.nl) : -1;
}

/* One datagram's messages to cb; the number of copies handed over. */
static int copies_datagram(struct copies *l, size_t n, queue_packet_cb cb,
			  void *data)
{
	const struct nlmsghdr *m;
	int rem = (int)n, handled = 0;

	if (n > COPIES_BUFSIZE) {
		/* cannot happen with our copy range: a copy we cannot read
		 * whole is a copy lost */
		l->lost++;
		return 0;
	}
	for (m = (const struct nlmsghdr *)l->buf; mnl_nlmsg_ok(m, rem);
	     m = mnl_nlmsg_next(m, &rem))
		handled += copies_handle(l, m, cb, data);
	return handled;
}

int copies_receive(struct copies *l, queue_packet_cb cb, void *data)
{
	int handled = 0;

	while (handled < COPIES_RECEIVE_MAX) {
		ssize_t n = recv(mnl_socket_get_fd(l->req.nl), l->buf,
				 COPIES_BUFSIZE, MSG_TRUNC);

		if (n >= 0) {
			handled += copies_datagram(l, (size_t)n, cb, data);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno != ENOBUFS)
			return -errno;
		l->overruns++;	/* the sequence numbers tell how many */
	}
	return handled;
}

unsigned long copies_lost(const struct copies *l)
{
	return l != NULL ? l->lost : 0;
}

unsigned long copies_overruns(const struct copies *l)
{
	return l != NULL ? l->overruns : 0;
}

unsigned long copies_malformed(const struct copies *l)
{
	return l != NULL ? l->malformed : 0;
}

void copies_close(struct copies *l)
{
	copies_free(l);
}
