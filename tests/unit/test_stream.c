/* test_stream: reassembly orderings and line cutting. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "stream.h"

static int feed(struct stream *s, uint32_t seq, bool syn, const char *text)
{
	return stream_segment(s, seq, syn, (const uint8_t *)text, strlen(text));
}

/* Drain every waiting line into buf as "line|line|", over-long lines as
 * "<long>|", cut lines as "<cut>line|"; a NUL in a line shows as "\0" so
 * tests can see it. */
static const char *drain(struct stream *s)
{
	static char buf[8192];
	const char *line;
	size_t len, used = 0, i;
	int r;

	buf[0] = '\0';
	while ((r = stream_line_next(s, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			used += (size_t)snprintf(buf + used, sizeof(buf) - used,
						 "<long>|");
			continue;
		}
		if (r == 2)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used,
						 "<cut>");
		for (i = 0; i < len && used + 3 < sizeof(buf); i++) {
			if (line[i] == '\0') {
				buf[used++] = '\\';
				buf[used++] = '0';
			} else {
				buf[used++] = line[i];
			}
		}
		if (used + 2 < sizeof(buf))
			buf[used++] = '|';
		buf[used] = '\0';
	}
	return buf;
}

static void test_in_order(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 1000, true, ""), 0);
	CHECK(s.synchronized);
	CHECK_INT(s.next_seq, 1001);
	CHECK_INT(feed(&s, 1001, false, "USER anonymous\r\n"), 0);
	CHECK_STR(drain(&s), "USER anonymous|");
	CHECK_INT(feed(&s, 1017, false, "PASS x\r\nPWD\r\nPASV\r\n"), 0);
	CHECK_STR(drain(&s), "PASS x|PWD|PASV|");
	CHECK_INT(s.next_seq, 1017 + 19);
	/* nothing more waiting */
	CHECK_STR(drain(&s), "");
	stream_free(&s);
}

static void test_line_endings(void)
{
	struct stream s;
	const char *line;
	size_t len;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, false, "a\nb\r\nc\rd\r\n\r\n\n"), 0);
	/* bare LF ends a line; bare CR inside stays; empty lines count */
	CHECK_STR(drain(&s), "a|b|c\rd|||");
	/* CR CR LF: only the last CR is line ending */
	CHECK_INT(feed(&s, 13, false, "x\r\r\n"), 0);
	CHECK_INT(stream_line_next(&s, &line, &len), 1);
	CHECK_INT(len, 2);
	CHECK(memcmp(line, "x\r", 2) == 0);
	CHECK_INT(stream_line_next(&s, &line, &len), 0);
	/* NUL bytes are data; the parser judges them */
	CHECK_INT(stream_segment(&s, 17, false, (const uint8_t *)"a\0b\n", 4), 0);
	CHECK_STR(drain(&s), "a\\0b|");
	stream_free(&s);
}

static void test_split_lines(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 99, true, ""), 0);
	CHECK_INT(feed(&s, 100, false, "227 Entering"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 112, false, " Passive Mode"), 0);
	CHECK_STR(drain(&s), "");
	/* CR at the end of one segment, LF at the start of the next */
	CHECK_INT(feed(&s, 125, false, " (1,2,3,4,5,6)\r"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(s.line_len, 40);
	CHECK_INT(feed(&s, 140, false, "\n200 ok\r\n"), 0);
	CHECK_STR(drain(&s), "227 Entering Passive Mode (1,2,3,4,5,6)|200 ok|");
	stream_free(&s);
}

static void test_reverse_order(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	/* "AAA\r\n" at 1, "BBB\r\n" at 6, "CCC\r\n" at 11, backwards */
	CHECK_INT(feed(&s, 11, false, "CCC\r\n"), 0);
	CHECK_INT(feed(&s, 6, false, "BBB\r\n"), 0);
	CHECK_STR(drain(&s), "");
	/* adjacent pieces merge into one */
	CHECK_INT(s.held_count, 1);
	CHECK_INT(s.held_bytes, 10);
	CHECK_INT(feed(&s, 1, false, "AAA\r\n"), 0);
	CHECK_STR(drain(&s), "AAA|BBB|CCC|");
	CHECK_INT(s.held_count, 0);
	CHECK_INT(s.held_bytes, 0);
	CHECK_INT(s.next_seq, 16);
	stream_free(&s);
}

static void test_interleaved(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	/* "l1\nl2\nl3\nl4\nl5\n": pieces of 3 at 1,4,7,10,13 */
	CHECK_INT(feed(&s, 4, false, "l2\n"), 0);
	CHECK_INT(feed(&s, 10, false, "l4\n"), 0);
	CHECK_INT(s.held_count, 2);
	CHECK_INT(feed(&s, 1, false, "l1\n"), 0);
	CHECK_STR(drain(&s), "l1|l2|");
	CHECK_INT(s.held_count, 1);
	CHECK_INT(feed(&s, 13, false, "l5\n"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 7, false, "l3\n"), 0);
	CHECK_STR(drain(&s), "l3|l4|l5|");
	CHECK_INT(s.held_count, 0);
	stream_free(&s);
}

static void test_duplicates(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "NOOP\r\n"), 0);
	CHECK_INT(feed(&s, 1, false, "NOOP\r\n"), 0);
	CHECK_STR(drain(&s), "NOOP|");
	/* a retransmission of old data is ignored, even with other bytes */
	CHECK_INT(feed(&s, 1, false, "PASV\r\n"), 0);
	CHECK_STR(drain(&s), "");
	/* held twice: held once */
	CHECK_INT(feed(&s, 13, false, "QUIT\r\n"), 0);
	CHECK_INT(feed(&s, 13, false, "QUIT\r\n"), 0);
	CHECK_INT(s.held_bytes, 6);
	CHECK_INT(s.held_count, 1);
	CHECK_INT(feed(&s, 7, false, "SYST\r\n"), 0);
	CHECK_STR(drain(&s), "SYST|QUIT|");
	stream_free(&s);
}

