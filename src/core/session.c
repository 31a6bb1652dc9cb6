/* session: FTP protocol state of one control connection.
 *
 * Replies are matched to commands in order (RFC 959 lets a client pipeline
 * commands, and the server answers each in turn): every command line the
 * client sends, well-formed or not, is queued, every final reply (2xx-5xx)
 * takes the oldest one off, and 1xx replies are preliminary and take
 * nothing. A 227 or 229 is only worth a pinhole when the command it answers
 * is the PASV or EPSV that asks for one, and a PORT or EPRT only when the
 * server answers it 200; anything else, including a reply with nothing
 * queued, is unsolicited. That is what keeps a forged or echoed "227" from
 * opening the firewall, and why both directions must be reassembled: a
 * reply split over segments, or two replies in one, must be seen exactly
 * as the client sees it. doc/protocol.md has the rules in prose. This
 * file reads the lines of both streams and queues the commands; replies
 * are handled in session_reply.c, the session's pinhole records kept in
 * session_pinhole.c, and active mode (PORT, EPRT) is decided in
 * session_active.c; session_internal.h has what the files share.
 *
 * Choices where RFC 959 leaves room:
 * - Malformed, rejected and over-long command lines are queued too (as
 *   FTP_COMMAND_OTHER): servers answer them with a 500, and skipping them
 *   would shift every later reply onto the wrong command.
 * - An over-long reply line keeps its code and separator (the stream hands
 *   out its first bytes): it answers its command and may start or end a
 *   multi-line reply, as it does for the client, but its text is replaced
 *   by "(over-long line)" and it is tainted, never acted on.
 * - When SESSION_PENDING_MAX commands are outstanding, the oldest is
 *   dropped, but counted (pending_forgotten): the server answers in order,
 *   so the next that many final replies are its answers and answer
 *   nothing we act on (a 227 among them is unsolicited). Dropping it
 *   without the count would pair every later reply with the command
 *   after its own: a 200 to TYPE I would accept a PORT the server
 *   refuses (issue 11).
 * - In a multi-line reply only the final "NNN " line is parsed for the
 *   address: it is the line that completes the reply, and taking just one
 *   line keeps a server from hiding a second announcement in the text.
 * - The greeting (the first final reply of a connection seen from its
 *   SYN) answers no command. In strict mode nothing said before it is
 *   acted on: a real client waits for "220", a browser tricked into
 *   talking to port 21 does not.
 * - A reply line refused by a strict rule still counts for matching (its
 *   code is plain), but never opens a pinhole; it may still close one or
 *   mark the session encrypted, which only ever closes more.
 * - After "234" to AUTH the connection carries TLS: we cannot read it, so
 *   the session stops parsing (SESSION_ACTION_ENCRYPTED) instead of
 *   rejecting every encrypted "line".
 * - PASS and ACCT arguments never reach an action's text.
 * - Bytes that went past us uninspected (the kernel bypasses a full or
 *   missing queue) are skipped once the peer's acknowledgement proves them
 *   delivered (stream_peer_acked); tracking goes on from the next line end.
 *   A command or reply in the hole would pair later replies with the wrong
 *   command, so every outstanding command is forgotten: a reply to one of
 *   them then finds nothing (or a later command) queued. The line that
 *   ends first after the hole is never acted on but still counted for the
 *   pairing (session_cut_line), so that a hole ending at a line end does
 *   not leave every later reply one command behind. The greeting
 *   state is kept: in strict mode a session whose 220 was in the hole
 *   stays ungreeted, since "the server has spoken" is exactly what an
 *   attacker able to flood the queue could otherwise fake. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "session_internal.h"

#define SESSION_BUFFER_DEFAULT 8192
#define SESSION_LINE_DEFAULT 512

void session_init(struct session *s, const struct inet_addr *client,
		  uint16_t client_port, const struct inet_addr *server,
		  uint16_t server_port, const struct session_limits *lim)
{
	size_t buffer_max = lim ? lim->buffer_max : SESSION_BUFFER_DEFAULT;
	size_t line_max = lim ? lim->line_max : SESSION_LINE_DEFAULT;

	memset(s, 0, sizeof(*s));
	if (client)
		s->client = *client;
	if (server)
		s->server = *server;
	s->client_port = client_port;
	s->server_port = server_port;
	s->real_server = s->server;
	s->real_server_port = server_port;
	s->nat_client = s->client;
	s->nat_client_port = client_port;
	stream_init(&s->stream[SESSION_DIR_ORIGINAL], buffer_max, line_max);
	stream_init(&s->stream[SESSION_DIR_REPLY], buffer_max, line_max);
}

void session_set_nat(struct session *s, const struct flow *reply)
{
	if (reply->src.family != s->server.family ||
	    reply->dst.family != s->client.family)
		return;
	s->nat = true;
	s->real_server = reply->src;
	s->real_server_port = reply->sport;
	s->nat_client = reply->dst;
	s->nat_client_port = reply->dport;
}

void session_seqadj_add(struct session *s, enum session_direction dir,
			uint32_t seq, int32_t diff)
{
	if (dir == SESSION_DIR_ORIGINAL || dir == SESSION_DIR_REPLY)
		seqadj_add(&s->seqadj[dir], seq, diff);
}

void session_command_rewritten(struct session *s, uint16_t port,
			       uint16_t nat_port)
{
	unsigned i = s->pending_count;

	while (i-- > 0) {
		struct session_command *c = &s->pending[i];

		if ((c->verb == FTP_COMMAND_PORT || c->verb == FTP_COMMAND_EPRT) &&
		    !c->rewritten && c->announced_port == port &&
		    inet_addr_equal(&c->announced, &s->client)) {
			c->rewritten = true;
			c->nat_port = nat_port;
			return;
		}
	}
}

void session_command_rewrite_next(struct session *s, uint16_t port,
				  uint16_t nat_port)
{
	s->rewrite_next.on = true;
	s->rewrite_next.port = port;
	s->rewrite_next.nat_port = nat_port;
}

void session_free(struct session *s)
{
	stream_free(&s->stream[SESSION_DIR_ORIGINAL]);
	stream_free(&s->stream[SESSION_DIR_REPLY]);
	free(s->pinhole);
	s->pinhole = NULL;
	s->pinhole_count = s->pinhole_capacity = 0;
}

/* Copy wire bytes for a log: printable ASCII only, always terminated,
 * marked with "..." when cut. */
