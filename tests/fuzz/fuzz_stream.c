/* libFuzzer target: segment sequences into a stream and, in parallel,
 * through a session with the default policy.
 *
 * Input layout (all multi-byte numbers big-endian):
 *   h[0]  bit 0: consistent mode; bits 1-2: buffer_max (64, 256, 1024,
 *         8192); bits 3-4: line_max (8, 32, 128, 512); bit 5: IPv6;
 *         bit 6: active-mode on; bit 7: strict off
 *   h[1..4] initial sequence number; h[5] record count; h[6..7] split of
 *         the data pool between the directions (consistent mode)
 *   records of 6 bytes: flags, ack, offset (2), length (2); in free mode
 *         each is followed by its data (length, cut at the end of the
 *         input)
 *   consistent mode: the rest of the input is the data pool
 *   flags: bit 0 SYN, bit 1 reply direction, bit 2 session_pinhole_failed,
 *          bit 3 clock jumps 31 s, bit 4 offset << 16, bit 5 offset
 *          negative, bit 6 leave the stream's lines unread, bit 7 RST+FIN
 *   ack: bit 7 the packet carries ACK, acknowledging the other direction
 *          (ignored with RST, as the session does); the number, from the
 *          other direction's next_seq N and b = bits 0-5:
 *          free mode: bit 6 clear N - 32 + b, set N + (b << 26);
 *          consistent mode (as an offset into the other direction's part
 *          of the pool, within it): bit 6 set N + b, clear b/64 of it;
 *          with bit 7 clear, bit 6 sets URG (the session only) with the
 *          urgent pointer b + 1
 *
 * Free mode feeds arbitrary bytes at arbitrary sequence numbers. Consistent
 * mode slices each direction's segments out of one pool, so the stream has
 * an oracle: whatever it delivered must be exactly the pool's prefix cut
 * into lines, except where an acknowledgement made it skip a hole: from
 * there on it is the pool after the hole, its first line a cut line.
 * Acknowledgements that skip nothing must not change the stream. Any
 * broken promise aborts so the fuzzer keeps the input. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "session.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)
#define FUZZ_POOL_MAX 16384
#define FUZZ_REC 6

struct fuzz_out {
	uint8_t *buf;
	size_t len, cap;
};

static void fuzz_out_put(struct fuzz_out *o, uint8_t c)
{
	FUZZ_ASSERT(o->len < o->cap);
	o->buf[o->len++] = c;
}

/* Lines as records: 'L' line '\n', 'X' '\n' for an over-long one, 'C'
 * line '\n' for a cut line. */
static void fuzz_drain(struct stream *st, struct fuzz_out *o)
{
	const char *line;
	size_t len, i;
	int r;

	while ((r = stream_line_next(st, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			/* the head of the line: line_max bytes, no '\n' */
			FUZZ_ASSERT(len == st->line_max);
			FUZZ_ASSERT(memchr(line, '\n', len) == NULL);
			if (o) {
				fuzz_out_put(o, 'X');
				for (i = 0; i < len; i++)
					fuzz_out_put(o, (uint8_t)line[i]);
				fuzz_out_put(o, '\n');
			}
			continue;
		}
		FUZZ_ASSERT(r == 1 || r == 2);
		FUZZ_ASSERT(len <= st->line_max);
		FUZZ_ASSERT(memchr(line, '\n', len) == NULL);
		if (o) {
			fuzz_out_put(o, r == 2 ? 'C' : 'L');
			for (i = 0; i < len; i++)
				fuzz_out_put(o, (uint8_t)line[i]);
			fuzz_out_put(o, '\n');
		}
	}
}

/* What the stream must have produced from n pool bytes; `cut`: they
 * start after a skipped hole, so the first line is a cut line. */
static void fuzz_reference(const uint8_t *p, size_t n, size_t line_max,
			   bool cut, struct fuzz_out *o)
{
	size_t start = 0, i, l;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		l = i - start;
		if (l > 0 && p[i - 1] == '\r')
			l--;
		if (l > line_max && cut) {
			fuzz_out_put(o, 'C');
		} else if (l > line_max) {
			/* over-long: the marker with the line's head */
			fuzz_out_put(o, 'X');
			FUZZ_ASSERT(line_max < o->cap - o->len);
			memcpy(o->buf + o->len, p + start, line_max);
			o->len += line_max;
		} else {
			fuzz_out_put(o, cut ? 'C' : 'L');
			FUZZ_ASSERT(l < o->cap - o->len);
			memcpy(o->buf + o->len, p + start, l);
			o->len += l;
		}
		fuzz_out_put(o, '\n');
		start = i + 1;
		cut = false;
	}
	/* an unterminated tail already known to be too long */
	if (n - start > line_max + 1) {
		fuzz_out_put(o, cut ? 'C' : 'X');
		if (!cut) {
			FUZZ_ASSERT(line_max < o->cap - o->len);
			memcpy(o->buf + o->len, p + start, line_max);
			o->len += line_max;
		}
		fuzz_out_put(o, '\n');
	}
}

