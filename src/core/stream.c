/* stream: one direction of a TCP byte stream put back in order and cut into
 * lines.
 *
 * Sequence numbers are compared with serial number arithmetic (RFC 1982):
 * the signed difference (int32_t)(a - b) says which comes first as long as
 * the two are less than 2^31 apart, which the window bound guarantees for
 * everything we keep.
 *
 * In-order bytes are cut into lines at once; only bytes after a hole are
 * held, as a sorted list of disjoint, non-adjacent pieces. A new piece is
 * merged with every held piece it touches. Overlapping bytes must be the
 * same: Linux may keep the later copy of an out-of-order overlap where we
 * would keep the first, so a retransmission whose bytes differ from the
 * copy we still hold (a held piece, or the partial line) is refused with
 * -EILSEQ and the caller stops trusting the stream. Identical overlaps are
 * taken once.
 *
 * A hole normally fills when the sender retransmits. Bytes that went past
 * the daemon uninspected (the kernel bypasses the queue when it is full or
 * gone) reached the receiver, which acknowledged them, so they never come
 * again: the receiver's acknowledgement is the evidence that lets the
 * stream give up on them (stream_peer_acked) instead of holding later data
 * until the bound is hit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

struct stream_segment {
	struct stream_segment *next;
	uint32_t seq;
	size_t len;
	uint8_t data[];
};

/* Keeps every offset and length well inside 2^31, so serial arithmetic and
 * size sums cannot wrap whatever the configuration says. */
#define STREAM_LIMIT_MAX ((size_t)1 << 24)
/* No real segment comes near this; refusing it keeps len < 2^31 below. */
#define STREAM_SEGMENT_MAX ((size_t)1 << 30)
/* A drained line buffer larger than this is given back to the heap, so an
 * idle session holds little. */
#define STREAM_READY_KEEP 2048

#define STREAM_REC_LINE 'L'
#define STREAM_REC_LONG 'X'
#define STREAM_REC_CUT 'C'

void stream_init(struct stream *s, size_t buffer_max, size_t line_max)
{
	memset(s, 0, sizeof(*s));
	s->buffer_max = buffer_max < STREAM_LIMIT_MAX ? buffer_max
						      : STREAM_LIMIT_MAX;
	s->line_max = line_max < STREAM_LIMIT_MAX ? line_max
						  : STREAM_LIMIT_MAX;
}

/* Safe to call twice; leaves an empty, unsynchronized stream with the same
 * limits. */
void stream_free(struct stream *s)
{
	struct stream_segment *h, *next;
	size_t buffer_max = s->buffer_max, line_max = s->line_max;

	for (h = s->held; h; h = next) {
		next = h->next;
		free(h);
	}
	free(s->line);
	free(s->ready);
	stream_init(s, buffer_max, line_max);
}

static int stream_ready_reserve(struct stream *s, size_t need)
{
	size_t cap;
	char *p;

	if (need <= s->ready_cap)
		return 0;
	cap = s->ready_cap ? s->ready_cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(s->ready, cap);
	if (!p)
		return -ENOMEM;
	s->ready = p;
	s->ready_cap = cap;
	return 0;
}

/* Space was reserved by the caller. */
static void stream_emit(struct stream *s, char kind, const char *p, size_t n)
{
	s->ready[s->ready_len++] = kind;
	if (n)
		memcpy(s->ready + s->ready_len, p, n);
	s->ready_len += n;
	s->ready[s->ready_len++] = '\n';
}

/* The marker of an over-long line, with the line's first line_max bytes
 * (what is buffered, then the first bytes of p, which holds no '\n'): a
 * reply's code and separator are there. Space was reserved by the caller:
 * each byte is emitted once, the rest of the line is discarded. */
static void stream_emit_long(struct stream *s, const uint8_t *p, size_t n)
{
	size_t have = s->line_len < s->line_max ? s->line_len : s->line_max;
	size_t more = s->line_max - have < n ? s->line_max - have : n;

	s->ready[s->ready_len++] = STREAM_REC_LONG;
	memcpy(s->ready + s->ready_len, s->line, have);
	s->ready_len += have;
	if (more)
		memcpy(s->ready + s->ready_len, p, more);
	s->ready_len += more;
	s->ready[s->ready_len++] = '\n';
}