void session_text(char *dst, const char *src, size_t len)
{
	size_t i, n = len;
	bool cut = false;

	if (n > SESSION_TEXT_MAX - 1) {
		n = SESSION_TEXT_MAX - 4;
		cut = true;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

void session_str(char *dst, const char *src)
{
	session_text(dst, src ? src : "", src ? strlen(src) : 0);
}

static bool session_word_is(const char *p, size_t len, const char *upper)
{
	size_t i, n = strlen(upper);

	if (len < n)
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != upper[i])
			return false;
	}
	return true;
}

/* A command line for a log, with passwords (PASS, ACCT) hidden whatever
 * follows the verb, so a malformed PASS line does not leak either. */
static void session_command_text(char *dst, const char *line, size_t len)
{
	if ((session_word_is(line, len, "PASS") ||
	     session_word_is(line, len, "ACCT")) && len > 4) {
		session_text(dst, line, 4);
		strcat(dst, " ****");
		return;
	}
	session_text(dst, line, len);
}

/* Room for one more action, or NULL (counted) when there is none: a
 * report-only action (`report`) beyond SESSION_REPORTS_MAX in this packet,
 * or any action in a full `out` (which the bound in session.h rules out). */
struct session_action *session_action_add(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir,
					  bool report)
{
	struct session_action *a;

	if (report && out->reports >= SESSION_REPORTS_MAX) {
		out->dropped++;
		return NULL;
	}
	if (out->count >= SESSION_ACTIONS_MAX) {
		out->overflow++;
		return NULL;
	}
	if (report)
		out->reports++;
	a = &out->item[out->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->reason = POLICY_ALLOW;
	a->direction = dir;
	return a;
}

/* An action the daemon must carry out (or that happens once a packet). */
struct session_action *session_action_new(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir)
{
	return session_action_add(out, kind, dir, false);
}

/* An action that only reports one line: bounded per packet. */
struct session_action *session_report_new(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir)
{
	return session_action_add(out, kind, dir, true);
}

static void session_lose(struct session *s, enum session_direction dir,
			 const char *why, struct session_actions *out)
{
	struct session_action *a;

	s->lost = true;
	a = session_action_new(out, SESSION_ACTION_STREAM_LOST, dir);
	if (a)
		session_str(a->detail, why);
}

void session_reject(enum session_direction dir, const char *line,
		    size_t len, enum session_line_rule rule,
		    const char *what, const char *why,
		    struct session_actions *out)
{
	struct session_action *a;
	char detail[SESSION_TEXT_MAX];

	out->lines_rejected++;
	a = session_report_new(out, SESSION_ACTION_LINE_REJECTED, dir);
	if (!a)
		return;
	a->rule = rule;
	if (line && dir == SESSION_DIR_ORIGINAL)
		session_command_text(a->command, line, len);
	else if (line)
		session_text(a->reply, line, len);
	snprintf(detail, sizeof(detail), "%s%s%s", what, why ? ": " : "",
		 why ? why : "");
	session_str(a->detail, detail);
}

static void session_push(struct session *s, const struct session_command *cmd)
{
	if (s->pending_count == SESSION_PENDING_MAX) {
		memmove(&s->pending[0], &s->pending[1],
			(SESSION_PENDING_MAX - 1) * sizeof(s->pending[0]));
		s->pending_count--;
		s->commands_forgotten++;
		s->pending_forgotten++;
	}
	s->pending[s->pending_count++] = *cmd;
}

/* What a reply owed to a forgotten command answers: nothing we act on. */
static void session_forgotten_command(struct session_command *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = FTP_COMMAND_OTHER;
	session_str(cmd->text, SESSION_FORGOTTEN_TEXT);
}

/* Queue a line that is not acted on, so its reply still lines up. */
static void session_push_other(struct session *s, const char *line, size_t len)
{
	struct session_command cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = FTP_COMMAND_OTHER;
	session_command_text(cmd.text, line, len);
	session_push(s, &cmd);
}

/* Take the command the next final reply answers: a forgotten one first
 * (session_push), then the oldest outstanding; false when none is. */
bool session_pop(struct session *s, struct session_command *cmd)
{
	if (s->pending_forgotten > 0) {
		s->pending_forgotten--;
		session_forgotten_command(cmd);
		return true;
	}
	if (s->pending_count == 0)
		return false;
	*cmd = s->pending[0];
	s->pending_count--;
	memmove(&s->pending[0], &s->pending[1],
		s->pending_count * sizeof(s->pending[0]));
	return true;
}

static void session_command(struct session *s, const struct policy *p,
			    const char *line, size_t len, uint64_t now_ms,
			    struct session_actions *out)
{
	struct session_command cmd;
	struct ftp_command fc;
	const char *why = NULL, *verb = NULL;
	char what[SESSION_TEXT_MAX];
	size_t at = 0;

	out->commands++;

	/* The stream takes "\r\n" and "\n" as line ends, so a CR left in a
	 * line is a bare one. A server or a packet-based helper that ends
	 * lines at it would see other commands than we do. Commands are
	 * never relaxed: the command parser refuses control bytes anyway. */
	if (memchr(line, '\0', len)) {
		session_reject(SESSION_DIR_ORIGINAL, line, len, SESSION_RULE_NUL,
			       "NUL byte in command", NULL, out);
		session_push_other(s, line, len);
		return;
	}
	if (memchr(line, '\r', len)) {
		session_reject(SESSION_DIR_ORIGINAL, line, len,
			       SESSION_RULE_BARE_CR, "bare CR in command",
			       NULL, out);
		session_push_other(s, line, len);
		return;
	}
	if (!s->greeted && policy_strict(p, &s->real_server)) {
		session_reject(SESSION_DIR_ORIGINAL, line, len,
			       SESSION_RULE_BEFORE_GREETING,
			       "command before the server's greeting: not acted on",
			       NULL, out);
		session_push_other(s, line, len);
		return;
	}
	if (ftp_command_parse(line, len, &fc, &why) < 0) {
		session_reject(SESSION_DIR_ORIGINAL, line, len,
			       SESSION_RULE_MALFORMED, "malformed command", why,
			       out);
		session_push_other(s, line, len);
		return;
	}
	if (policy_strict(p, &s->real_server) &&
	    ftp_embedded_data_verb(line, len, &at, &verb)) {
		snprintf(what, sizeof(what),
			 "%s at byte %zu inside a command line: not a command (NAT slipstreaming?)",
			 verb, at);
		session_reject(SESSION_DIR_ORIGINAL, line, len,
			       SESSION_RULE_EMBEDDED_COMMAND, what, NULL, out);
		session_push_other(s, line, len);
		return;
	}

	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = fc.verb;
	session_command_text(cmd.text, line, len);
	/* The argument is judged now, while the line is at hand; the
	 * decision waits for the server's reply. */
	if (fc.verb == FTP_COMMAND_PORT &&
	    port_argument_parse(fc.argument, fc.argument_len, &cmd.announced,
				&cmd.announced_port, &cmd.why) < 0)
		memset(&cmd.announced, 0, sizeof(cmd.announced));
	if (fc.verb == FTP_COMMAND_EPRT &&
	    eprt_argument_parse(fc.argument, fc.argument_len, &cmd.announced,
				&cmd.announced_port, &cmd.why) < 0)
		memset(&cmd.announced, 0, sizeof(cmd.announced));
	if ((fc.verb == FTP_COMMAND_PORT || fc.verb == FTP_COMMAND_EPRT) &&
	    policy_active_open_command(p, &s->real_server))
		session_active_command(s, p, &cmd, now_ms, out);
	session_push(s, &cmd);
}

static const char *session_stream_name(enum session_direction dir)
{
	return dir == SESSION_DIR_ORIGINAL ? "command" : "reply";
}

/* A line whose beginning may have been in a skipped hole: never acted on,
 * but one line to the peer, so the pairing of commands and replies goes
 * on. A command line is one the server will answer. A reply line that
 * reads as a final reply answers the oldest command (a client that waits
 * for each reply sends nothing new before the whole of it), one that reads
 * as "NNN-" opens a multi-line reply, anything else is text. */
static void session_cut_line(struct session *s, enum session_direction dir,
			     const char *line, size_t len)
{
	struct session_command cmd;
	bool last = false;
	int code = 0;

	if (dir == SESSION_DIR_ORIGINAL) {
		session_push_other(s, "(cut line)", 10);
		return;
	}
	if (ftp_reply_code_parse(line, len, &code, &last) < 0)
		return;
	if (!last)
		s->multiline_code = code;
	else if (code >= 200)
		session_pop(s, &cmd);
}

/* A client that far ahead of its server is not running FTP: stop
 * tracking rather than count on. */
static void session_forgotten_check(struct session *s,
				    enum session_direction dir,
				    struct session_actions *out)
{
	char why[SESSION_TEXT_MAX];

	if (s->lost || s->pending_forgotten < SESSION_FORGOTTEN_MAX)
		return;
	snprintf(why, sizeof(why),
		 "more than %d commands sent ahead of the server's replies",
		 SESSION_FORGOTTEN_MAX);
	session_lose(s, dir, why, out);
}

/* An urgent byte that was a line end: a receiver without SO_OOBINLINE
 * took it out and read two lines as one, one with it did not, and which
 * the peer is cannot be seen. Replies can no longer be paired with
 * commands for sure, so nothing more is acted on (before any line that
 * came with it). An urgent byte inside a line only cuts that line
 * (stream_urgent). */
static void session_urgent_check(struct session *s, enum session_direction dir,
				 struct session_actions *out)
{
	if (!stream_urgent_line_end(&s->stream[dir]) || s->lost || s->encrypted)
		return;
	session_lose(s, dir, "urgent data (TCP URG) ended a line: the receiver may read two lines as one",
		     out);
}

/* Every line waiting in the stream of `dir`, to the command or reply
 * logic, until the session stops parsing. */
static void session_lines(struct session *s, const struct policy *p,
			  enum session_direction dir, uint64_t now_ms,
			  struct session_actions *out)
{
	struct stream *st = &s->stream[dir];
	const char *line;
	char why[SESSION_TEXT_MAX];
	size_t len;
	int r;

	session_urgent_check(s, dir, out);
	while (!s->lost && !s->encrypted &&
	       (r = stream_line_next(st, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			snprintf(why, sizeof(why), "line longer than %zu bytes",
				 st->line_max);
			session_reject(dir, NULL, 0, SESSION_RULE_TOO_LONG, why,
				       NULL, out);
			/* The server answers it like any other line; a
			 * reply keeps its code for matching. */
			if (dir == SESSION_DIR_ORIGINAL)
				session_push_other(s, SESSION_LONG_TEXT,
						   strlen(SESSION_LONG_TEXT));
			else
				session_reply_long(s, p, line, len, now_ms,
						   out);
		} else if (r == 2) {
			session_cut_line(s, dir, line, len);
		} else if (dir == SESSION_DIR_ORIGINAL) {
			session_command(s, p, line, len, now_ms, out);
		} else {
			session_reply(s, p, line, len, now_ms, out);
		}
	}
	session_forgotten_check(s, dir, out);
}

/* Why stream_segment refused a segment, for the session-lost detail. */
static const char *session_stream_error(int r)
{
	if (r == -ENOBUFS)
		return "reassembly buffer bound reached";
	if (r == -EILSEQ)
		return "retransmitted bytes differ from the copy ftpgated holds (forged segment?)";
	return "out of memory";
}

/* The stream of `dir` skipped `skipped` bytes that went past us. */
static void session_resync(struct session *s, enum session_direction dir,
			   int skipped, struct session_actions *out)
{
	struct session_action *a;
	char detail[SESSION_TEXT_MAX];

	/* Which commands the missed lines asked or answered is unknown:
	 * forgetting all of them can only make a later reply unsolicited. */
	s->pending_count = 0;
	s->pending_forgotten = 0;
	if (dir == SESSION_DIR_REPLY)
		s->multiline_code = 0;
	a = session_action_new(out, SESSION_ACTION_STREAM_RESYNC, dir);
	if (!a)
		return;
	a->skipped = (uint32_t)skipped;
	snprintf(detail, sizeof(detail),
		 "%d byte%s of the %s stream passed uninspected; resynchronized at the next line",
		 skipped, skipped == 1 ? "" : "s", session_stream_name(dir));
	session_str(a->detail, detail);
}

bool session_tls_record(const uint8_t *p, size_t n, bool hello)
{
	unsigned len;

	if (p == NULL || n < 6 || p[0] < 20 || p[0] > 23 || p[1] != 3 || p[2] > 4)
		return false;
	len = (unsigned)p[3] << 8 | p[4];
	if (len == 0 || len > 16384 + 2048)
		return false;
	return !hello || (p[0] == 22 && p[5] == 1);
}

const char *session_tls_start_name(enum session_tls_start t)
{
	switch (t) {
	case SESSION_TLS_AUTH:		return "auth-tls";
	case SESSION_TLS_IMPLICIT:	return "implicit-tls";
	case SESSION_TLS_PICKED_UP:	return "tls-picked-up";
	}
	return "unknown";
}

/* The client's first data bytes: TLS instead of FTP commands means
 * implicit FTPS (the stream was seen from its SYN: a ClientHello), or an
 * encrypted session picked up mid-stream (any TLS record). FTP commands
 * are text and never start with a byte below 0x20. */
static void session_tls_first(struct session *s, enum session_direction dir,
			      const struct packet_info *pkt,
			      struct session_actions *out)
{
	const struct stream *st = &s->stream[SESSION_DIR_ORIGINAL];
	struct session_action *a;
	bool seen_from_syn = st->synchronized;

	if (dir != SESSION_DIR_ORIGINAL || pkt->syn || pkt->payload_len == 0 ||
	    st->data_seen ||
	    !session_tls_record(pkt->payload, pkt->payload_len, seen_from_syn))
		return;
	s->encrypted = true;
	a = session_action_new(out, SESSION_ACTION_ENCRYPTED, SESSION_DIR_ORIGINAL);
	if (a == NULL)
		return;
	a->tls_start = seen_from_syn ? SESSION_TLS_IMPLICIT : SESSION_TLS_PICKED_UP;
	session_str(a->detail, SESSION_ENCRYPTED_TEXT);
}

/* The peer's acknowledgement ack (as on the wire) of the stream `peer`:
 * a hole it proves delivered is skipped (session_packet's contract). */
static void session_peer_ack(struct session *s, const struct policy *p,
			     enum session_direction peer, uint32_t ack,
			     uint64_t now_ms, struct session_actions *out)
{
	char why[SESSION_TEXT_MAX];
	int r;

	r = stream_peer_acked(&s->stream[peer], seqadj_ack(&s->seqadj[peer], ack));
	if (r > 0) {
		session_resync(s, peer, r, out);
		session_lines(s, p, peer, now_ms, out);
	} else if (r < 0) {
		snprintf(why, sizeof(why), "%s stream: out of memory",
			 session_stream_name(peer));
		session_lose(s, peer, why, out);
	}
}

void session_peer_acked(struct session *s, const struct policy *p,
			enum session_direction peer, uint32_t ack,
			uint64_t now_ms, struct session_actions *out)
{
	if (s->lost || s->encrypted)
		return;
	session_peer_ack(s, p, peer, ack, now_ms, out);
}

bool session_acks_ahead(const struct session *s, enum session_direction peer,
			uint32_t ack)
{
	const struct stream *st = &s->stream[peer];

	return st->synchronized &&
	       (int32_t)(seqadj_ack(&s->seqadj[peer], ack) - st->next_seq) > 0;
}

void session_packet(struct session *s, const struct policy *p,
		    enum session_direction dir, const struct packet_info *pkt,
		    uint64_t now_ms, struct session_actions *out)
{
	enum session_direction peer;
	char why[SESSION_TEXT_MAX];
	unsigned forgotten;
	int r;

	if (!s || !pkt || !out)
		return;
	if (dir != SESSION_DIR_ORIGINAL && dir != SESSION_DIR_REPLY)
		return;
	s->last_seen_ms = now_ms;
	forgotten = s->commands_forgotten;
	if (!s->started) {
		/* Picked up mid-stream without session_picked_up(): the
		 * greeting went by before we were here. */
		s->started = true;
		s->greeted = !pkt->syn;
	}
	if (s->lost || s->encrypted)
		goto closing;

	/* This packet's acknowledgement is about the other stream, and
	 * what it proves delivered was sent before this packet: the lines
	 * after a hole it reveals come first. A RST's acknowledgement is
	 * not a statement about data received. It counts the peer's bytes
	 * as the kernel adjusted them (a resized rewrite): read it back in
	 * the peer's own numbering. */
	peer = dir == SESSION_DIR_ORIGINAL ? SESSION_DIR_REPLY
					   : SESSION_DIR_ORIGINAL;
	if (pkt->ack_flag && !pkt->rst && !pkt->ack_deferred)
		session_peer_ack(s, p, peer, pkt->ack, now_ms, out);

	if (!s->lost && !s->encrypted)
		session_tls_first(s, dir, pkt, out);
	if (!s->lost && !s->encrypted) {
		/* Linux's urgent byte (RFC 6093: the one before the pointer) */
		if (pkt->urg && !pkt->syn)
			stream_urgent(&s->stream[dir],
				      pkt->seq + pkt->urg_ptr - 1u);
		r = stream_segment(&s->stream[dir], pkt->seq, pkt->syn,
				   pkt->payload, pkt->payload_len);
		if (r < 0) {
			snprintf(why, sizeof(why), "%s stream: %s",
				 session_stream_name(dir), session_stream_error(r));
			session_lose(s, dir, why, out);
		} else if (pkt->fin) {
			stream_fin(&s->stream[dir], pkt->seq, pkt->syn,
				   pkt->payload_len);
		}
		session_lines(s, p, dir, now_ms, out);
	}
	if (s->lost || s->encrypted) {
		/* Untracked from now on: give the buffers back. */
		stream_free(&s->stream[SESSION_DIR_ORIGINAL]);
		stream_free(&s->stream[SESSION_DIR_REPLY]);
	}
closing:
	/* The control connection is going away: its data endpoints with
	 * it. (Its lines were handled above, so a "221" in a FIN segment
	 * has already had its say.) */
	if (pkt->rst || pkt->fin)
		session_remove_all(s, SESSION_REMOVE_CONTROL_CLOSED, dir,
				   pkt->rst ? "(RST)" : "(FIN)", 0, now_ms,
				   out);
	out->commands_forgotten += s->commands_forgotten - forgotten;
	s->rewrite_next.on = false;
}

void session_picked_up(struct session *s, bool greeted)
{
	s->started = true;
	s->greeted = greeted;
}

void session_stream_unseen(struct session *s, enum session_direction dir)
{
	if (dir == SESSION_DIR_ORIGINAL || dir == SESSION_DIR_REPLY)
		stream_pickup(&s->stream[dir]);
}

const char *session_line_rule_name(enum session_line_rule r)
{
	switch (r) {
	case SESSION_RULE_MALFORMED:		return "malformed";
	case SESSION_RULE_NUL:			return "nul-byte";
	case SESSION_RULE_BARE_CR:		return "bare-cr";
	case SESSION_RULE_TOO_LONG:		return "too-long";
	case SESSION_RULE_EMBEDDED_COMMAND:	return "embedded-command";
	case SESSION_RULE_BEFORE_GREETING:	return "before-greeting";
	case SESSION_RULE_COUNT:		break;
	}
	return "unknown";
}

bool session_line_rule_is_attack(enum session_line_rule r)
{
	return r == SESSION_RULE_EMBEDDED_COMMAND ||
	       r == SESSION_RULE_BEFORE_GREETING;
}

const char *session_remove_cause_name(enum session_remove_cause c)
{
	switch (c) {
	case SESSION_REMOVE_SUPERSEDED:		return "superseded";
	case SESSION_REMOVE_TRANSFER_DONE:	return "transfer-done";
	case SESSION_REMOVE_ABORT:		return "abort";
	case SESSION_REMOVE_REINITIALIZE:	return "reinitialize";
	case SESSION_REMOVE_EPSV_ALL:		return "epsv-all";
	case SESSION_REMOVE_QUIT:		return "quit";
	case SESSION_REMOVE_CONTROL_CLOSED:	return "control-closed";
	case SESSION_REMOVE_REFUSED_BY_SERVER:	return "refused-by-server";
	case SESSION_REMOVE_NOT_REWRITTEN:	return "not-rewritten";
	case SESSION_REMOVE_COUNT:		break;
	}
	return "unknown";
}

size_t session_memory(const struct session *s)
{
	return stream_memory(&s->stream[SESSION_DIR_ORIGINAL]) +
	       stream_memory(&s->stream[SESSION_DIR_REPLY]);
}

void session_control_flow(const struct session *s, struct flow *f)
{
	*f = (struct flow){ s->client, s->server, s->client_port, s->server_port };
}

void session_action_flow(const struct session_action *a, struct flow *f)
{
	*f = a->data;
}
