/* stream: one direction of a TCP byte stream put back in order and cut into
 * lines. Out-of-order segments are held up to a byte bound; retransmitted
 * and overlapping bytes are taken once (first copy wins). */
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
	struct stream_segment *held;	/* sorted by seq, owned; disjoint,
					   never adjacent, all after next_seq */
	size_t held_bytes;
	unsigned held_count;
	char *line;			/* partial line, owned, line_max + 2;
					   allocated on first data */
	size_t line_len;
	bool discarding;		/* inside an over-long line */
	/* completed lines waiting for stream_line_next, each stored as a
	 * flag byte ('L' line, 'X' over-long marker), the line, and '\n'
	 * (a line never contains '\n', so it is its own delimiter) */
	char *ready;
	size_t ready_len, ready_cap;
	size_t ready_read;
};

void stream_init(struct stream *s, size_t buffer_max, size_t line_max);
void stream_free(struct stream *s);

/* Feed one segment. `syn`: the segment carries SYN, so its data starts at
 * seq + 1 and seq is the initial sequence number. A stream that never saw a
 * SYN synchronizes on its first data segment (mid-stream pickup after a
 * daemon restart) and treats it as the start of a line.
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

/* The next complete line in order, without its "\r\n" or "\n". Returns 1
 * with *line and *len valid until the next stream call, 0 when no complete line
 * is waiting, or -EMSGSIZE once for each line longer than line_max (that
 * line's bytes are dropped up to its end). */
int stream_line_next(struct stream *s, const char **line, size_t *len);

size_t stream_memory(const struct stream *s);

/* Check the internal invariants (held pieces sorted, disjoint, in the
 * window, counts right, buffers within bounds). Returns 0 or -EFAULT; for
 * tests and fuzzing. */
int stream_validate(const struct stream *s);

#endif