void stream_urgent(struct stream *s, uint32_t seq)
{
	if (!s->synchronized || (int32_t)(seq - s->next_seq) < 0)
		return;		/* nothing to place it against, or cut already */
	if (!s->urgent) {
		s->urgent = true;
		s->urgent_first = s->urgent_last = seq;
		return;
	}
	if ((int32_t)(seq - s->urgent_first) < 0)
		s->urgent_first = seq;
	if ((int32_t)(seq - s->urgent_last) > 0)
		s->urgent_last = seq;
}

bool stream_urgent_line_end(struct stream *s)
{
	bool r = s->urgent_line_end;

	s->urgent_line_end = false;
	return r;
}

/* The bytes [from, to) of what stream_cut is cutting (sequence numbers
 * from next_seq on) hold an urgent byte: the line they belong to is cut.
 * Returns true when the urgent byte is at `to` - 1 and that is a line end. */
static bool stream_urgent_in(struct stream *s, uint32_t from, uint32_t to,
			     bool line_end)
{
	bool last;

	if (s->urgent && (int32_t)(s->urgent_last - from) < 0)
		s->urgent = false;	/* skipped over (stream_peer_acked) */
	if (!s->urgent || (int32_t)(s->urgent_first - to) >= 0)
		return false;
	s->cut = true;
	last = line_end && (int32_t)(s->urgent_last - (to - 1)) >= 0 &&
	       (int32_t)(s->urgent_first - (to - 1)) <= 0;
	if ((int32_t)(s->urgent_last - to) < 0)
		s->urgent = false;	/* all urgent bytes cut */
	return last;
}

/* Cut n in-order bytes into lines. All memory is obtained before any state
 * changes, so a failure leaves the stream as it was. */
static int stream_cut(struct stream *s, const uint8_t *p, size_t n)
{
	const uint8_t *q, *end = p + n;
	size_t newlines = 0, need;
	uint32_t seq = s->next_seq;	/* of p[0]: callers move next_seq after */

	if (!s->line) {
		s->line = malloc(s->line_max + 2);
		if (!s->line)
			return -ENOMEM;
	}
	for (q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
		newlines++;
	/* Each record is a flag byte, at most the partial line plus these
	 * bytes, and a '\n'; there is at most one record per newline plus
	 * one over-long marker for a trailing unterminated line. */
	need = s->ready_len + s->line_len + n + 2 * (newlines + 1);
	if (stream_ready_reserve(s, need) < 0)
		return -ENOMEM;

	while (n > 0) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t chunk = nl ? (size_t)(nl - p) : n;
		bool urgent_nl = stream_urgent_in(s, seq,
						  seq + (uint32_t)chunk + (nl ? 1 : 0),
						  nl != NULL);

		seq += (uint32_t)chunk + 1;
		if (!s->discarding) {
			/* The buffer takes line_max bytes plus the '\r' of a
			 * "\r\n" that may be split from its '\n'. More than
			 * that is over-long whatever follows. */
			if (chunk > s->line_max + 1 - s->line_len) {
				if (s->cut)
					stream_emit(s, STREAM_REC_CUT, NULL, 0);
				else
					stream_emit_long(s, p, chunk);
				s->discarding = true;
				s->line_len = 0;
			} else {
				memcpy(s->line + s->line_len, p, chunk);
				s->line_len += chunk;
			}
		}
		if (!nl)
			break;
		if (!s->discarding) {
			size_t l = s->line_len;

			/* Only the '\r' right before '\n' is line ending; a
			 * bare '\r' elsewhere stays for the parser to judge. */
			if (l > 0 && s->line[l - 1] == '\r')
				l--;
			if (s->cut)
				stream_emit(s, STREAM_REC_CUT, s->line,
					    l > s->line_max ? 0 : l);
			else if (l > s->line_max)
				stream_emit_long(s, NULL, 0);
			else
				stream_emit(s, STREAM_REC_LINE, s->line, l);
		}
		s->discarding = false;
		/* the receiver may read this line and the next as one */
		s->cut = urgent_nl;
		if (urgent_nl)
			s->urgent_line_end = true;
		s->line_len = 0;
		p = nl + 1;
		n -= chunk + 1;
	}
	return 0;
}

