/* libFuzzer target: whole packet sequences of one control connection
 * through the daemon's real packet path (inspect_packet, action, auditlog, pinholes) in front
 * of the fake kernel of tests/unit/harness.c, with an oracle on every
 * pinhole it would open.
 *
 * Input layout:
 *   h[0]  bit 0: IPv6; bit 1: active-mode on; bit 2: strict off; bit 3:
 *         the daemon started an hour ago (else just now); bit 4: at most 2
 *         pinholes per session; bit 5: capture = replies (the client's
 *         packets and the server's empty ones come as NFLOG copies, with
 *         no verdict; a copy's ACK ahead of what was read is kept until a
 *         second passes, doc/config.md "Capture")
 *   records until the input ends: flags, offset, length, then length
 *   bytes of payload (cut at the end of the input)
 *   flags: bit 0 from the server; bit 1 SYN; bit 2 FIN; bit 3 RST; bit 4
 *          no ACK; bit 5 on the other side's interface (a forgery, turned
 *          back out of it; ignored until the daemon saw the connection
 *          routed); bit 6 at
 *          next_seq + (int8_t)offset, not advancing it (else in order,
 *          advancing); bit 7 a kernel event instead of a packet: offset
 *          bit 0 clear: the conntrack is destroyed (expectations and
 *          conntrack DESTROY events; later packets belong to a new
 *          conntrack of the same tuple), set: a second passes (pinholes_tick,
 *          and the copies' kept ACKs are applied: inspect_acks_deferred)
 *
 * Oracle (any broken promise aborts, so the fuzzer keeps the input):
 *  - every installed expectation belongs to the control connection, and
 *    names the server's own address as destination with the client as
 *    source (passive), or the client's address with the server as source
 *    (active mode on); no announce-address is configured here;
 *  - it answers a command the server accepted: the registry records a
 *    PASV/EPSV answered 227/229, or a PORT/EPRT answered 200, and the
 *    command and reply are whole lines of what the client and the server
 *    sent (modelled as the receiver reads it: fuzz_sent), so a 227 taken
 *    out of the middle of another reply fails;
 *  - it never survives its session: once the session ended by ftpgated's
 *    own decision (an exact RST, FIN both ways), the fake kernel holds no
 *    expectation of that control connection;
 *  - no copy ever gets a verdict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../unit/harness.h"
#include "log.h"
#include "../unit/tcp_build.h"

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)
#define FUZZ_SENT_MAX 8192

/* What each side's receiver reads: every byte a packet the daemon
 * admits (not one from the wrong interface, not the payload of a SYN or a
 * RST) puts at its place in the sequence space, the first copy kept (a
 * differing later copy makes the daemon stop trusting the stream). */
struct fuzz_sent {
	uint8_t byte[2][FUZZ_SENT_MAX];
	bool have[2][FUZZ_SENT_MAX];
	uint32_t base[2];		/* sequence number of byte[.][0] */
};

static void fuzz_sent_add(struct fuzz_sent *s, int from, uint32_t seq,
			  const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t at = seq + (uint32_t)i - s->base[from];

		if (at < FUZZ_SENT_MAX && !s->have[from][at]) {
			s->have[from][at] = true;
			s->byte[from][at] = p[i];
		}
	}
}

/* A wire byte and its printable form in an action's text ('?' for one
 * that is not printable ASCII: session.c's session_text). */
static bool fuzz_same(uint8_t wire, char text)
{
	if (text == '?')
		return wire == '?' || wire < 0x20 || wire > 0x7e;
	return wire == (uint8_t)text;
}

/* Whether `line` is a line `from` sent: its bytes in place, starting a
 * line (after a line end, or where nothing is known before) and ending
 * at a line end. A text the session cut (too long for SESSION_TEXT_MAX)
 * is not checked. */
static bool fuzz_said(const struct fuzz_sent *s, int from, const char *line)
{
	const uint8_t *b = s->byte[from];
	const bool *have = s->have[from];
	size_t n = strlen(line), i, j;

	if (n == 0 || n + 4 >= SESSION_TEXT_MAX)
		return true;
	for (i = 0; i + n < FUZZ_SENT_MAX; i++) {
		if (i > 0 && have[i - 1] && b[i - 1] != '\n')
			continue;
		for (j = 0; j < n && have[i + j] && fuzz_same(b[i + j], line[j]); j++)
			;
		if (j == n && have[i + n] && (b[i + n] == '\r' || b[i + n] == '\n'))
			return true;
	}
	return false;
}

static bool fuzz_passive_verb(const char *c)
{
	return strncasecmp(c, "PASV", 4) == 0 || strncasecmp(c, "EPSV", 4) == 0;
}

static bool fuzz_active_verb(const char *c)
{
	return strncasecmp(c, "PORT", 4) == 0 || strncasecmp(c, "EPRT", 4) == 0;
}

static void fuzz_check_install(struct harness *h, const struct fuzz_sent *sent,
			       const struct expect_request *r)
{
	struct flow master = { h->client, h->server, h->client_port, h->server_port };
	struct pinhole *p;
	bool active = inet_addr_equal(&r->expect.src, &h->server);

	FUZZ_ASSERT(flow_equal(&r->master, &master));
	if (active)
		FUZZ_ASSERT(h->d.config.policy.active_mode &&
			    inet_addr_equal(&r->expect.dst, &h->client));
	else
		FUZZ_ASSERT(inet_addr_equal(&r->expect.src, &h->client) &&
			    inet_addr_equal(&r->expect.dst, &h->server));
	p = pinhole_find(h->d.pinholes, &r->expect, &master);
	FUZZ_ASSERT(p != NULL);
	if (active)
		FUZZ_ASSERT(p->reply_code == 200 && fuzz_active_verb(p->command));
	else
		FUZZ_ASSERT((p->reply_code == 227 || p->reply_code == 229) &&
			    fuzz_passive_verb(p->command));
	FUZZ_ASSERT(fuzz_said(sent, HARNESS_CLIENT, p->command));
	FUZZ_ASSERT(fuzz_said(sent, HARNESS_SERVER, p->reply));
}

