/* capture = replies on the packet path (doc/config.md "Capture"): the
 * client's packets and the server's empty segments come as NFLOG copies
 * (no packet ID, no verdict), the server's data segments are held, all
 * through inspect_packet and the fake kernel of harness.c. What must hold:
 * no copy ever gets a verdict, the sessions decide exactly as when every
 * packet is held, a copy that overtakes a held segment (the server's FIN,
 * a pipelined command) changes nothing, and a line a NAT needs rewritten
 * that comes as a copy is passed, counted and said. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "tcp_build.h"

#define C HARNESS_CLIENT
#define S HARNESS_SERVER
#define V4_CLIENT "198.51.100.2"
#define V4_SERVER "203.0.113.2"
#define NAT_PUBLIC_LONG "198.51.100.123"
#define NAT_PUBLIC_SAME "203.0.113.9"
#define NAT_GW "203.0.113.1"
#define STARTED_LONG_AGO (3600u * 1000)
#define CAPTURE "capture = replies\n"
#define PASV_REAL "227 Entering Passive Mode (203,0,113,2,195,80)\r\n"

/* Every harness here runs on CAPTURE, so harness_login delivers the
 * handshake as three copies (all empty), the server's lines held and the
 * client's copied (held with h.client_held: harness.h). */

/* Held packets get exactly one verdict each, copies none. */
static void check_verdicts(const struct harness *h)
{
	CHECK_INT(h->k.copy_verdicts, 0);
	CHECK_INT(h->k.verdicts, h->packet_id);
	CHECK_INT(h->d.stats.packets, h->packet_id + h->d.stats.packets_copied);
}

/* A passive transfer: the pinhole opens at the held 227 and goes at the
 * 226; 3 handshake copies and 4 client lines copied, 6 replies held. */
static void test_capture_passive(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, "150 here it comes\r\n");
	harness_send(&h, S, "226 done\r\n");
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(h.d.stats.packets_copied, 3 + 4);
	CHECK_INT(h.packet_id, 6);
	check_verdicts(&h);
	harness_fini(&h);
}

/* A 227 with no PASV seen: refused, as with every packet held. */
static void test_capture_unsolicited(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, S, PASV_REAL);
	CHECK(!harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_audit_count(&h, "unsolicited-reply"), 1);
	check_verdicts(&h);
	harness_fini(&h);
}

/* The server sends its 227 and closes; its FIN (empty: copied) passes
 * the gateway while the 227 waits in the queue, so ftpgated reads the FIN
 * first. The 227, at the sequence numbers before it, still opens its
 * pinhole, and the session lives on (only one side closed). */
static void test_capture_fin_overtakes(void)
{
	struct harness h;
	uint32_t seq;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	seq = h.next_seq[S];
	harness_segment(&h, S, TCP_BUILD_ACK | TCP_BUILD_FIN,
			seq + (uint32_t)strlen(PASV_REAL), h.next_seq[C], NULL, 0,
			h.ifindex[S]);
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK(harness_tracked(&h));
	check_verdicts(&h);
	harness_fini(&h);
}

/* A pipelined command copied before the held reply to the one before it
 * (the client sent PASV and LIST at once): the 227 still answers the
 * PASV, the 150 the LIST. */
static void test_capture_pipelined(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, C, "LIST\r\n");
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	harness_send(&h, S, "150 here it comes\r\n226 done\r\n");
	CHECK_INT(harness_pinholes(&h), 0);
	CHECK_INT(harness_audit_count(&h, "unsolicited-reply"), 0);
	check_verdicts(&h);
	harness_fini(&h);
}

/* A DNAT-published server: its 227 is held, so it is rewritten to the
 * address the client dialled when that is as long as the server's own
 * (203.0.113.9 for 203.0.113.2), as with every packet held. */
static void test_capture_dnat_227(void)
{
	static const char want[] = "227 Entering Passive Mode (203,0,113,9,195,80)\r\n";
	struct harness h;

	harness_init(&h, V4_CLIENT, NAT_PUBLIC_SAME, CAPTURE, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, V4_CLIENT, h.client_port);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, NAT_PUBLIC_SAME, 50000));
	CHECK_INT(h.k.rewrites, 1);
	CHECK(h.k.rewritten_len == strlen(want) &&
	      memcmp(h.k.rewritten, want, strlen(want)) == 0);
	CHECK_INT(h.k.seqadj_diff, 0);
	CHECK_INT(h.d.stats.copies_unrewritable, 0);
	check_verdicts(&h);
	harness_fini(&h);
}

/* A rewrite that would change the line's length (198.51.100.123 for
 * 203.0.113.2 in a 227 with no text to shorten): refused under capture = replies, where the kernel would
 * shift every later held segment twice (rewrite.c); the 227 passes
 * unchanged, counted, and the pinhole still opens for the address the
 * client dialled. With capture = helper such a 227 is resized
 * (test_inspect's test_nat_227_many). */