static void test_overlaps(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "USER ab"), 0);
	/* overlaps 2 bytes of the partial line with the same content,
	 * brings 4 new: only the new ones are taken */
	CHECK_INT(feed(&s, 6, false, "abcd\r\n"), 0);
	CHECK_STR(drain(&s), "USER abcd|");

	/* held "BBBB" at 21..24; a later copy "xBBBBx" over 20..25 agrees
	 * and fills around it */
	CHECK_INT(s.next_seq, 12);
	CHECK_INT(feed(&s, 21, false, "BBBB"), 0);
	CHECK_INT(feed(&s, 20, false, "xBBBBx"), 0);
	CHECK_INT(s.held_count, 1);
	CHECK_INT(s.held_bytes, 6);
	/* in-order data overlapping held data with the same bytes */
	CHECK_INT(feed(&s, 12, false, "12345678xBBBBxyy\n"), 0);
	CHECK_STR(drain(&s), "12345678xBBBBxyy|");
	CHECK_INT(s.held_count, 0);
	CHECK_INT(s.next_seq, 29);

	/* a new piece bridging two held pieces merges all three */
	CHECK_INT(feed(&s, 33, false, "cc"), 0);
	CHECK_INT(feed(&s, 39, false, "ee"), 0);
	CHECK_INT(s.held_count, 2);
	CHECK_INT(feed(&s, 32, false, "XccdddXee"), 0);
	CHECK_INT(s.held_count, 1);
	CHECK_INT(s.held_bytes, 9);
	CHECK_INT(feed(&s, 29, false, "aaa"), 0);
	CHECK_INT(feed(&s, 41, false, "\n"), 0);
	CHECK_STR(drain(&s), "aaaXccdddXee|");
	stream_free(&s);
}

/* Overlapping bytes that differ from the copy the stream holds: the
 * receiver may keep either, so the segment is refused (-EILSEQ) and
 * nothing changes. Issue 11, finding 8. */
static void test_overlap_conflicts(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	/* the partial line "227 (1,2,3,4,195," */
	CHECK_INT(feed(&s, 1, false, "227 (1,2,3,4,195,"), 0);
	CHECK_INT(feed(&s, 1, false, "227 (1,2,3,4,12,234)\r\n"), -EILSEQ);
	CHECK_INT(s.next_seq, 18);
	CHECK_STR(drain(&s), "");
	/* the same bytes again, then more: fine */
	CHECK_INT(feed(&s, 14, false, "195,80)\r\n"), 0);
	CHECK_STR(drain(&s), "227 (1,2,3,4,195,80)|");
	/* a held piece and a differing copy of part of it */
	CHECK_INT(s.next_seq, 23);
	CHECK_INT(feed(&s, 26, false, "held"), 0);
	CHECK_INT(feed(&s, 24, false, "xxHOLD"), -EILSEQ);
	CHECK_INT(s.held_count, 1);
	CHECK_INT(s.held_bytes, 4);
	/* in-order data whose tail differs from the held piece */
	CHECK_INT(feed(&s, 23, false, "abcdefg"), -EILSEQ);
	CHECK_INT(s.next_seq, 23);
	CHECK_INT(feed(&s, 23, false, "abcheld\n"), 0);
	CHECK_STR(drain(&s), "abcheld|");
	CHECK_INT(stream_validate(&s), 0);
	/* bytes of a line already complete are not kept: not compared */
	CHECK_INT(feed(&s, 27, false, "ZZZZ"), 0);
	CHECK_STR(drain(&s), "");
	stream_free(&s);
}

