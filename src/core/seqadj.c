/* seqadj: the kernel's sequence adjustment of one direction, mirrored
 * (include/seqadj.h). */
#include "seqadj.h"

/* a after b in sequence space (the kernel's after()) */
static int seqadj_after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

void seqadj_add(struct seqadj *a, uint32_t seq, int32_t diff)
{
	if (a->offset_before != a->offset_after &&
	    !seqadj_after(seq, a->correction_pos))
		return;
	a->correction_pos = seq;
	a->offset_before = a->offset_after;
	a->offset_after += diff;
}

uint32_t seqadj_ack(const struct seqadj *a, uint32_t ack)
{
	if (seqadj_after(ack - (uint32_t)a->offset_before, a->correction_pos))
		return ack - (uint32_t)a->offset_after;
	return ack - (uint32_t)a->offset_before;
}
