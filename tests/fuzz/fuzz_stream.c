/* libFuzzer target: segment sequences into a stream and, in parallel,
 * through a session with the default policy.
 *
 * Input layout (all multi-byte numbers big-endian):
 *   h[0]  bit 0: consistent mode; bits 1-2: buffer_max (64, 256, 1024,
 *         8192); bits 3-4: line_max (8, 32, 128, 512); bit 5: IPv6;
 *         bit 6: active-mode on; bit 7: strict off
 *   h[1..4] initial sequence number; h[5] record count; h[6..7] split of
 *         the data pool between the directions (consistent mode)
 *   records of 5 bytes: flags, offset (2), length (2); in free mode each
 *         is followed by its data (length, cut at the end of the input)
 *   consistent mode: the rest of the input is the data pool
 *   flags: bit 0 SYN, bit 1 reply direction, bit 2 session_pinhole_failed,
 *          bit 3 clock jumps 31 s, bit 4 offset << 16, bit 5 offset
 *          negative, bit 6 leave the stream's lines unread, bit 7 RST+FIN
 *
 * Free mode feeds arbitrary bytes at arbitrary sequence numbers. Consistent
 * mode slices each direction's segments out of one pool, so the stream has
 * an oracle: whatever it delivered must be exactly the pool's prefix cut
 * into lines. Any broken promise aborts so the fuzzer keeps the input. */
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

struct fuzz_out {
	uint8_t *buf;
	size_t len, cap;
};

static void fuzz_out_put(struct fuzz_out *o, uint8_t c)
{
	FUZZ_ASSERT(o->len < o->cap);
	o->buf[o->len++] = c;
}

/* Lines as records: 'L' line '\n', or 'X' '\n' for an over-long one. */
static void fuzz_drain(struct stream *st, struct fuzz_out *o)
{
	const char *line;
	size_t len, i;
	int r;

	while ((r = stream_line_next(st, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			if (o) {
				fuzz_out_put(o, 'X');
				fuzz_out_put(o, '\n');
			}
			continue;
		}
		FUZZ_ASSERT(r == 1);
		FUZZ_ASSERT(len <= st->line_max);
		FUZZ_ASSERT(memchr(line, '\n', len) == NULL);
		if (o) {
			fuzz_out_put(o, 'L');
			for (i = 0; i < len; i++)
				fuzz_out_put(o, (uint8_t)line[i]);
			fuzz_out_put(o, '\n');
		}
	}
}

/* What the stream must have produced from the first n pool bytes. */
static void fuzz_reference(const uint8_t *p, size_t n, size_t line_max,
			   struct fuzz_out *o)
{
	size_t start = 0, i, l;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		l = i - start;
		if (l > 0 && p[i - 1] == '\r')
			l--;
		if (l > line_max) {
			fuzz_out_put(o, 'X');
		} else {
			fuzz_out_put(o, 'L');
			FUZZ_ASSERT(l < o->cap - o->len);
			memcpy(o->buf + o->len, p + start, l);
			o->len += l;
		}
		fuzz_out_put(o, '\n');
		start = i + 1;
	}
	/* an unterminated tail already known to be too long */
	if (n - start > line_max + 1) {
		fuzz_out_put(o, 'X');
		fuzz_out_put(o, '\n');
	}
}

static void fuzz_text(const char *t)
{
	const char *end = memchr(t, '\0', SESSION_TEXT_MAX);
	const char *q;

	FUZZ_ASSERT(end != NULL);
	for (q = t; q < end; q++)
		FUZZ_ASSERT(*q >= 0x20 && *q <= 0x7e);
}