/* What stream_peer_acked must return, from the contract in stream.h. */
static int fuzz_expect_skip(const struct stream *s, uint32_t ack)
{
	uint32_t point = ack;
	int32_t gap;

	if (!s->synchronized)
		return 0;
	if (s->fin_seen && (int32_t)(point - s->fin_seq) > 0)
		point = s->fin_seq;
	gap = (int32_t)(point - s->next_seq);
	if (gap <= 0 || (gap == 1 && !s->fin_seen))
		return 0;
	return gap;
}

/* Apply an acknowledgement to the stream alone and check the promises:
 * the skip is the one the contract names, nothing held grows, the stream
 * stays valid. Returns the skip. */
static int fuzz_ack(struct stream *st, uint32_t ack)
{
	size_t held = st->held_bytes;
	unsigned count = st->held_count;
	uint32_t before = st->next_seq;
	int want = fuzz_expect_skip(st, ack), r;

	r = stream_peer_acked(st, ack);
	FUZZ_ASSERT(r == want);
	FUZZ_ASSERT(stream_validate(st) == 0);
	FUZZ_ASSERT(st->held_bytes <= held && st->held_count <= count);
	if (r == 0) {
		FUZZ_ASSERT(st->next_seq == before && st->held_bytes == held);
		return 0;
	}
	/* at the point, or past it by a held piece that started before */
	FUZZ_ASSERT((int32_t)(st->next_seq - (before + (uint32_t)r)) >= 0);
	FUZZ_ASSERT((size_t)(uint32_t)(st->next_seq - before - (uint32_t)r) <=
		    held);
	return r;
}

/* The acknowledgement number a record asks for (see the layout above):
 * `next` is the other direction's next_seq, `isn` its initial sequence
 * number and `blen` the size of its part of the pool (consistent). */
static uint32_t fuzz_ack_number(uint8_t a, bool consistent, uint32_t next,
				uint32_t isn, size_t blen)
{
	uint32_t b = a & 0x3f;
	size_t off;

	if (!consistent)
		return (a & 0x40) ? next + (b << 26) : next - 32 + b;
	if (a & 0x40) {
		off = (uint32_t)(next - isn - 1);
		off = off > blen ? blen : off;
		off = b > blen - off ? blen : off + b;
	} else {
		off = b * (blen + 1) / 64;
	}
	return isn + 1 + (uint32_t)off;
}

static void fuzz_text(const char *t)
{
	const char *end = memchr(t, '\0', SESSION_TEXT_MAX);
	const char *q;

	FUZZ_ASSERT(end != NULL);
	for (q = t; q < end; q++)
		FUZZ_ASSERT(*q >= 0x20 && *q <= 0x7e);
}

/* The daemon could not install the first pinhole the packet opened. */
static void fuzz_first_open_failed(struct session *s,
				   const struct session_actions *out)
{
	unsigned i;

	for (i = 0; i < out->count; i++) {
		if (out->item[i].kind == SESSION_ACTION_PINHOLE_OPEN) {
			session_pinhole_failed(s, &out->item[i]);
			return;
		}
	}
}

