/* copies: the NFLOG copies of the client's packets of FTP control
 * connections that the capture ruleset sends (capture = replies,
 * doc/config.md), read with libnetfilter_log's mnl API, with conntrack
 * information asked for on every packet. A copy is not held: the packet
 * is already on its way, and it gets no verdict. */
#ifndef FTPGATE_COPIES_H
#define FTPGATE_COPIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "queue.h"

struct copies;
struct nlmsghdr;

struct copies_params {
	uint16_t group;
	/* The socket's receive buffer (SO_RCVBUFFORCE). When it is full the
	 * kernel drops copies and the next receive reports ENOBUFS
	 * (copies_lost). 4096 to INT_MAX / 2. */
	uint32_t rcvbuf_bytes;
};

/* Bind group p->group: copy whole packets, with conntrack information and
 * a sequence number, each delivered at once (queue threshold 1: the
 * ordering argument of capture.c needs it). 0, -EBUSY when another
 * process has bound the group, or another negative errno with a message
 * in err that names the missing kernel support and its fix. */
int copies_open(struct copies **l, const struct copies_params *p, char *err,
	       size_t errlen);
int copies_fd(const struct copies *l);

#define COPIES_RECEIVE_MAX 1024

/* Read every copy waiting (non-blocking) and call cb for each, with
 * pkt->copy set. Returns the copies handed to cb, 0 when none was waiting,
 * or a negative errno; fewer than COPIES_RECEIVE_MAX: none is left. Copies the kernel could not deliver (ENOBUFS, or a
 * gap in the sequence numbers) are counted in copies_lost and reading goes
 * on. Handles at most COPIES_RECEIVE_MAX copies per call. */
int copies_receive(struct copies *l, queue_packet_cb cb, void *data);

/* Copies lost so far: missing from the sequence numbers, or not
 * readable whole. */
unsigned long copies_lost(const struct copies *l);
/* Times the kernel said ENOBUFS (our receive buffer was full: copies
 * lost, counted by copies_lost once a later copy shows the gap). */
unsigned long copies_overruns(const struct copies *l);
/* Messages that were not a well-formed packet copy. */
unsigned long copies_malformed(const struct copies *l);

void copies_close(struct copies *l);

/* Parse one NFULNL_MSG_PACKET message (nlh->nlmsg_len bytes, already
 * checked by mnl_nlmsg_ok) into *pkt: payload, conntrack (NFULA_CT in the
 * message's family, NFULA_CT_INFO), interfaces; pkt->copy set, and
 * pkt->truncated when the IP header's length is longer than the copy.
 * *seq and *has_seq: NFULA_SEQ. 0, or -EINVAL for a message that is not a
 * well-formed packet copy (pkt then untouched past its zeroing). */
int copies_parse_msg(const struct nlmsghdr *nlh, struct queue_packet *pkt,
		    uint32_t *seq, bool *has_seq);

#endif
