/* queue: the helper's NFQUEUE, read with libnetfilter_queue's mnl API, with
 * conntrack information asked for on every packet. */
#ifndef FTPGATE_QUEUE_H
#define FTPGATE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flow.h"

struct queue;

/* What the kernel told us about one queued packet. */
struct queue_packet {
	uint32_t packet_id;
	/* An NFLOG copy (copies.h, capture = replies): the packet itself is
	 * already on its way; it has no packet_id and gets no verdict. */
	bool copy;
	const uint8_t *data;		/* network header onwards */
	size_t len;
	bool has_conntrack;
	uint32_t conntrack_id;		/* CTA_ID */
	int conntrack_info;		/* enum ip_conntrack_info (NFQA_CT_INFO) */
	bool reply_direction;		/* conntrack_info >= IP_CT_IS_REPLY */
	/* original-direction tuple of the conntrack (client -> server) */
	struct flow orig;
	/* reply-direction tuple (real server -> client as the server sees
	 * it: the NATed view, doc/nat.md section 1); has_reply false when
	 * the kernel did not send it */
	bool has_reply;
	struct flow reply;
	uint32_t ct_status;		/* CTA_STATUS (IPS_*), 0 if not sent */
	uint8_t l4proto;
	/* The conntrack is a data connection an expectation admitted
	 * (IPS_EXPECTED). Kernel facts: Debian's 6.1.176 gives such a
	 * connection its master's helper, so its packets are queued to us
	 * too (measured in the lab: helper=ftpgate on the data conntrack);
	 * 6.1.192 and 6.12.118 do not. */
	bool expected;
	/* Its TCP state is past ESTABLISHED (a FIN or RST was seen). */
	bool closing;
	/* The interface the packet came in on (NFQA_IFINDEX_INDEV), 0 when
	 * the kernel did not say. Kernel facts: the helper's queue runs in
	 * the conntrack confirm hook (POSTROUTING for a forwarded packet),
	 * where ip_output()/ip6_output() still pass the input device;
	 * measured on Debian's 6.1 (lab suite-attacks: a "server" segment
	 * injected on the client's side arrives with the client's ifindex). */
	uint32_t indev;
	/* The interface the kernel routes it out of (NFQA_IFINDEX_OUTDEV),
	 * 0 when it did not say (a packet to the gateway itself). Kernel
	 * facts: in the confirm hook (POSTROUTING) a forwarded packet has
	 * its route's device; measured on 6.1.192 and 6.12.118 (lab
	 * suite-attacks: a "server" segment injected on the client's side
	 * arrives with the client's ifindex as both indev and outdev). */
	uint32_t outdev;
	/* The kernel cut the packet (NFQA_CAP_LEN > len); cannot happen with
	 * our copy range and GSO segmentation, but do not parse past len. */
	bool truncated;
};

struct nlattr;

/* Upper bound of packets handled in one queue_receive() call, so that a
 * flood cannot keep the caller from its timers. The descriptor stays
 * readable when more is waiting (poll it level-triggered). */
#define QUEUE_RECEIVE_MAX 1024

/* Fill pkt's conntrack fields from a packet message's conntrack attribute
 * (NFQA_CT or NFULA_CT: the attributes of a ctnetlink conntrack message,
 * read in `family` by ctnl_parse_ct_attrs) and its ctinfo attribute
 * (NFQA_CT_INFO or NFULA_CT_INFO, be32 enum ip_conntrack_info).
 * pkt->has_conntrack is set only when both are there and well-formed;
 * either may be NULL. */
void queue_packet_conntrack(const struct nlattr *ct_attr,
			    const struct nlattr *info_attr, int family,
			    struct queue_packet *pkt);

typedef void (*queue_packet_cb)(const struct queue_packet *pkt, void *data);

struct queue_params {
	uint16_t number;
	/* Packets the kernel holds for us (NFQA_CFG_QUEUE_MAXLEN, kernel
	 * default 1024); beyond it, fail-open lets packets pass uninspected,
	 * with no counter and no message to us. At least 1. */
	uint32_t max_packets;
	/* The socket's receive buffer (SO_RCVBUFFORCE; the kernel books
	 * twice this). When it is full, packets pass uninspected and the next
	 * receive reports ENOBUFS (queue_overruns). 4096 to INT_MAX / 2. */
	uint32_t rcvbuf_bytes;
};

/* Bind queue p->number: copy whole packets, ask for conntrack info, fail
 * open when the queue or our receive buffer is full. Fails with -EBUSY if
 * another process already listens on it (a second daemon must not fight
 * over the queue). Both limits are set once, here. */
int queue_open(struct queue **q, const struct queue_params *p, char *err,
	       size_t errlen);
int queue_fd(const struct queue *q);

/* Read what is waiting (non-blocking socket, several messages per
 * receive) and call cb for each packet; the verdicts cb gave are sent
 * after each receive's packets, and all of them before this returns.
 * Returns the number of packets handled, 0 if none were waiting, -ENOBUFS
 * when the receive buffer was full and the kernel let packets pass
 * uninspected (counted in queue_overruns; call again, the rest is still
 * there), or another negative errno. pkt and pkt->data are valid only
 * during cb. Handles at most QUEUE_RECEIVE_MAX packets per call (fewer:
 * none is left): poll the descriptor level-triggered, and call this on
 * POLLERR as on POLLIN (an ENOBUFS that came after some messages is
 * reported by the next call, and only POLLERR says it is there). */
