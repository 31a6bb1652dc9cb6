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
 *  - The group is bound on the queue's socket (one netlink portid for
 *    both subsystems): nfnetlink_unicast() puts the copies and the queued
 *    packets into one receive queue in the order they were sent, so
 *    ftpgated reads each command before the reply it caused. When that
 *    buffer is full the unicast fails, the copy is lost and the next recv
 *    fails with ENOBUFS (a queue overrun). With NFULNL_CFG_F_SEQ each
 *    message carries the instance's sequence number (NFULA_SEQ,
 *    incremented for every message built, delivered or not), so a gap
 *    counts the copies lost.
 *  - NFULA_PAYLOAD: copy_range bytes at most (0xffff, the maximum), from
 *    the network header; no NFULA_CAP_LEN exists, so a cut copy is told by
 *    the IP header's length. NFULA_CT is built by the same ctnetlink glue
 *    as NFQA_CT (ctnl_parse_ct_attrs reads it); NFULA_CT_INFO be32.
 *    NFULA_IFINDEX_INDEV/OUTDEV be32, present when the hook has the
 *    device (at POSTROUTING a forwarded packet has both, as in the queue).
 *  - Closing the socket (NETLINK_URELEASE, queue_close) destroys the
 *    instances it bound: no unbind is needed.
 */
#include "copies.h"
#include "nlrequest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

struct copies {
	struct queue *q;	/* whose socket the group is bound on */
	uint16_t group;
	queue_packet_cb cb;
	void *cb_data;
	bool seq_known;
	uint32_t next_seq;
	unsigned long lost;		/* seen missing */
	unsigned long malformed;
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

/* The queue's foreign callback: one NFLOG message. 1 when a copy went to
 * the callback. */
static int copies_message(const struct nlmsghdr *nlh, void *data)
{
	struct copies *l = data;
	struct queue_packet pkt;
	uint32_t seq = 0;
	bool has_seq;

	if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_ULOG)
		return 0;
	if (copies_parse_msg(nlh, &pkt, &seq, &has_seq) < 0) {
		l->malformed++;
		return 0;
	}
	if (has_seq)
		copies_seq_check(l, seq);
	l->cb(&pkt, l->cb_data);
	return 1;
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
	return queue_request(l->q, nlh);
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

int copies_open(struct copies **lp, struct queue *q, uint16_t group,
		queue_packet_cb cb, void *data, char *err, size_t errlen)
{
	struct copies *l = calloc(1, sizeof(*l));
	int rc;

	*lp = NULL;
	if (l == NULL) {
		nlrequest_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->q = q;
	l->group = group;
	l->cb = cb;
	l->cb_data = data;
	/* set first: a copy may come before the bind's ACK */
	queue_set_foreign(q, copies_message, l);
	rc = copies_bind(l);
	if (rc < 0) {
		copies_bind_error(l, rc, err, errlen);
		queue_set_foreign(q, NULL, NULL);
		free(l);
		return rc;
	}
	*lp = l;
	return 0;
}

unsigned long copies_lost(const struct copies *l)
{
	return l != NULL ? l->lost : 0;
}

unsigned long copies_malformed(const struct copies *l)
{
	return l != NULL ? l->malformed : 0;
}

void copies_close(struct copies *l)
{
	if (l == NULL)
		return;
	queue_set_foreign(l->q, NULL, NULL);
	free(l);
}