static void fuzz_actions(const struct session *s, const struct policy *p,
			 const struct session_actions *out)
{
	unsigned i, lost = 0, encrypted = 0;

	FUZZ_ASSERT(out->count <= SESSION_ACTIONS_MAX);
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
			FUZZ_ASSERT(a->port >= 1024);
			if (a->active) {
				FUZZ_ASSERT(p->active_mode);
				FUZZ_ASSERT(inet_addr_equal(&a->address, &s->client));
				FUZZ_ASSERT(inet_addr_equal(&a->expect_source, &s->server));
				FUZZ_ASSERT(a->reply_code == 200);
			} else {
				FUZZ_ASSERT(inet_addr_equal(&a->address, &s->server));
				FUZZ_ASSERT(inet_addr_equal(&a->expect_source, &s->client));
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
			FUZZ_ASSERT(a->port >= 1024);
			FUZZ_ASSERT(a->address.family == s->server.family);
			break;
		case SESSION_ACTION_LINE_REJECTED:
			FUZZ_ASSERT(a->detail[0] != '\0');
			FUZZ_ASSERT(a->rule < SESSION_RULE_COUNT);
			break;
		case SESSION_ACTION_STREAM_LOST:
			lost++;
			FUZZ_ASSERT(s->lost);
			break;
		case SESSION_ACTION_DATA_TROUBLE:
			FUZZ_ASSERT(a->reply_code == 421 ||
				    a->reply_code == 425 ||
				    a->reply_code == 426);
			break;
		case SESSION_ACTION_ENCRYPTED:
			encrypted++;
			FUZZ_ASSERT(s->encrypted);
			FUZZ_ASSERT(a->reply_code == 234);
			break;
		default:
			abort();
		}
	}
	FUZZ_ASSERT(lost <= 1);
	FUZZ_ASSERT(encrypted <= 1);
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
		size_t recs = (size_t)(end - rec) / 5;

		if (nrec > recs)
			nrec = (unsigned)recs;
		pool = rec + 5 * (size_t)nrec;
		pool_len = (size_t)(end - pool);
		if (pool_len > FUZZ_POOL_MAX)
			pool_len = FUZZ_POOL_MAX;
		if (split > pool_len)
			split = pool_len;
		/* output records: each pool byte adds at most 2 */
		got.cap = want.cap = 2 * split + 8;
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

	for (i = 0; i < nrec && end - rec >= 5; i++) {
		uint8_t flags = rec[0];
		size_t off = (size_t)rec[1] << 8 | rec[2];
		size_t len = (size_t)rec[3] << 8 | rec[4];
		enum session_direction dir = (flags & 2) ? SESSION_DIR_REPLY
							 : SESSION_DIR_ORIGINAL;
		const uint8_t *payload;
		struct packet_info pkt;
		struct session_actions out;
		uint32_t seq;
		bool syn = flags & 1;
		int r;

		rec += 5;
		if (consistent) {
			/* direction 0 takes pool[0, split), 1 the rest */
			const uint8_t *base = dir ? pool + split : pool;
			size_t blen = dir ? pool_len - split : split;

			off %= blen + 1;
			if (syn)
				off = 0;
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

		/* the stream alone: consistent mode mirrors direction 0 */
		if (!consistent || dir == SESSION_DIR_ORIGINAL) {
			r = stream_segment(&st, seq, syn, payload, len);
			FUZZ_ASSERT(r == 0 || r == -ENOBUFS);
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
		pkt.payload = payload;
		pkt.payload_len = len;
		memset(&out, 0, sizeof(out));
		session_packet(&sess, &pol, dir, &pkt, now, &out);
		fuzz_actions(&sess, &pol, &out);
		if (flags & 4)
			session_pinhole_failed(&sess);
		now += (flags & 8) ? 31000 : 1;
	}

	fuzz_drain(&st, consistent ? &got : NULL);
	FUZZ_ASSERT(stream_line_next(&st, &(const char *){ NULL },
				     &(size_t){ 0 }) == 0);
	if (consistent) {
		/* delivered bytes: from ISN + 1 to next_seq */
		size_t done = (uint32_t)(st.next_seq - isn[0] - 1);

		FUZZ_ASSERT(done <= split);
		fuzz_reference(pool, done, lim.line_max, &want);
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