/* A stream whose start went by unseen: its first line is cut; an exact
 * RST is one at next_seq (or one past the FIN). */
static void test_pickup_and_reset(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	stream_pickup(&s);
	CHECK(!stream_reset_exact(&s, 1));
	CHECK_INT(feed(&s, 500, false, "ive Mode (1,2,3,4,12,234)\r\nPASV\r\n"), 0);
	CHECK_STR(drain(&s), "<cut>ive Mode (1,2,3,4,12,234)|PASV|");
	CHECK(stream_reset_exact(&s, 533));
	CHECK(!stream_reset_exact(&s, 534));
	CHECK(!stream_reset_exact(&s, 532));
	/* pickup on a synchronized stream changes nothing */
	stream_pickup(&s);
	CHECK_INT(feed(&s, 533, false, "NOOP\r\n"), 0);
	CHECK_STR(drain(&s), "NOOP|");
	stream_fin(&s, 539, false, 0);
	CHECK(stream_reset_exact(&s, 540));
	stream_free(&s);
}

static void test_wraparound(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	/* ISN just below 2^32: data crosses the wrap */
	CHECK_INT(feed(&s, 0xfffffff8u, true, ""), 0);
	CHECK_INT(s.next_seq, 0xfffffff9u);
	/* out of order across the wrap: "PASV\r\n" at 0xfffffff9,
	 * "EPSV\r\n" at 0xffffffff, "QUIT\r\n" at 5 */
	CHECK_INT(feed(&s, 5, false, "QUIT\r\n"), 0);
	CHECK_INT(feed(&s, 0xffffffffu, false, "EPSV\r\n"), 0);
	CHECK_INT(s.held_count, 1);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 0xfffffff9u, false, "PASV\r\n"), 0);
	CHECK_STR(drain(&s), "PASV|EPSV|QUIT|");
	CHECK_INT(s.next_seq, 11);
	/* data from before the wrap is old */
	CHECK_INT(feed(&s, 0xfffffffeu, false, "XXXXXXXX\r\n"), 0);
	CHECK_STR(drain(&s), "");
	/* a retransmission straddling: only bytes from 11 on are new */
	CHECK_INT(feed(&s, 0xfffffffeu, false, "0123456789abcNOOP\r\n"), 0);
	CHECK_STR(drain(&s), "NOOP|");
	stream_free(&s);
}

/* Like drain, with the head of over-long lines after "<long>". */
static const char *drain_long(struct stream *s)
{
	static char buf[1024];
	const char *line;
	size_t len, used = 0;
	int r;

	buf[0] = '\0';
	while ((r = stream_line_next(s, &line, &len)) != 0 && used < 900)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
					 "%s%.*s|", r == -EMSGSIZE ? "<long>" :
					 r == 2 ? "<cut>" : "", (int)len, line);
	return buf;
}

static void test_syn(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	/* before a SYN nor data nothing is known */
	CHECK_INT(feed(&s, 500, false, ""), 0);
	CHECK(!s.synchronized);
	CHECK_INT(feed(&s, 41, true, ""), 0);
	CHECK_INT(s.next_seq, 42);
	/* a retransmitted SYN with another ISN before data: take the new */
	CHECK_INT(feed(&s, 7000, true, ""), 0);
	CHECK_INT(s.next_seq, 7001);
	CHECK_INT(feed(&s, 7001, false, "220 hi\r\n"), 0);
	CHECK_STR(drain(&s), "220 hi|");
	/* a SYN after data does not rewind */
	CHECK_INT(feed(&s, 100, true, "X\r\n"), 0);
	CHECK_INT(s.next_seq, 7009);
	CHECK_STR(drain(&s), "");
	stream_free(&s);

	/* Payload on a SYN or SYN-ACK is never stream data (issue 11,
	 * finding 2): Linux drops it unless the socket uses TCP Fast Open,
	 * so a "220" there is one the client never read. The stream starts
	 * at ISN + 1 all the same. */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0xffffffffu, true, "220 hi\r\n227 x\r\n"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(s.next_seq, 0);
	CHECK(!s.data_seen);
	/* the real first bytes come at ISN + 1 */
	CHECK_INT(feed(&s, 0, false, "FEAT\r\n"), 0);
	CHECK_STR(drain(&s), "FEAT|");
	CHECK_INT(s.next_seq, 6);
	stream_free(&s);

	/* A receiver that did take them (Fast Open) acknowledges bytes we
	 * never took: a hole, and the line after it is a cut line. */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 99, true, "USER a\r\n"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(stream_peer_acked(&s, 100 + 8), 8);
	CHECK_INT(feed(&s, 108, false, "PASS b\r\nPASV\r\n"), 0);
	CHECK_STR(drain(&s), "<cut>PASS b|PASV|");
	stream_free(&s);
}

