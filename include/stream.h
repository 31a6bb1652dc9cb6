/* stream: one direction of a TCP byte stream put back in order and cut into
 * lines. Out-of-order segments are held up to a byte bound; retransmitted
 * and overlapping bytes are taken once, and a copy that differs from the
 * held one is an error (stream_segment). A hole the
 * receiver has acknowledged (bytes that went past uninspected) is skipped,
 * up to the next line end (stream_peer_acked). */
#ifndef FTPGATE_STREAM_H
#define FTPGATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_segment;			/* held out-of-order data */

/* Out-of-order segments held at once per direction. Adjacent and
 * overlapping pieces are merged, so this only limits holes. */
#define STREAM_HELD_MAX 64

struct stream {
	bool synchronized;		/* next_seq known */
	uint32_t next_seq;		/* next byte expected in order */
	size_t buffer_max;		/* bound on held + partial-line bytes */
	size_t line_max;
	bool data_seen;			/* a data byte was taken: SYN no
					   longer moves next_seq */
	bool fin_seen;			/* fin_seq is known */
	uint32_t fin_seq;		/* sequence number the sender's FIN
					   takes (one past its last byte) */
	struct stream_segment *held;	/* sorted by seq, owned; disjoint,
					   never adjacent, all after next_seq */
	size_t held_bytes;
	unsigned held_count;
	char *line;			/* partial line, owned, line_max + 2;
					   allocated on first data */
	size_t line_len;
	bool discarding;		/* inside an over-long line */
	bool cut;			/* the line under way began in a
					   skipped hole (stream_peer_acked) */
	bool urgent;			/* urgent_first..urgent_last hold
					   urgent bytes not yet cut */
	uint32_t urgent_first, urgent_last;
	bool urgent_line_end;		/* an urgent byte was a '\n' */
	/* completed lines waiting for stream_line_next, each stored as a
	 * flag byte ('L' line, 'X' over-long line: its first line_max
	 * bytes, 'C' cut line), the line, and '\n'
	 * (a line never contains '\n', so it is its own delimiter) */
	char *ready;
	size_t ready_len, ready_cap;
	size_t ready_read;
};

void stream_init(struct stream *s, size_t buffer_max, size_t line_max);
void stream_free(struct stream *s);

/* Feed one segment. `syn`: the segment carries SYN, so the stream starts
 * at seq + 1 and seq is the initial sequence number; a SYN's payload is
 * ignored (never stream data: see stream.c). A stream that never saw a
 * SYN synchronizes on its first data segment (mid-stream pickup after a
 * daemon restart, a missed SYN) and treats it as the start of a line,
 * unless stream_pickup() was called: then what comes up to its first line
 * end is a cut line (stream_line_next returns 2).
 * Overlapping bytes that differ from the copy the stream holds (held
 * out-of-order pieces, and the partial line under way) return -EILSEQ and
 * change nothing: the receiver may keep either copy, so the stream cannot
 * be trusted any more. Bytes of lines already complete are not kept and
 * not compared.
 * Returns 0, or -ENOBUFS when holding this segment would pass buffer_max
 * (the segment is ignored; the caller decides whether to give up).
 * Bounds: out-of-order data is held only while held bytes + the partial
 * line + lines still unread from an earlier call stay within buffer_max,
 * only within buffer_max bytes of next_seq, and in at most STREAM_HELD_MAX
 * pieces. In-order data is cut into lines at once and is not counted while
 * the caller drains the lines after each call, so a large in-order segment
 * (GRO) is fine. -ENOMEM when the heap fails (state stays consistent). */
int stream_segment(struct stream *s, uint32_t seq, bool syn,
		   const uint8_t *data, size_t len);

/* The segment carrying seq, syn and len data bytes also carries FIN: note
 * where the FIN is, so that the receiver's acknowledgement of it is not
 * taken for bytes we missed (stream_peer_acked). The first FIN at or after
 * next_seq counts; later ones are ignored. */