int queue_receive(struct queue *q, queue_packet_cb cb, void *data);

/* Another nfnetlink subsystem bound on the queue's socket (capture's
 * NFLOG group, copies.h): its messages reach cb from queue_receive() in
 * the order the kernel sent them, between the queued packets, and while
 * a request waits for its ACK they are kept like the packets. cb returns
 * 1 when it handed a packet on (counted in queue_receive()'s result), else
 * 0. NULL: such messages are skipped. */
struct nlmsghdr;
typedef int (*queue_foreign_cb)(const struct nlmsghdr *nlh, void *data);
void queue_set_foreign(struct queue *q, queue_foreign_cb cb, void *data);

/* Send a request (another subsystem's config message, built by the
 * caller) on the queue's socket and wait for its ACK; messages that come
 * meanwhile are kept for queue_receive(). 0 or the kernel's negative
 * errno (-ETIMEDOUT when it did not answer). */
int queue_request(struct queue *q, struct nlmsghdr *nlh);

/* Release a packet unchanged. Every packet handed to cb must get exactly
 * one verdict. The verdict is kept and sent with the others of the same
 * receive, before queue_receive() returns (one send for several); 0, or
 * the -errno of an earlier batch's send that this call had to make room
 * for. A send that fails counts each of its verdicts in
 * queue_verdict_errors(). */
int queue_accept(struct queue *q, uint32_t packet_id);

/* queue_accept, but sent now, in one send with the verdicts kept before
 * it, not after the rest of its receive's packets: for a packet someone
 * is waiting on (the reply that announced a pinhole, once the pinhole
 * exists). 0, or the -errno of a send that failed (its verdicts counted
 * in queue_verdict_errors()). */
int queue_accept_now(struct queue *q, uint32_t packet_id);

/* Release a packet with new contents data[0..len) (network header
 * onwards; NFQA_PAYLOAD). The kernel takes it as is (CHECKSUM_NONE): the
 * checksums must be right (queue_tcp_mangle).
 *
 * seqadj: the payload's length changed. The verdict then carries an
 * empty NFQA_CT, and the kernel records the difference in the
 * connection's sequence adjustment from this packet's sequence number on
 * (kernel facts: nfqnl_recv_verdict() calls ctnetlink_glue_seqadj(),
 * which acts only on a NATed connection with the seqadj extension, i.e.
 * with the helper attached before NAT was set up; nf_ct_tcp_seqadj_set()
 * finds the TCP header with ip_hdrlen(), so IPv4 only). Without seqadj no
 * NFQA_CT is sent and nothing is adjusted: the length must not change.
 * Sent at once, after the verdicts kept before it (queue_accept). */
int queue_accept_payload(struct queue *q, uint32_t packet_id,
			 const uint8_t *data, size_t len, bool seqadj);

/* The IPv4 or IPv6 TCP packet data[0..len) with its TCP payload bytes
 * [off, off + old_len) replaced by rep[0..rep_len), written to out (room
 * for out_max bytes) with the IP and TCP checksums recomputed and the IP
 * length updated (libnetfilter_queue's pktbuff: nfq_tcp_mangle_ipv4 /
 * _ipv6). 0 and *out_len, -EINVAL when the packet is not TCP over IPv4 or
 * IPv6 (no extension headers) or the span lies outside its payload,
 * -EMSGSIZE when the result does not fit out_max or 65535, -ENOMEM. */
int queue_tcp_mangle(const uint8_t *data, size_t len, size_t off,
		     size_t old_len, const char *rep, size_t rep_len,
		     uint8_t *out, size_t out_max, size_t *out_len);

unsigned long queue_overruns(const struct queue *q);
/* Verdicts the kernel refused (NLMSG_ERROR, e.g. unknown packet id), and
 * verdicts whose send failed. */
unsigned long queue_verdict_errors(const struct queue *q);
/* Release what is waiting, unbind the queue (waiting for the kernel's
 * ACK) and free q. 0, or negative errno with a message in err when the
 * unbind failed (q is freed either way; the kernel unbinds a queue whose
 * socket is closed). */
int queue_close(struct queue *q, char *err, size_t errlen);

/* One queue's line of /proc/net/netfilter/nfnetlink_queue (this network
 * namespace): who reads it and the kernel's drop counters. */
struct queue_proc_row {
	uint32_t portid;		/* the netlink port bound to it */
	uint32_t waiting;		/* packets waiting for a verdict */
	uint32_t dropped;		/* queue full, without fail-open */
	uint32_t user_dropped;		/* not delivered, without fail-open */
};

/* 0 and *row when queue `number` is bound by someone, -ENOENT when nobody
 * reads it, or another negative errno when the file cannot be read. */
int queue_proc_read(uint16_t number, struct queue_proc_row *row);

#endif