static void test_capture_dnat_resize_refused(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, NAT_PUBLIC_LONG, CAPTURE, STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, V4_CLIENT, h.client_port);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, "227 =203,0,113,2,195,80\r\n");
	CHECK(harness_pinhole(&h, NAT_PUBLIC_LONG, 50000));
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(h.k.seqadj_diff, 0);
	CHECK_INT(h.d.stats.nat_rewrites_refused, 1);
	check_verdicts(&h);
	harness_fini(&h);
}

/* A masqueraded client's PORT that came as a copy (a ruleset that does
 * not hold a source-NATed client's data): no verdict, no rewrite,
 * counted (so are its USER and PASS: any data of such a client that
 * comes as a copy shows the ruleset wrong), said once; the server's
 * answer is still read. */
static void test_capture_masq_copy(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE "active-mode = on\n", STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 0);
	CHECK_INT(h.d.stats.copies_unrewritable, 3);
	CHECK(h.d.copies_unrewritable_said);
	harness_send(&h, S, "200 PORT command successful\r\n");
	check_verdicts(&h);
	harness_fini(&h);
}

/* The same client held (the shipped chain holds a source-NATed client's
 * data): rewritten as before. */
static void test_capture_masq_held(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE "active-mode = on\n", STARTED_LONG_AGO);
	harness_nat(&h, V4_SERVER, NAT_GW, 61000);
	h.client_held = true;
	harness_login(&h);
	harness_send(&h, C, "PORT 198,51,100,2,195,81\r\n");
	CHECK_INT(h.k.rewrites, 1);
	CHECK_INT(h.d.stats.copies_unrewritable, 0);
	check_verdicts(&h);
	harness_fini(&h);
}

/* The review's attack (helper-23, finding 1): the client sends STAT,
 * then, while the server's multi-line answer is held, an ACK 5 bytes
 * into it and a PASV. Applied at once, that ACK would skip the held
 * bytes' start and resynchronize the reply stream inside the 213 reply,
 * whose inner "227" line would then answer the PASV and open port 50010.
 * Kept instead, and found moot once the reply is read: the 213 answers
 * STAT, the server's real 227 the PASV. */
static void test_capture_ack_ahead(void)
{
	static const char stat[] = "213-status\r\n"
		"227 Entering Passive Mode (203,0,113,2,195,90)\r\n213 End\r\n";
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "STAT x\r\n");
	harness_segment(&h, C, TCP_BUILD_ACK, h.next_seq[C], h.next_seq[S] + 5,
			NULL, 0, h.ifindex[C]);
	CHECK(h.d.acks_deferred);
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, stat);
	CHECK(!harness_pinhole(&h, V4_SERVER, 50010));
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK(!harness_pinhole(&h, V4_SERVER, 50010));
	inspect_acks_deferred(&h.d, daemon_now_ms() + 1000);
	CHECK(!h.d.acks_deferred);
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	CHECK_INT(harness_audit_count(&h, "unsolicited-reply"), 0);
	check_verdicts(&h);
	harness_fini(&h);
}

/* Server bytes that really went by unread (the queue's bypass): the
 * client's ACK of them, a copy, is kept; too soon it still waits; once
 * the queue is empty and it has waited, the hole is skipped and the reply
 * stream resynchronizes (the PASV before it forgotten, the first line
 * after it cut), and a later PASV gets its pinhole. */
static void test_capture_ack_gap(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, CAPTURE, STARTED_LONG_AGO);
	harness_login(&h);
	harness_send(&h, C, "PASV\r\n");
	h.next_seq[S] += 30;		/* passed uninspected */
	harness_send(&h, C, "NOOP\r\n");
	CHECK(h.d.acks_deferred);
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	inspect_acks_deferred(&h.d, daemon_now_ms());
	CHECK(h.d.acks_deferred);
	CHECK_INT(h.d.stats.streams_resynchronized, 0);
	inspect_acks_deferred(&h.d, daemon_now_ms() + 1000);
	CHECK(!h.d.acks_deferred);
	CHECK_INT(h.d.stats.streams_resynchronized, 1);
	harness_send(&h, S, "200 NOOP ok\r\n");
	harness_send(&h, C, "PASV\r\n");
	harness_send(&h, S, PASV_REAL);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	check_verdicts(&h);
	harness_fini(&h);
}

int main(void)
{
	test_capture_passive();
	test_capture_unsolicited();
	test_capture_fin_overtakes();
	test_capture_pipelined();
	test_capture_ack_ahead();
	test_capture_ack_gap();
	test_capture_dnat_227();
	test_capture_dnat_resize_refused();
	test_capture_masq_copy();
	test_capture_masq_held();
	return check_report("capture");
}