static void test_midstream(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	/* no SYN seen: the first data segment starts the stream */
	CHECK_INT(feed(&s, 123456, false, "PASV\r\n"), 0);
	CHECK(s.synchronized);
	CHECK_STR(drain(&s), "PASV|");
	CHECK_INT(s.next_seq, 123462);
	/* earlier bytes are old now */
	CHECK_INT(feed(&s, 123400, false, "NOOP\r\n"), 0);
	CHECK_STR(drain(&s), "");
	/* the tail of a line picked up mid-way still ends a (partial) line */
	stream_free(&s);
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 9, false, "ive Mode (1,2,3,4,5,6)\r\n200 ok\r\n"), 0);
	CHECK_STR(drain(&s), "ive Mode (1,2,3,4,5,6)|200 ok|");
	stream_free(&s);
}

static void test_long_lines(void)
{
	struct stream s;
	char big[64];

	stream_init(&s, 8192, 8);
	/* exactly line_max bytes: fine, with CRLF, LF, and CR split off */
	CHECK_INT(feed(&s, 0, false, "12345678\r\n12345678\n"), 0);
	CHECK_STR(drain(&s), "12345678|12345678|");
	CHECK_INT(feed(&s, 19, false, "ABCDEFGH\r"), 0);
	CHECK_INT(feed(&s, 28, false, "\n"), 0);
	CHECK_STR(drain(&s), "ABCDEFGH|");
	/* line_max + 1 bytes: over-long, once, then the next line is fine */
	CHECK_INT(feed(&s, 29, false, "123456789\r\nok\r\n"), 0);
	CHECK_STR(drain(&s), "<long>|ok|");
	/* line_max + 1 with the CR split from LF */
	CHECK_INT(feed(&s, 44, false, "123456789\r"), 0);
	CHECK_INT(feed(&s, 54, false, "\nok2\n"), 0);
	CHECK_STR(drain(&s), "<long>|ok2|");
	/* line_max + 1 bytes without CR, LF in the next segment */
	CHECK_INT(feed(&s, 59, false, "123456789"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 68, false, "\n"), 0);
	CHECK_STR(drain(&s), "<long>|");
	/* a very long line over many segments: one error, rest skipped */
	memset(big, 'z', sizeof(big));
	CHECK_INT(stream_segment(&s, 69, false, (const uint8_t *)big, 64), 0);
	CHECK_STR(drain(&s), "<long>|");
	CHECK(s.discarding);
	CHECK_INT(stream_segment(&s, 133, false, (const uint8_t *)big, 64), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 197, false, "zz\r\nPASV\r\n"), 0);
	CHECK_STR(drain(&s), "PASV|");
	CHECK(!s.discarding);
	CHECK_INT(s.line_len, 0);
	stream_free(&s);

	/* an over-long line comes with its first line_max bytes (a reply's
	 * code and separator), however it was split */
	stream_init(&s, 8192, 8);
	CHECK_INT(feed(&s, 0, false, "257 \"/a/b/c\"\r\n257-xy"), 0);
	CHECK_STR(drain_long(&s), "<long>257 \"/a/|");
	CHECK_INT(feed(&s, 20, false, "z"), 0);
	CHECK_INT(feed(&s, 21, false, "12345\r\n123456789\n"), 0);
	CHECK_STR(drain_long(&s), "<long>257-xyz1|<long>12345678|");
	stream_free(&s);
}

/* Issue 11, finding 9: TCP urgent data. A receiver without SO_OOBINLINE
 * takes the urgent byte out of its stream, one with it (vsftpd) does not:
 * the line holding it is a cut line either way, and when it is the line
 * end, the next line too. */