static void stream_held_pop(struct stream *s)
{
	struct stream_segment *h = s->held;

	s->held = h->next;
	s->held_bytes -= h->len;
	s->held_count--;
	free(h);
}

/* data starts at next_seq. Where a held piece covers the same bytes, the
 * held copy is delivered and the new one skipped. */
static int stream_take(struct stream *s, const uint8_t *data, size_t len)
{
	int r;

	for (;;) {
		struct stream_segment *h = s->held;
		size_t n;

		if (h && h->seq == s->next_seq) {
			size_t skip = len < h->len ? len : h->len;

			r = stream_cut(s, h->data, h->len);
			if (r < 0)
				return r;
			s->next_seq += (uint32_t)h->len;
			data += skip;
			len -= skip;
			stream_held_pop(s);
			continue;
		}
		if (len == 0)
			return 0;
		n = len;
		/* Held pieces always start after next_seq, within the window,
		 * so the unsigned difference is the gap. */
		if (h && (size_t)(h->seq - s->next_seq) < n)
			n = h->seq - s->next_seq;
		r = stream_cut(s, data, n);
		if (r < 0)
			return r;
		s->next_seq += (uint32_t)n;
		data += n;
		len -= n;
	}
}

/* Hold data at offset off (> 0) from next_seq; off + len <= buffer_max. */
static int stream_hold(struct stream *s, size_t off, const uint8_t *data,
		       size_t len, size_t unread)
{
	struct stream_segment **pp, *h, *m, *next;
	size_t a = off, b = off + len, ua = a, ub = b, covered = 0, fresh;
	unsigned merged = 0;

	/* Skip pieces that end before a with a gap: they stay apart. */
	for (pp = &s->held; *pp; pp = &(*pp)->next) {
		size_t end = (size_t)((*pp)->seq - s->next_seq) + (*pp)->len;

		if (end >= a)
			break;
	}
	/* Pieces from *pp that start at or before b touch [a, b). */
	for (h = *pp; h; h = h->next) {
		size_t start = h->seq - s->next_seq;

		if (start > b)
			break;
		if (start < ua)
			ua = start;
		if (start + h->len > ub)
			ub = start + h->len;
		covered += h->len;
		merged++;
	}
	/* The union is contiguous since every merged piece touches [a, b);
	 * what the held pieces do not cover comes from the new data. */
	fresh = (ub - ua) - covered;
	if (fresh == 0)
		return 0;		/* retransmission of held bytes */
	if (s->held_bytes + fresh + s->line_len + unread > s->buffer_max)
		return -ENOBUFS;
	if (s->held_count - merged + 1 > STREAM_HELD_MAX)
		return -ENOBUFS;

	m = malloc(sizeof(*m) + (ub - ua));
	if (!m)
		return -ENOMEM;
	m->seq = s->next_seq + (uint32_t)ua;
	m->len = ub - ua;
	memcpy(m->data + (a - ua), data, len);
	/* Held bytes overwrite the new copy: first copy wins. */
	for (h = *pp; merged > 0; h = next, merged--) {
		next = h->next;
		memcpy(m->data + (size_t)(h->seq - m->seq), h->data, h->len);
		s->held_bytes -= h->len;
		s->held_count--;
		free(h);
	}
	m->next = h;
	*pp = m;
	s->held_bytes += m->len;
	s->held_count++;
	return 0;
}

/* Lines handed out before are no longer referenced (the contract says
 * until the next stream call); drop them from the buffer. */
static void stream_ready_compact(struct stream *s)
{
	if (s->ready_read > 0) {
		memmove(s->ready, s->ready + s->ready_read,
			s->ready_len - s->ready_read);
		s->ready_len -= s->ready_read;
		s->ready_read = 0;
	}
}

/* Retransmitted bytes that differ from the copy we hold (kernel facts:
 * Linux may keep either copy of overlapping data, so the receiver may
 * read the other one). `old` bytes of data lie before next_seq: compare
 * what the partial line still holds of them, the last line_len bytes
 * before next_seq. Bytes of finished lines are not kept and cannot be
 * compared. */