void stream_fin(struct stream *s, uint32_t seq, bool syn, size_t len);

/* The stream's start went by unseen (no SYN): nobody can tell whether
 * its first data starts a line, so what comes up to the first line end
 * is a cut line. For an unsynchronized stream; no effect on another. */
void stream_pickup(struct stream *s);

/* Whether a RST carrying sequence number seq is exact for this stream
 * (RFC 5961 3.2): seq is the next byte expected (next_seq), or one past
 * the sender's FIN. False for an unsynchronized stream. */
bool stream_reset_exact(const struct stream *s, uint32_t seq);

/* The receiver of this stream acknowledged everything before `ack` (the
 * acknowledgement number of a packet going the other way, ACK set, not a
 * RST). The daemon sees the packets of a connection in the order they
 * pass, so the receiver can hold bytes beyond next_seq only if they went
 * past us uninspected (queue full, daemon down): they are never sent
 * again and the hole they left is permanent. Then the stream skips them:
 * next_seq moves to the acknowledged point, held pieces and partial-line
 * bytes before it are dropped, held bytes after it are kept and cut into
 * lines, and what comes up to and including the next line end is a cut
 * line (stream_line_next returns 2): its beginning may have been in the
 * hole, so it cannot be trusted; it only says that one line ended.
 * Not a hole: an unsynchronized stream; ack at or before next_seq (serial
 * arithmetic); the acknowledgement of a FIN (stream_fin); ack exactly
 * next_seq + 1 with no FIN seen (a FIN that itself went past us; a real
 * one-byte hole shows again, larger, with the next data). Nothing after a
 * FIN is data: the skip stops at the FIN.
 * Returns 0 when nothing was skipped, the number of sequence numbers
 * skipped (> 0) after resynchronizing (lines after the hole may now be
 * waiting for stream_line_next, the first of them a cut line), or -ENOMEM
 * when the heap failed while cutting held data (the stream then drops its
 * held data: it is consistent but incomplete, and the caller should stop
 * tracking it). Bounds are kept: held data only shrinks, and its offsets
 * from next_seq only shrink. */
int stream_peer_acked(struct stream *s, uint32_t ack);

/* The byte at `seq` is TCP urgent data (the sender's urgent pointer; on
 * Linux, seq + urg_ptr - 1). A receiver without SO_OOBINLINE takes it out
 * of the stream, one with it (vsftpd) leaves it in, and which one a peer is
 * cannot be seen. So the line that holds the byte is a cut line
 * (stream_line_next returns 2: counted, never acted on); when the byte is
 * a line end, the line after it too (the receiver may read both as one),
 * and urgent_line_end is set for the caller (stream_urgent_line_end). Urgent
 * bytes already cut are ignored; several pending ones are kept as one
 * range from the first to the last. */
void stream_urgent(struct stream *s, uint32_t seq);

/* True once after an urgent byte that was a line end has been cut: the
 * receiver may have seen one line less than the stream handed out. */
bool stream_urgent_line_end(struct stream *s);

/* The next complete line in order, without its "\r\n" or "\n". Returns 1
 * with *line and *len valid until the next stream call, 0 when no complete line
 * is waiting, or -EMSGSIZE once for each line longer than line_max (that
 * line's bytes are dropped up to its end; *line and *len then hold its
 * first line_max bytes, where a reply keeps its code and separator: enough
 * to pair it with its command, never to act on its text). Returns 2 for a cut line: the
 * first line end after a skipped hole (stream_peer_acked) ends a line whose
 * beginning may have been in the hole. *line and *len then hold what we
 * have of it (nothing when that is longer than line_max). It is one line
 * to the peer, but its text cannot be trusted: never act on it. */
int stream_line_next(struct stream *s, const char **line, size_t *len);

size_t stream_memory(const struct stream *s);

/* Check the internal invariants (held pieces sorted, disjoint, in the
 * window, counts right, buffers within bounds). Returns 0 or -EFAULT; for
 * tests and fuzzing. */
int stream_validate(const struct stream *s);

#endif