static void test_urgent(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	/* Telnet IP and Synch before ABOR, the IAC urgent (seq 3) */
	stream_urgent(&s, 3);
	CHECK_INT(feed(&s, 1, false, "\xff\xf4\xff\xf2" "ABOR\r\nPASV\r\n"), 0);
	CHECK_STR(drain_long(&s), "<cut>\xff\xf4\xff\xf2" "ABOR|PASV|");
	CHECK(!stream_urgent_line_end(&s));
	CHECK(!s.urgent);
	/* an urgent byte already taken is ignored */
	stream_urgent(&s, 5);
	CHECK(!s.urgent);
	/* one in a later segment (the pointer runs ahead of the data) cuts
	 * the line it lands in when that comes */
	stream_urgent(&s, 33);
	CHECK_INT(feed(&s, 17, false, "NOOP\r\nPORT 1,2"), 0);
	CHECK_STR(drain_long(&s), "NOOP|");
	CHECK_INT(feed(&s, 31, false, ",3,4,5,6\r\nSYST\r\n"), 0);
	CHECK_STR(drain_long(&s), "<cut>PORT 1,2,3,4,5,6|SYST|");
	/* the urgent byte is a line end (ftplib's ABOR sends the whole line
	 * urgent): that line and the next are cut, and the caller is told */
	stream_urgent(&s, 47 + 5);
	CHECK_INT(feed(&s, 47, false, "ABOR\r\nPASV\r\nNOOP\r\n"), 0);
	CHECK_STR(drain_long(&s), "<cut>ABOR|<cut>PASV|NOOP|");
	CHECK(stream_urgent_line_end(&s));
	CHECK(!stream_urgent_line_end(&s));
	/* several pending urgent bytes: one range */
	stream_urgent(&s, 65 + 2);
	stream_urgent(&s, 65 + 7);
	CHECK_INT(feed(&s, 65, false, "aaaa\nbbbb\ncccc\n"), 0);
	CHECK_STR(drain_long(&s), "<cut>aaaa|<cut>bbbb|cccc|");
	CHECK(!s.urgent);
	/* skipped over by a hole: forgotten */
	stream_urgent(&s, 100);
	CHECK_INT(stream_peer_acked(&s, 200), 120);
	CHECK_INT(feed(&s, 200, false, "x\ny\n"), 0);
	CHECK_STR(drain_long(&s), "<cut>x|y|");
	CHECK(!s.urgent);
	stream_free(&s);

	/* nothing to place it against before the stream starts */
	stream_init(&s, 8192, 512);
	stream_urgent(&s, 3);
	CHECK(!s.urgent);
	stream_free(&s);
}

static void test_bounds(void)
{
	struct stream s;
	uint8_t buf[300];
	int i;

	memset(buf, 'a', sizeof(buf));
	stream_init(&s, 100, 50);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	/* next_seq 1, window 1..100: far in the future is refused */
	CHECK_INT(stream_segment(&s, 101, false, buf, 1), -ENOBUFS);
	CHECK_INT(stream_segment(&s, 0x80000000u, false, buf, 1), -ENOBUFS);
	CHECK_INT(stream_segment(&s, 100, false, buf, 2), -ENOBUFS);
	CHECK_INT(s.held_count, 0);
	/* the last byte of the window fits */
	CHECK_INT(stream_segment(&s, 100, false, buf, 1), 0);
	CHECK_INT(s.held_bytes, 1);
	/* held bytes plus the partial line stay within buffer_max */
	CHECK_INT(feed(&s, 1, false, "0123456789abcdefghi"), 0);
	CHECK_INT(s.line_len, 19);
	CHECK_INT(s.next_seq, 20);
	CHECK_INT(stream_segment(&s, 21, false, buf, 79), 0);	/* 19+80 */
	CHECK_INT(s.held_bytes, 80);
	CHECK_INT(s.held_count, 1);
	CHECK_INT(stream_segment(&s, 102, false, buf, 2), -ENOBUFS);
	CHECK_INT(s.held_bytes, 80);
	CHECK_INT(stream_segment(&s, 102, false, buf, 1), 0);	/* = 100 */
	CHECK_INT(s.held_bytes, 81);
	/* ...and a copy of what is held costs nothing */
	CHECK_INT(stream_segment(&s, 21, false, buf, 79), 0);
	/* in-order data flows through whatever its size */
	CHECK_INT(stream_segment(&s, 20, false, (const uint8_t *)"\n", 1), 0);
	CHECK_STR(drain(&s), "0123456789abcdefghi|<long>|");
	CHECK_INT(s.next_seq, 101);
	CHECK_INT(s.held_count, 1);
	stream_free(&s);

	/* a large in-order segment of short lines is not bounded by
	 * buffer_max (it is not held) */
	stream_init(&s, 100, 50);
	for (i = 0; i < 300; i += 3)
		memcpy(buf + i, "ab\n", 3);
	CHECK_INT(stream_segment(&s, 1, false, buf, 300), 0);
	for (i = 0; i < 100; i++) {
		const char *line;
		size_t len;

		if (stream_line_next(&s, &line, &len) != 1 || len != 2)
			break;
	}
	CHECK_INT(i, 100);
	/* a caller that does not drain hits the bound */
	CHECK_INT(stream_segment(&s, 301, false, buf, 300), 0);
	CHECK_INT(stream_segment(&s, 601, false, buf, 3), -ENOBUFS);
	stream_free(&s);

	/* the count of held holes is bounded */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	for (i = 0; i < STREAM_HELD_MAX; i++)
		CHECK_INT(stream_segment(&s, 10 + 2 * (uint32_t)i, false, buf,
					 1), 0);
	CHECK_INT(s.held_count, STREAM_HELD_MAX);
	CHECK_INT(stream_segment(&s, 10 + 2 * STREAM_HELD_MAX, false, buf, 1),
		  -ENOBUFS);
	/* filling a hole merges pieces, which is always allowed */
	CHECK_INT(stream_segment(&s, 11, false, buf, 1), 0);
	CHECK_INT(s.held_count, STREAM_HELD_MAX - 1);
	CHECK(stream_memory(&s) >= s.held_bytes);
	stream_free(&s);
	CHECK_INT(stream_memory(&s), 0);
	/* stream_free twice is harmless */
	stream_free(&s);
}