static bool stream_conflicts_line(const struct stream *s, size_t old,
				  const uint8_t *data, size_t len)
{
	size_t skip, n;

	if (s->discarding || s->line_len == 0 || old > s->line_len + len)
		return false;
	/* data[0] is `old` bytes before next_seq */
	skip = old > s->line_len ? old - s->line_len : 0;
	n = (old < len ? old : len) - (skip < len ? skip : len);
	if (skip >= len || n == 0)
		return false;
	return memcmp(s->line + s->line_len - (old - skip), data + skip, n) != 0;
}

/* The same for held pieces: data starts off bytes after next_seq. */
static bool stream_conflicts_held(const struct stream *s, size_t off,
				  const uint8_t *data, size_t len)
{
	const struct stream_segment *h;

	for (h = s->held; h; h = h->next) {
		size_t start = h->seq - s->next_seq, a, b;

		if (start >= off + len)
			break;
		a = start > off ? start : off;
		b = start + h->len < off + len ? start + h->len : off + len;
		if (a < b && memcmp(h->data + (a - start), data + (a - off), b - a) != 0)
			return true;
	}
	return false;
}

int stream_segment(struct stream *s, uint32_t seq, bool syn,
		   const uint8_t *data, size_t len)
{
	uint32_t dseq = syn ? seq + 1 : seq;
	size_t unread;
	int32_t off;
	int r;

	if (len > STREAM_SEGMENT_MAX)
		return -ENOBUFS;
	if (len > 0 && !data)
		return -EINVAL;

	stream_ready_compact(s);
	unread = s->ready_len;

	/* A SYN fixes the start only while no data has been taken: a late or
	 * forged SYN must not rewind a stream already in use. */
	if (syn && !s->data_seen) {
		s->next_seq = dseq;
		s->synchronized = true;
	}
	/* Payload on a SYN (or SYN-ACK) is not stream data: Linux drops it
	 * unless the socket uses TCP Fast Open, so the peer most likely never
	 * read it (a "220" there greets nobody). Should the peer have taken
	 * it, its acknowledgement shows a hole (stream_peer_acked) and the
	 * line after it is a cut line: fail closed either way. */
	if (len == 0 || syn)
		return 0;
	if (!s->synchronized) {
		/* Mid-stream pickup: start here, at a line start unless
		 * stream_pickup() said it cannot be known. */
		s->next_seq = dseq;
		s->synchronized = true;
	}

	off = (int32_t)(dseq - s->next_seq);
	if (off < 0) {
		size_t old = (uint32_t)(s->next_seq - dseq);

		if (stream_conflicts_line(s, old, data, len))
			return -EILSEQ;
		if (old >= len)
			return 0;	/* retransmission: all seen */
		data += old;
		len -= old;
		off = 0;
	}

	if (stream_conflicts_held(s, (size_t)off, data, len))
		return -EILSEQ;
	if (off == 0) {
		/* A caller that leaves lines unread must not grow the line
		 * buffer without bound. */
		if (unread > 0 && unread + len > s->buffer_max)
			return -ENOBUFS;
		s->data_seen = true;
		return stream_take(s, data, len);
	}

	if ((size_t)off + len > s->buffer_max)
		return -ENOBUFS;	/* far in the future */
	r = stream_hold(s, (size_t)off, data, len, unread);
	if (r == 0)
		s->data_seen = true;
	return r;
}

void stream_fin(struct stream *s, uint32_t seq, bool syn, size_t len)
{
	uint32_t at = seq + (syn ? 1u : 0u) + (uint32_t)len;

	/* A FIN before bytes already taken is not where this stream ends. */
	if (s->fin_seen || !s->synchronized ||
	    (int32_t)(at - s->next_seq) < 0)
		return;
	s->fin_seen = true;
	s->fin_seq = at;
}

void stream_pickup(struct stream *s)
{
	/* the partial line is empty: the first line end closes a cut one */
	if (!s->synchronized)
		s->cut = true;
}

