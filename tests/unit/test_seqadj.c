/* test_seqadj: the kernel's sequence adjustment, mirrored. The expected
 * values follow nf_ct_seqadj_set() and nf_ct_seq_adjust() (6.1, 6.12). */
#include "check.h"
#include "seqadj.h"

int main(void)
{
	struct seqadj a = { 0 };

	/* untouched: acknowledgements pass as they are */
	CHECK(seqadj_ack(&a, 12345) == 12345);

	/* the packet at 1000 released 4 bytes longer: the receiver acks
	 * bytes after it 4 ahead, the packet's own start as it was */
	seqadj_add(&a, 1000, 4);
	CHECK(a.correction_pos == 1000 && a.offset_before == 0 && a.offset_after == 4);
	CHECK(seqadj_ack(&a, 1000) == 1000);
	CHECK(seqadj_ack(&a, 1004) == 1000);	/* ack - 0 = 1004, after 1000 */
	CHECK(seqadj_ack(&a, 1054) == 1050);
	CHECK(seqadj_ack(&a, 900) == 900);

	/* a retransmission of that packet, or an earlier start, changes
	 * nothing */
	seqadj_add(&a, 1000, 4);
	seqadj_add(&a, 990, 4);
	CHECK(a.correction_pos == 1000 && a.offset_before == 0 && a.offset_after == 4);

	/* a second resize later, 2 bytes shorter: offsets 4 then 2 */
	seqadj_add(&a, 2000, -2);
	CHECK(a.correction_pos == 2000 && a.offset_before == 4 && a.offset_after == 2);
	CHECK(seqadj_ack(&a, 2004) == 2000);	/* 2004 - 4 = 2000: not after */
	CHECK(seqadj_ack(&a, 2010) == 2008);

	/* across the wrap of the sequence space */
	a = (struct seqadj){ 0 };
	seqadj_add(&a, 0xfffffff0u, 10);
	CHECK(seqadj_ack(&a, 0x00000010u) == 0x00000006u);
	CHECK(seqadj_ack(&a, 0xfffffff0u) == 0xfffffff0u);
	seqadj_add(&a, 0x00000100u, -3);
	CHECK(a.offset_before == 10 && a.offset_after == 7);
	return check_report("seqadj");
}