/* The client sends "USER a\r\n" "PASS secret\r\n" "TYPE I\r\n" "PASV\r\n"
 * from 1001 on; 1012-1023 ("S secret\r\nTY") went past us uninspected. */
static void test_resync(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 1000, true, ""), 0);
	CHECK_INT(feed(&s, 1001, false, "USER a\r\nPAS"), 0);
	CHECK_STR(drain(&s), "USER a|");
	CHECK_INT(feed(&s, 1024, false, "PE I\r\nPASV\r\n"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(s.held_count, 1);
	/* acknowledgements up to what we have are no news */
	CHECK_INT(stream_peer_acked(&s, 1001), 0);
	CHECK_INT(stream_peer_acked(&s, 1012), 0);
	CHECK_INT(s.next_seq, 1012);
	CHECK_INT(s.line_len, 3);
	/* the receiver has 1012-1023: they are not coming again */
	CHECK_INT(stream_peer_acked(&s, 1024), 12);
	CHECK_INT(stream_validate(&s), 0);
	/* "PE I" finishes a line that lost its middle: a cut line, which
	 * only says that a line ended; the partial "PAS" is gone */
	CHECK_STR(drain(&s), "<cut>PE I|PASV|");
	CHECK_INT(s.next_seq, 1036);
	CHECK_INT(s.held_count, 0);
	CHECK_INT(s.held_bytes, 0);
	CHECK(!s.discarding);
	/* the same acknowledgement again, or an older one: nothing */
	CHECK_INT(stream_peer_acked(&s, 1024), 0);
	CHECK_INT(stream_peer_acked(&s, 1036), 0);
	/* a retransmission of skipped bytes is old */
	CHECK_INT(feed(&s, 1012, false, "S secret\r\nTYPE I\r\n"), 0);
	CHECK_STR(drain(&s), "");
	CHECK_INT(feed(&s, 1036, false, "LIST\r\n"), 0);
	CHECK_STR(drain(&s), "LIST|");
	stream_free(&s);

	/* the acknowledged point inside a held piece: its bytes from the
	 * point on are taken, the first line up to its end as a cut line */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "NOOP\r\n"), 0);
	CHECK_STR(drain(&s), "NOOP|");
	CHECK_INT(feed(&s, 20, false, "xyz\r\nPWD\r\nSY"), 0);
	CHECK_INT(stream_peer_acked(&s, 22), 15);
	CHECK_STR(drain(&s), "<cut>z|PWD|");
	CHECK_INT(s.next_seq, 32);
	CHECK_INT(s.line_len, 2);
	CHECK_INT(feed(&s, 32, false, "ST\r\n"), 0);
	CHECK_STR(drain(&s), "SYST|");
	CHECK_INT(stream_validate(&s), 0);
	stream_free(&s);

	/* no line end yet after the point: the cut line is reported once,
	 * empty, when it turns over-long, with no over-long marker */
	stream_init(&s, 8192, 16);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "abc"), 0);
	CHECK_INT(stream_peer_acked(&s, 50), 46);
	CHECK_INT(s.line_len, 0);
	CHECK_INT(feed(&s, 50, false, "0123456789012345678901234567890"), 0);
	CHECK_STR(drain(&s), "<cut>|");
	CHECK_INT(feed(&s, 81, false, "789\r\nQUIT\r\n"), 0);
	CHECK_STR(drain(&s), "QUIT|");
	stream_free(&s);

	/* a point that happens to be a line start cannot be told from one
	 * inside a line: that line is a cut line too */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "A\r\n"), 0);
	CHECK_INT(stream_peer_acked(&s, 7), 3);
	CHECK_INT(feed(&s, 7, false, "PASV\r\nB\r\n"), 0);
	CHECK_STR(drain(&s), "A|<cut>PASV|B|");
	stream_free(&s);
}

/* Held pieces around the point: those before it go, those after it stay
 * (with their own hole, which a retransmission fills as always). */