bool stream_reset_exact(const struct stream *s, uint32_t seq)
{
	if (!s->synchronized)
		return false;
	/* after a FIN the sender's next sequence number is one past it */
	return seq == s->next_seq || (s->fin_seen && seq == s->fin_seq + 1);
}

int stream_peer_acked(struct stream *s, uint32_t ack)
{
	struct stream_segment *h;
	uint32_t point = ack;
	size_t skip;
	int32_t gap;
	int r;

	if (!s->synchronized)
		return 0;
	/* The FIN takes a sequence number but carries no byte. */
	if (s->fin_seen && (int32_t)(point - s->fin_seq) > 0)
		point = s->fin_seq;
	gap = (int32_t)(point - s->next_seq);
	if (gap <= 0)
		return 0;
	/* One past next_seq is also what the acknowledgement of a FIN that
	 * went past us looks like. A real one-byte hole followed by data
	 * comes back with a larger acknowledgement. */
	if (gap == 1 && !s->fin_seen)
		return 0;

	stream_ready_compact(s);
	/* Held pieces that end at or before the point are of no use now. */
	while ((h = s->held) &&
	       (size_t)(h->seq - s->next_seq) + h->len <= (size_t)gap)
		stream_held_pop(s);
	s->next_seq = point;
	s->data_seen = true;
	/* Whatever the hole held, the line under way lost bytes: drop what
	 * we have of it. What comes up to the next line end is the tail of
	 * some line, delivered as a cut line. */
	s->line_len = 0;
	s->discarding = false;
	s->cut = true;
	/* A piece across the point (or starting at it) is next in order from
	 * the point on; the pieces after it start after a hole. */
	if (h && (int32_t)(h->seq - point) <= 0) {
		skip = (uint32_t)(point - h->seq);
		r = stream_cut(s, h->data + skip, h->len - skip);
		if (r < 0) {
			while (s->held)
				stream_held_pop(s);
			return r;
		}
		s->next_seq += (uint32_t)(h->len - skip);
		stream_held_pop(s);
	}
	return gap;
}

int stream_line_next(struct stream *s, const char **line, size_t *len)
{
	const char *start, *end;
	char kind;

	if (s->ready_read >= s->ready_len) {
		s->ready_len = s->ready_read = 0;
		if (s->ready_cap > STREAM_READY_KEEP) {
			free(s->ready);
			s->ready = NULL;
			s->ready_cap = 0;
		}
		return 0;
	}
	kind = s->ready[s->ready_read];
	start = s->ready + s->ready_read + 1;
	/* Every record ends in '\n' and holds no other '\n'. */
	end = memchr(start, '\n', s->ready_len - s->ready_read - 1);
	s->ready_read = (size_t)(end - s->ready) + 1;
	*line = start;
	*len = (size_t)(end - start);
	if (kind == STREAM_REC_LONG)
		return -EMSGSIZE;
	return kind == STREAM_REC_CUT ? 2 : 1;
}

size_t stream_memory(const struct stream *s)
{
	size_t n = s->ready_cap + s->held_bytes +
		   s->held_count * sizeof(struct stream_segment);

	if (s->line)
		n += s->line_max + 2;
	return n;
}

int stream_validate(const struct stream *s)
{
	const struct stream_segment *h;
	size_t bytes = 0, prev_end = 0;
	unsigned count = 0;

	for (h = s->held; h; h = h->next) {
		size_t start = h->seq - s->next_seq;

		/* after next_seq with a gap, in the window, after the
		 * previous piece with a gap */
		if (!s->synchronized || h->len == 0 || start == 0 ||
		    start > s->buffer_max || h->len > s->buffer_max - start ||
		    (count > 0 && start <= prev_end))
			return -EFAULT;
		prev_end = start + h->len;
		bytes += h->len;
		count++;
	}
	if (bytes != s->held_bytes || count != s->held_count ||
	    count > STREAM_HELD_MAX || bytes > s->buffer_max)
		return -EFAULT;
	if (s->line_len > s->line_max + 1 || (s->line_len && !s->line) ||
	    (s->discarding && s->line_len))
		return -EFAULT;
	if (s->ready_read > s->ready_len || s->ready_len > s->ready_cap ||
	    (s->ready_cap && !s->ready))
		return -EFAULT;
	return 0;
}
