/* stream: one direction of a TCP byte stream put back in order and cut into
 * lines. Out-of-order segments are held up to a byte bound; retransmitted
 * and overlapping bytes are taken once (first copy wins). */
#ifndef FTPGATE_STREAM_H
#define FTPGATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_segment;			/* held out-of-order data */

struct stream {
	bool synchronized;		/* next_seq known */
	uint32_t next_seq;		/* next byte expected in order */
	size_t buffer_max;		/* bound on held + partial-line bytes */
	size_t line_max;
	struct stream_segment *held;	/* sorted by seq, owned */
	size_t held_bytes;
	char *line;			/* partial line, owned, line_max + 1 */
	size_t line_len;
	bool discarding;		/* inside an over-long line */
	/* completed lines waiting for stream_line_next */
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
 * (the segment is ignored; the caller decides whether to give up). */
int stream_segment(struct stream *s, uint32_t seq, bool syn,
		   const uint8_t *data, size_t len);

/* The next complete line in order, without its "\r\n" or "\n". Returns 1
 * with *line/*len valid until the next stream call, 0 when no complete line
 * is waiting, or -EMSGSIZE once for each line longer than line_max (that
 * line's bytes are dropped up to its end). */
int stream_line_next(struct stream *s, const char **line, size_t *len);

size_t stream_memory(const struct stream *s);

#endif