static void test_resync_held(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 100, true, ""), 0);
	CHECK_INT(feed(&s, 101, false, "A\r\n"), 0);
	CHECK_STR(drain(&s), "A|");
	/* next_seq 104; pieces at 110, 120-129, 140 and 160 */
	CHECK_INT(feed(&s, 110, false, "B\r\n"), 0);
	CHECK_INT(feed(&s, 120, false, "C\r\nD\r\nE\r\nF"), 0);
	CHECK_INT(feed(&s, 140, false, "G\r\nH\r\n"), 0);
	CHECK_INT(feed(&s, 160, false, "I\r\n"), 0);
	CHECK_INT(s.held_count, 4);
	/* the receiver has everything up to 126 */
	CHECK_INT(stream_peer_acked(&s, 126), 22);
	CHECK_INT(stream_validate(&s), 0);
	/* 126: "E\r\nF" - "E" is the cut line, "F" waits */
	CHECK_STR(drain(&s), "<cut>E|");
	CHECK_INT(s.next_seq, 130);
	CHECK_INT(s.line_len, 1);
	CHECK_INT(s.held_count, 2);
	CHECK_INT(s.held_bytes, 9);
	/* the hole 130-139 is an ordinary one: its bytes come again */
	CHECK_INT(feed(&s, 130, false, "\r\nJ\r\nK\r\n\r\n"), 0);
	CHECK_STR(drain(&s), "F|J|K||G|H|");
	CHECK_INT(s.next_seq, 146);
	CHECK_INT(s.held_count, 1);
	/* an acknowledgement past every piece drops them all */
	CHECK_INT(stream_peer_acked(&s, 200), 54);
	CHECK_INT(s.held_count, 0);
	CHECK_INT(s.held_bytes, 0);
	CHECK_INT(stream_validate(&s), 0);
	CHECK_INT(feed(&s, 200, false, "\r\nL\r\n"), 0);
	CHECK_STR(drain(&s), "<cut>|L|");
	stream_free(&s);

	/* lines not yet read when the hole is skipped stay readable, and
	 * come before those after the hole */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "old\r\n"), 0);
	CHECK_INT(feed(&s, 10, false, "\r\nnew\r\n"), 0);
	CHECK_INT(stream_peer_acked(&s, 10), 4);
	CHECK_STR(drain(&s), "old|<cut>|new|");
	stream_free(&s);
}

/* What is not a hole. */
static void test_resync_not(void)
{
	struct stream s;

	/* nothing known of the stream */
	stream_init(&s, 8192, 512);
	CHECK_INT(stream_peer_acked(&s, 12345), 0);
	CHECK(!s.synchronized);
	CHECK_INT(feed(&s, 500, false, ""), 0);
	CHECK_INT(stream_peer_acked(&s, 12345), 0);
	stream_free(&s);

	/* data held for a retransmission, acknowledged only up to next_seq:
	 * the hole is an ordinary loss, filled as before */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 1000, true, ""), 0);
	CHECK_INT(stream_peer_acked(&s, 1001), 0);	/* the SYN's */
	CHECK_INT(feed(&s, 1001, false, "USER a\r\n"), 0);
	CHECK_INT(feed(&s, 1015, false, "PWD\r\n"), 0);
	CHECK_INT(stream_peer_acked(&s, 1009), 0);
	CHECK_INT(stream_peer_acked(&s, 1005), 0);
	/* an acknowledgement from the far past (2^31 back reads as behind) */
	CHECK_INT(stream_peer_acked(&s, 1009 - 0x7fffffffu), 0);
	CHECK_INT(feed(&s, 1009, false, "SYST\r\n"), 0);
	CHECK_STR(drain(&s), "USER a|SYST|PWD|");
	CHECK_INT(s.next_seq, 1020);
	stream_free(&s);

	/* one past next_seq without a FIN seen: a FIN that went past us */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "221 bye\r\n"), 0);
	CHECK_STR(drain(&s), "221 bye|");
	CHECK_INT(stream_peer_acked(&s, 11), 0);
	CHECK_INT(s.next_seq, 10);
	/* ... but two past is a hole */
	CHECK_INT(stream_peer_acked(&s, 12), 2);
	CHECK_INT(s.next_seq, 12);
	stream_free(&s);
}

