/* seqadj: the sequence adjustment the kernel keeps for one direction of a
 * NATed connection whose payload ftpgated resized, mirrored so that the
 * daemon can read the other side's acknowledgements.
 *
 * Kernel facts (nf_conntrack_seqadj.c, 6.1 and 6.12): a resized payload
 * released with NFQA_CT makes the kernel call nf_ct_seqadj_set() for that
 * packet's direction, which keeps one correction position and the offsets
 * before and after it; nf_ct_seq_adjust() then shifts that direction's
 * sequence numbers and the other direction's acknowledgements. ftpgated
 * sees every packet before that shift (queued at nf_confirm, adjusted on
 * reinjection in nf_confirm_cthelper), so a direction's own sequence
 * numbers are the sender's, while the acknowledgements of it arrive in
 * the receiver's numbering, ahead by the offsets. Pure. */
#ifndef FTPGATE_SEQADJ_H
#define FTPGATE_SEQADJ_H

#include <stdint.h>

struct seqadj {
	uint32_t correction_pos;	/* sequence number of the packet
					   last resized */
	int32_t offset_before;		/* up to and at correction_pos */
	int32_t offset_after;		/* after it */
};

/* Record that the packet starting at sequence number seq was released
 * diff bytes longer (negative: shorter), as nf_ct_seqadj_set() does: a
 * new correction position only when there is none yet or seq is after
 * the current one (a retransmission of the packet resized last changes
 * nothing). */
void seqadj_add(struct seqadj *a, uint32_t seq, int32_t diff);

/* The acknowledgement number ack (sent by the receiver of the adjusted
 * direction) in the sender's numbering, as nf_ct_seq_adjust() rewrites
 * it: less offset_after when ack - offset_before is after the correction
 * position, else less offset_before. An untouched seqadj returns ack. */
uint32_t seqadj_ack(const struct seqadj *a, uint32_t ack);

#endif