/* No live expectation of this control connection in the fake kernel. */
static bool fuzz_none_left(const struct harness *h)
{
	unsigned i;

	for (i = 0; i < h->k.expect_count; i++) {
		const struct expect_request *r = &h->k.expect[i].r;

		if (h->k.expect[i].live &&
		    inet_addr_equal(&r->master.src, &h->client) &&
		    r->master.sport == h->client_port)
			return false;
	}
	return true;
}

static void fuzz_event(struct harness *h, uint8_t what)
{
	if (what & 1) {
		pinholes_tick(&h->d, daemon_now_ms() + 1000);
		inspect_acks_deferred(&h->d, daemon_now_ms() + 1000);
		return;
	}
	harness_conntrack_destroy(h);
	FUZZ_ASSERT(!harness_tracked(h));
	FUZZ_ASSERT(fuzz_none_left(h));
	/* the next packets are a new conntrack's */
	h->conntrack_id++;
	h->k.master_gone = false;
}

/* Whether the daemon saw this connection routed (a packet came in on one
 * interface and left on another). Before that a forged packet may be its
 * first of a direction and is read like a one-armed gateway's
 * (doc/protocol.md "Interfaces"); the generator forges none before. */
static bool fuzz_routed(const struct harness *h)
{
	const struct session_entry *e = session_table_find(h->d.sessions, h->conntrack_id);

	return e != NULL && e->routed;
}

static void fuzz_packet(struct harness *h, struct fuzz_sent *sent, uint8_t flags,
			uint8_t offset, const uint8_t *payload, size_t len)
{
	int from = flags & 1;
	uint8_t tcp = (uint8_t)((flags & 2 ? TCP_BUILD_SYN : 0) |
				(flags & 4 ? TCP_BUILD_FIN : 0) |
				(flags & 8 ? TCP_BUILD_RST : 0) |
				(flags & 16 ? 0 : TCP_BUILD_ACK));
	uint32_t seq = h->next_seq[from], ack = h->next_seq[!from];
	uint32_t ifindex;
	bool was_tracked = harness_tracked(h), tracked;

	if (!fuzz_routed(h))
		flags &= (uint8_t)~32;
	ifindex = h->ifindex[flags & 32 ? !from : from];
	if (flags & 64)
		seq += (uint32_t)(int32_t)(int8_t)offset;
	else
		h->next_seq[from] += (uint32_t)len + (flags & 2 ? 1 : 0) +
				     (flags & 4 ? 1 : 0);
	harness_segment(h, from, tcp, seq, ack, payload, len, ifindex);
	/* The model holds the bytes sent during the session ftpgated tracks:
	 * a session trusts the stream from its first packet on (a pickup
	 * cuts its first line, doc/protocol.md "Pickup"), and what was sent
	 * before it (a FIN with data while none was tracked, segments held
	 * ahead before the conntrack was replaced) is beyond what it can
	 * know. */
	tracked = harness_tracked(h);
	if (!was_tracked && tracked)
		memset(sent->have, 0, sizeof(sent->have));
	if (!(flags & (2 | 8 | 32)) && (was_tracked || tracked))
		fuzz_sent_add(sent, from, seq, payload, len);
	/* ended by ftpgated's own decision (an exact RST, FIN both ways):
	 * nothing of it stays open */
	if (was_tracked && !tracked)
		FUZZ_ASSERT(fuzz_none_left(h));
}

static void fuzz_config(struct harness *h, uint8_t c)
{
	struct policy *p = &h->d.config.policy;

	h->d.config.capture_replies = (c & 32) != 0;
	p->active_mode = (c & 2) != 0;
	p->strict = (c & 4) == 0;
	if (c & 16)
		p->max_pinholes_per_session = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	static struct fuzz_sent sent;
	unsigned checked = 0, i;
	size_t at = 1;

	if (size < 1)
		return 0;
	harness_light = true;
	if (data[0] & 1)
		harness_init(&h, "2001:db8:1::2", "2001:db8:2::2", NULL,
			     data[0] & 8 ? 3600000 : 0);
	else
		harness_init(&h, "198.51.100.2", "203.0.113.2", NULL,
			     data[0] & 8 ? 3600000 : 0);
	fuzz_config(&h, data[0]);
	memset(sent.have, 0, sizeof(sent.have));
	sent.base[HARNESS_CLIENT] = h.next_seq[HARNESS_CLIENT];
	sent.base[HARNESS_SERVER] = h.next_seq[HARNESS_SERVER];
	while (at + 3 <= size) {
		uint8_t flags = data[at], offset = data[at + 1];
		size_t len = data[at + 2];

		at += 3;
		if (len > size - at)
			len = size - at;
		if (flags & 128)
			fuzz_event(&h, offset);
		else
			fuzz_packet(&h, &sent, flags, offset, data + at, len);
		at += flags & 128 ? 0 : len;
		for (i = checked; i < h.k.op_count; i++)
			if (h.k.op[i].op == 'I' && h.k.op[i].ret == 0)
				fuzz_check_install(&h, &sent, &h.k.op[i].r);
		checked = h.k.op_count;
	}
	FUZZ_ASSERT(h.k.copy_verdicts == 0);
	harness_fini(&h);
	return 0;
}
