/* queue: the helper's NFQUEUE, read with libnetfilter_queue's mnl API, with
 * conntrack information asked for on every packet. */
#ifndef FTPGATE_QUEUE_H
#define FTPGATE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

struct queue;

/* What the kernel told us about one queued packet. */
struct queue_packet {
	uint32_t packet_id;
	const uint8_t *data;		/* network header onwards */
	size_t len;
	bool has_conntrack;
	uint32_t conntrack_id;		/* CTA_ID */
	int conntrack_info;		/* enum ip_conntrack_info (NFQA_CT_INFO) */
	bool reply_direction;		/* conntrack_info >= IP_CT_IS_REPLY */
	/* original-direction tuple of the conntrack (client -> server) */
	struct inet_addr orig_src, orig_dst;
	uint16_t orig_sport, orig_dport;	/* host byte order */
	uint8_t l4proto;
	/* The kernel cut the packet (NFQA_CAP_LEN > len); cannot happen with
	 * our copy range and GSO segmentation, but do not parse past len. */
	bool truncated;
};

typedef void (*queue_packet_cb)(const struct queue_packet *pkt, void *data);

/* Bind queue `number`: copy whole packets, ask for conntrack info, fail
 * open when the queue is full. Fails with -EBUSY if another process already
 * listens on it (a second daemon must not fight over the queue). */
int queue_open(struct queue **q, uint16_t number, char *err, size_t errlen);
int queue_fd(const struct queue *q);

/* Read what is waiting (non-blocking socket) and call cb for each packet.
 * Returns the number of packets handled, 0 if none were waiting, -ENOBUFS
 * when the kernel dropped messages (counted in queue_overruns), or another
 * negative errno. pkt and pkt->data are valid only during cb. Handles at
 * most 1024 packets per call: poll the descriptor level-triggered. */
int queue_receive(struct queue *q, queue_packet_cb cb, void *data);

/* Release a packet unchanged. Every packet handed to cb must get exactly
 * one verdict. */
int queue_accept(struct queue *q, uint32_t packet_id);

unsigned long queue_overruns(const struct queue *q);
/* Verdicts the kernel refused (NLMSG_ERROR, e.g. unknown packet id). */
unsigned long queue_verdict_errors(const struct queue *q);
void queue_close(struct queue *q);

#endif