static void fuzz_actions(const struct session *s, const struct policy *p,
			 const struct session_actions *out)
{
	unsigned i, lost = 0, encrypted = 0, resync = 0;

	FUZZ_ASSERT(out->count <= SESSION_ACTIONS_MAX);
	/* only line reports are ever left out (session.h) */
	FUZZ_ASSERT(out->overflow == 0);
	FUZZ_ASSERT(out->reports <= SESSION_REPORTS_MAX);
	FUZZ_ASSERT(out->dropped == 0 || out->reports == SESSION_REPORTS_MAX);
	for (i = 0; i < out->count; i++) {
		const struct session_action *a = &out->item[i];

		fuzz_text(a->command);
		fuzz_text(a->reply);
		fuzz_text(a->detail);
		switch (a->kind) {
		case SESSION_ACTION_PINHOLE_OPEN:
			/* default policy: only the server itself (passive)
			 * or the client itself (active), no privileged
			 * port */
			FUZZ_ASSERT(a->reason == POLICY_ALLOW);
			FUZZ_ASSERT(a->data.dport >= 1024);
			if (a->active) {
				FUZZ_ASSERT(p->active_mode);
				FUZZ_ASSERT(inet_addr_equal(&a->data.dst, &s->client));
				FUZZ_ASSERT(inet_addr_equal(&a->data.src, &s->server));
				FUZZ_ASSERT(a->reply_code == 200);
			} else {
				FUZZ_ASSERT(inet_addr_equal(&a->data.dst, &s->server));
				FUZZ_ASSERT(inet_addr_equal(&a->data.src, &s->client));
				FUZZ_ASSERT(a->reply_code == 227 ||
					    a->reply_code == 229);
			}
			FUZZ_ASSERT(s->greeted);
			break;
		case SESSION_ACTION_PINHOLE_REFUSED:
			FUZZ_ASSERT(a->reason > POLICY_ALLOW &&
				    a->reason < POLICY_REASON_COUNT);
			if (a->active)
				FUZZ_ASSERT(a->reply_code >= 200 &&
					    a->reply_code <= 599);
			else
				FUZZ_ASSERT(a->reply_code == 227 ||
					    a->reply_code == 229);
			break;
		case SESSION_ACTION_PINHOLE_REMOVE:
			FUZZ_ASSERT(a->cause < SESSION_REMOVE_COUNT);
			FUZZ_ASSERT(a->data.dport >= 1024);
			FUZZ_ASSERT(a->data.dst.family == s->server.family);
			break;
		case SESSION_ACTION_LINE_REJECTED:
			FUZZ_ASSERT(a->detail[0] != '\0');
			FUZZ_ASSERT(a->rule < SESSION_RULE_COUNT);
			break;
		case SESSION_ACTION_STREAM_LOST:
			lost++;
			FUZZ_ASSERT(s->lost);
			break;
		case SESSION_ACTION_STREAM_RESYNC:
			/* only the other direction's stream, once a packet */
			resync++;
			FUZZ_ASSERT(a->direction == SESSION_DIR_ORIGINAL ||
				    a->direction == SESSION_DIR_REPLY);
			FUZZ_ASSERT(a->skipped > 0 && a->skipped < 0x80000000u);
			FUZZ_ASSERT(a->detail[0] != '\0');
			FUZZ_ASSERT(i == 0);
			break;
		case SESSION_ACTION_DATA_TROUBLE:
			FUZZ_ASSERT(a->reply_code == 421 ||
				    a->reply_code == 425 ||
				    a->reply_code == 426);
			break;
		case SESSION_ACTION_ENCRYPTED:
			encrypted++;
			FUZZ_ASSERT(s->encrypted);
			/* AUTH answered 234; or the client spoke TLS first
			 * (implicit FTPS, or a pickup): no reply acted on */
			if (a->tls_start == SESSION_TLS_AUTH)
				FUZZ_ASSERT(a->reply_code == 234);
			else
				FUZZ_ASSERT((a->tls_start == SESSION_TLS_IMPLICIT ||
					     a->tls_start == SESSION_TLS_PICKED_UP) &&
					    a->reply_code == 0 &&
					    a->direction == SESSION_DIR_ORIGINAL);
			break;
		default:
			abort();
		}
	}
	FUZZ_ASSERT(lost <= 1);
	FUZZ_ASSERT(encrypted <= 1);
	FUZZ_ASSERT(resync <= 1);
	if (s->encrypted)
		FUZZ_ASSERT(session_memory(s) == 0);
	FUZZ_ASSERT(s->pending_count <= SESSION_PENDING_MAX);
	FUZZ_ASSERT(s->pinhole_count <= p->max_pinholes_per_session);
	FUZZ_ASSERT(stream_validate(&s->stream[0]) == 0);
	FUZZ_ASSERT(stream_validate(&s->stream[1]) == 0);
	if (s->lost)
		FUZZ_ASSERT(session_memory(s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t buffers[] = { 64, 256, 1024, 8192 };
	static const size_t lines[] = { 8, 32, 128, 512 };
	const uint8_t *end = data + size, *pool = NULL, *rec;
	struct inet_addr client, server;
	struct session_limits lim;
	struct session sess;
	struct policy pol;
	struct stream st;
	struct fuzz_out got = { 0 }, want = { 0 };
	uint32_t isn[2];
	size_t pool_len = 0, split = 0;
	/* consistent mode: the stream delivered pool[seg_from[k], seg_to[k])
	 * for k < nseg, then pool[seg_from[nseg], its next_seq) */
	size_t seg_from[256 + 1], seg_to[256];
	unsigned nseg = 0;
	uint64_t now = 0;
	unsigned nrec, i;
	bool consistent;

	if (size < 8)
		return 0;
	consistent = data[0] & 1;
	lim.buffer_max = buffers[(data[0] >> 1) & 3];
	lim.line_max = lines[(data[0] >> 3) & 3];
	isn[0] = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
		 (uint32_t)data[3] << 8 | data[4];
	isn[1] = isn[0] ^ 0x80000001u;
	nrec = data[5];
	split = (size_t)data[6] << 8 | data[7];
	rec = data + 8;

	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	if (data[0] & 0x20) {
		client.family = server.family = AF_INET6;
		client.v6.s6_addr[15] = 1;
		server.v6.s6_addr[15] = 10;
		client.v6.s6_addr[0] = server.v6.s6_addr[0] = 0x20;
	} else {
		client.family = server.family = AF_INET;
		/* 192.0.2.1 and 192.0.2.10 */
		memcpy(&client.v4, "\xc0\x00\x02\x01", 4);
		memcpy(&server.v4, "\xc0\x00\x02\x0a", 4);
	}
	policy_init_defaults(&pol);
	pol.active_mode = data[0] & 0x40;
	pol.strict = !(data[0] & 0x80);
	session_init(&sess, &client, 40000, &server, 21, &lim);
	stream_init(&st, lim.buffer_max, lim.line_max);

	if (consistent) {
		size_t recs = (size_t)(end - rec) / FUZZ_REC;

		if (nrec > recs)
			nrec = (unsigned)recs;
		pool = rec + FUZZ_REC * (size_t)nrec;
		pool_len = (size_t)(end - pool);
		if (pool_len > FUZZ_POOL_MAX)
			pool_len = FUZZ_POOL_MAX;
		if (split > pool_len)
			split = pool_len;
		/* output records: each pool byte adds at most 2, and each
		 * stretch between holes one marker */
		got.cap = want.cap = 2 * split + 2 * (nrec + 2) + 8;
		got.buf = malloc(got.cap);
		want.buf = malloc(want.cap);
		FUZZ_ASSERT(got.buf && want.buf);
		/* both directions start from their SYN */
		FUZZ_ASSERT(stream_segment(&st, isn[0], true, NULL, 0) == 0);
		for (i = 0; i < 2; i++) {
			struct packet_info pkt;
			struct session_actions out;

			memset(&pkt, 0, sizeof(pkt));
			memset(&out, 0, sizeof(out));
			pkt.seq = isn[i];
			pkt.syn = true;
			session_packet(&sess, &pol, i, &pkt, now, &out);
			FUZZ_ASSERT(out.count == 0);
		}
	}

	seg_from[0] = 0;
	for (i = 0; i < nrec && end - rec >= FUZZ_REC; i++) {
		uint8_t flags = rec[0], ackb = rec[1];
		size_t off = (size_t)rec[2] << 8 | rec[3];
		size_t len = (size_t)rec[4] << 8 | rec[5];
		enum session_direction dir = (flags & 2) ? SESSION_DIR_REPLY
							 : SESSION_DIR_ORIGINAL;
		enum session_direction other = dir == SESSION_DIR_REPLY
						       ? SESSION_DIR_ORIGINAL
						       : SESSION_DIR_REPLY;
		bool acks = (ackb & 0x80) && !(flags & 0x80);
		const uint8_t *payload;
		struct packet_info pkt;
		struct session_actions out;
		uint32_t seq, ack_sess, ack_st;
		bool syn = flags & 1;
		int r;

		rec += FUZZ_REC;
		if (consistent) {
			/* one number for the session and, when it acknowledges
			 * direction 0, for the stream that mirrors it */
			const struct stream *o = other == SESSION_DIR_ORIGINAL
						 ? &st : &sess.stream[other];

			ack_sess = ack_st = fuzz_ack_number(
				ackb, true, o->next_seq, isn[other],
				other == SESSION_DIR_ORIGINAL ? split
							      : pool_len - split);
		} else {
			ack_sess = fuzz_ack_number(ackb, false,
						   sess.stream[other].next_seq,
						   isn[other], 0);
			ack_st = fuzz_ack_number(ackb, false, st.next_seq, 0, 0);
		}
		if (consistent) {
			/* direction 0 takes pool[0, split), 1 the rest */
			const uint8_t *base = dir ? pool + split : pool;
			size_t blen = dir ? pool_len - split : split;

			off %= blen + 1;
			/* a SYN's payload is not stream data (stream.c) */
			if (syn)
				off = len = 0;
			if (len > blen - off)
				len = blen - off;
			payload = base + off;
			seq = syn ? isn[dir] : isn[dir] + 1 + (uint32_t)off;
		} else {
			if (len > (size_t)(end - rec))
				len = (size_t)(end - rec);
			payload = rec;
			rec += len;
			if (flags & 0x10)
				off <<= 16;
			seq = (flags & 0x20) ? isn[dir] - (uint32_t)off
					     : isn[dir] + (uint32_t)off;
		}

		/* the stream alone: consistent mode mirrors direction 0,
		 * which direction 1 acknowledges; like the session, the
		 * acknowledgement before the segment */
		if (acks && (!consistent || dir == SESSION_DIR_REPLY)) {
			uint32_t before = st.next_seq;

			r = fuzz_ack(&st, ack_st);
			if (consistent && r > 0) {
				/* at most one hole a record, nrec < 256 */
				FUZZ_ASSERT(nseg < 256);
				seg_to[nseg] = (uint32_t)(before - isn[0] - 1);
				seg_from[nseg + 1] = seg_to[nseg] + (size_t)r;
				nseg++;
				FUZZ_ASSERT(seg_from[nseg] <= split);
			}
			if (!(flags & 0x40))
				fuzz_drain(&st, consistent ? &got : NULL);
		}
		if (!consistent || dir == SESSION_DIR_ORIGINAL) {
			r = stream_segment(&st, seq, syn, payload, len);
			/* free mode: overlapping bytes may differ (-EILSEQ);
			 * the pool never does */
			FUZZ_ASSERT(r == 0 || r == -ENOBUFS || (!consistent && r == -EILSEQ));
			if (r == 0 && (flags & 0x80))
				stream_fin(&st, seq, syn, len);
			FUZZ_ASSERT(stream_validate(&st) == 0);
			if (!(flags & 0x40))
				fuzz_drain(&st, consistent ? &got : NULL);
		}

		memset(&pkt, 0, sizeof(pkt));
		pkt.src = dir ? server : client;
		pkt.dst = dir ? client : server;
		pkt.sport = dir ? 21 : 40000;
		pkt.dport = dir ? 40000 : 21;
		pkt.seq = seq;
		pkt.syn = syn;
		pkt.rst = pkt.fin = flags & 0x80;
		pkt.ack_flag = ackb & 0x80;
		pkt.ack = ack_sess;
		pkt.urg = (ackb & 0xc0) == 0x40;
		pkt.urg_ptr = (uint16_t)((ackb & 0x3f) + 1);
		pkt.payload = payload;
		pkt.payload_len = len;
		memset(&out, 0, sizeof(out));
		session_packet(&sess, &pol, dir, &pkt, now, &out);
		fuzz_actions(&sess, &pol, &out);
		if (flags & 4)
			fuzz_first_open_failed(&sess, &out);
		now += (flags & 8) ? 31000 : 1;
	}

	fuzz_drain(&st, consistent ? &got : NULL);
	FUZZ_ASSERT(stream_line_next(&st, &(const char *){ NULL },
				     &(size_t){ 0 }) == 0);
	if (consistent) {
		/* delivered bytes: from ISN + 1 to next_seq */
		size_t done = (uint32_t)(st.next_seq - isn[0] - 1);
		unsigned k;

		FUZZ_ASSERT(done <= split);
		FUZZ_ASSERT(done >= seg_from[nseg]);
		for (k = 0; k <= nseg; k++) {
			size_t to = k < nseg ? seg_to[k] : done;

			FUZZ_ASSERT(to >= seg_from[k]);
			fuzz_reference(pool + seg_from[k], to - seg_from[k],
				       lim.line_max, k > 0, &want);
		}
		FUZZ_ASSERT(got.len == want.len);
		FUZZ_ASSERT(memcmp(got.buf, want.buf, got.len) == 0);
		/* what is still partial is the unterminated tail */
		FUZZ_ASSERT(st.discarding || st.line_len <= lim.line_max + 1);
	}
	FUZZ_ASSERT(stream_validate(&st) == 0);

	stream_free(&st);
	FUZZ_ASSERT(stream_memory(&st) == 0);
	session_free(&sess);
	FUZZ_ASSERT(session_memory(&sess) == 0);
	policy_free(&pol);
	free(got.buf);
	free(want.buf);
	return 0;
}