static void test_resync_fin(void)
{
	struct stream s;

	/* the acknowledgement of a FIN seen right after the data */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "221 bye\r\n"), 0);
	stream_fin(&s, 1, false, 9);
	CHECK(s.fin_seen);
	CHECK_INT(s.fin_seq, 10);
	CHECK_STR(drain(&s), "221 bye|");
	CHECK_INT(stream_peer_acked(&s, 11), 0);
	/* nothing comes after a FIN: a larger number stops at it */
	CHECK_INT(stream_peer_acked(&s, 5000), 0);
	CHECK_INT(s.next_seq, 10);
	/* a second FIN elsewhere does not move the first */
	stream_fin(&s, 40, false, 0);
	CHECK_INT(s.fin_seq, 10);
	stream_free(&s);
	CHECK(!s.fin_seen);

	/* a FIN-only segment, SYN+FIN, and a FIN before taken bytes */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "x\r\n"), 0);
	stream_fin(&s, 2, false, 0);
	CHECK(!s.fin_seen);
	stream_fin(&s, 4, false, 0);
	CHECK_INT(s.fin_seq, 4);
	stream_free(&s);
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0xffffffffu, true, ""), 0);
	stream_fin(&s, 0xffffffffu, true, 0);
	CHECK_INT(s.fin_seq, 0);
	CHECK_INT(stream_peer_acked(&s, 1), 0);
	stream_free(&s);
	/* unsynchronized: nothing to place it against */
	stream_init(&s, 8192, 512);
	stream_fin(&s, 7, false, 0);
	CHECK(!s.fin_seen);
	stream_free(&s);

	/* data before the FIN went past us: skipped up to the FIN only;
	 * what we held of it is before the point and goes too */
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "226 ok\r\n"), 0);
	CHECK_INT(feed(&s, 20, false, "\r\n221 bye\r\n"), 0);
	stream_fin(&s, 20, false, 11);
	CHECK_INT(s.fin_seq, 31);
	CHECK_INT(stream_peer_acked(&s, 32), 22);
	CHECK_STR(drain(&s), "226 ok|");
	CHECK_INT(s.held_count, 0);
	CHECK_INT(s.next_seq, 31);
	CHECK_INT(stream_peer_acked(&s, 32), 0);
	/* with the FIN known, one byte short of it is a real hole */
	stream_free(&s);
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0, true, ""), 0);
	CHECK_INT(feed(&s, 1, false, "a\r\n"), 0);
	CHECK_INT(feed(&s, 5, false, "b\r\n"), 0);
	stream_fin(&s, 5, false, 3);
	CHECK_INT(stream_peer_acked(&s, 5), 1);
	CHECK_STR(drain(&s), "a|<cut>b|");
	CHECK_INT(s.next_seq, 8);
	stream_free(&s);
}

static void test_resync_wraparound(void)
{
	struct stream s;

	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0xffffffe0u, true, ""), 0);
	CHECK_INT(feed(&s, 0xffffffe1u, false, "NOOP\r\nPA"), 0);
	CHECK_STR(drain(&s), "NOOP|");
	/* held across the wrap, at 0xfffffffe - 0x0d */
	CHECK_INT(feed(&s, 0xfffffffeu, false, "Y\r\nPASV\r\nEPSV\r\n"), 0);
	CHECK_INT(s.held_count, 1);
	/* at or before next_seq 0xffffffe9: nothing */
	CHECK_INT(stream_peer_acked(&s, 0xffffffe9u), 0);
	CHECK_INT(stream_peer_acked(&s, 0xffffffe0u), 0);
	/* the receiver is at 0, past the wrap: 0x17 bytes skipped, and
	 * the "\n" of the cut line ends it */
	CHECK_INT(stream_peer_acked(&s, 0), 0x17);
	CHECK_INT(stream_validate(&s), 0);
	CHECK_STR(drain(&s), "<cut>|PASV|EPSV|");
	CHECK_INT(s.next_seq, 0x0d);
	/* a FIN right at 2^32 - 1 and its acknowledgement at 0 */
	stream_free(&s);
	stream_init(&s, 8192, 512);
	CHECK_INT(feed(&s, 0xfffffff0u, true, ""), 0);
	CHECK_INT(feed(&s, 0xfffffff1u, false, "x\r\n"), 0);
	stream_fin(&s, 0xfffffff1u, false, 14);
	CHECK_INT(s.fin_seq, 0xffffffffu);
	CHECK_INT(stream_peer_acked(&s, 0), 0xffffffffu - 0xfffffff4u);
	CHECK_INT(s.next_seq, 0xffffffffu);
	stream_free(&s);
}

int main(void)
{
	test_in_order();
	test_line_endings();
	test_split_lines();
	test_reverse_order();
	test_interleaved();
	test_duplicates();
	test_overlaps();
	test_wraparound();
	test_syn();
	test_midstream();
	test_overlap_conflicts();
	test_pickup_and_reset();
	test_long_lines();
	test_urgent();
	test_bounds();
	test_resync();
	test_resync_held();
	test_resync_not();
	test_resync_fin();
	test_resync_wraparound();
	return check_report("stream");
}
