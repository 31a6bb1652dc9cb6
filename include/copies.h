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

/* Bind NFLOG group `group` on the queue's socket (queue_request), so that
 * the copies and the held packets arrive on one socket in the order the
 * kernel sent them: whole packets, with conntrack information and a
 * sequence number, each delivered at once (queue threshold 1). From then
 * on queue_receive() hands every copy to cb (with data), pkt->copy set,
 * between the held packets. 0, or a negative errno with a message in err
 * that names the cause and its fix (-EPERM: another process has bound the
 * group, or no CAP_NET_ADMIN). */
int copies_open(struct copies **l, struct queue *q, uint16_t group,
		queue_packet_cb cb, void *data, char *err, size_t errlen);

/* Copies lost so far: missing from the sequence numbers (the kernel could
 * not deliver them: the socket's buffer was full, counted as a queue
 * overrun too), or malformed. */
unsigned long copies_lost(const struct copies *l);
/* Messages that were not a well-formed packet copy. */
unsigned long copies_malformed(const struct copies *l);

/* Stop handing copies on (the queue's socket stays; closing it unbinds
 * the group) and free l. */
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
