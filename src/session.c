/* session: FTP protocol state of one control connection.
 *
 * Replies are matched to commands in order (RFC 959 lets a client pipeline
 * commands, and the server answers each in turn): every command line the
 * client sends, well-formed or not, is queued, every final reply (2xx-5xx)
 * takes the oldest one off, and 1xx replies are preliminary and take
 * nothing. A 227 or 229 is only worth a pinhole when the command it answers
 * is the PASV or EPSV that asks for one; anything else, including a reply
 * with nothing queued, is unsolicited. That is what keeps a forged or
 * echoed "227" from opening the firewall, and why both directions must be
 * reassembled: a reply split over segments, or two replies in one, must be
 * seen exactly as the client sees it.
 *
 * Choices where RFC 959 leaves room:
 * - Malformed and over-long command lines are queued too (as
 *   FTP_COMMAND_OTHER): servers answer them with a 500, and skipping them
 *   would shift every later reply onto the wrong command.
 * - When SESSION_PENDING_MAX commands are outstanding, the oldest is
 *   dropped. A client that far ahead is odd; losing the oldest can only
 *   make a later 227 look unsolicited (fail closed), never the reverse.
 * - In a multi-line reply only the final "NNN " line is parsed for the
 *   address: it is the line that completes the reply, and taking just one
 *   line keeps a server from hiding a second announcement in the text.
 * - After "234" to AUTH the connection carries TLS: we cannot read it, so
 *   the session stops tracking (SESSION_ACTION_STREAM_LOST) instead of
 *   rejecting every encrypted "line".
 * - PASS and ACCT arguments never reach an action's text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session.h"

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
	stream_init(&s->stream[SESSION_DIR_ORIGINAL], buffer_max, line_max);
	stream_init(&s->stream[SESSION_DIR_REPLY], buffer_max, line_max);
}

void session_free(struct session *s)
{
	stream_free(&s->stream[SESSION_DIR_ORIGINAL]);
	stream_free(&s->stream[SESSION_DIR_REPLY]);
}

/* Copy wire bytes for a log: printable ASCII only, always terminated,
 * marked with "..." when cut. */
static void session_text(char *dst, const char *src, size_t len)
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

static void session_str(char *dst, const char *src)
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

/* Room for one more action, or NULL (counted) when out is full. */
static struct session_action *session_action_new(struct session_actions *out,
						 enum session_action_kind kind,
						 enum session_direction dir)
{
	struct session_action *a;

	if (out->count >= SESSION_ACTIONS_MAX) {
		out->dropped++;
		return NULL;
	}
	a = &out->item[out->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->reason = POLICY_ALLOW;
	a->direction = dir;
	return a;
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

static void session_reject(enum session_direction dir, const char *line,
			   size_t len, const char *what, const char *why,
			   struct session_actions *out)
{
	struct session_action *a;
	char detail[SESSION_TEXT_MAX];

	a = session_action_new(out, SESSION_ACTION_LINE_REJECTED, dir);
	if (!a)
		return;
	if (line && dir == SESSION_DIR_ORIGINAL)
		session_command_text(a->command, line, len);
	else if (line)
		session_text(a->reply, line, len);
	snprintf(detail, sizeof(detail), "%s%s%s", what, why ? ": " : "",
		 why ? why : "");
	session_str(a->detail, detail);
}

static void session_push(struct session *s, enum ftp_command_verb verb,
			 const char *line, size_t len)
{
	if (s->pending_count == SESSION_PENDING_MAX) {
		memmove(&s->pending[0], &s->pending[1],
			(SESSION_PENDING_MAX - 1) * sizeof(s->pending[0]));
		memmove(&s->pending_text[0], &s->pending_text[1],
			(SESSION_PENDING_MAX - 1) * sizeof(s->pending_text[0]));
		s->pending_count--;
	}
	s->pending[s->pending_count] = verb;
	session_command_text(s->pending_text[s->pending_count], line, len);
	s->pending_count++;
}

/* Take the oldest outstanding command; false when none is. */
static bool session_pop(struct session *s, enum ftp_command_verb *verb,
			char text[SESSION_TEXT_MAX])
{
	if (s->pending_count == 0)
		return false;
	*verb = s->pending[0];
	memcpy(text, s->pending_text[0], SESSION_TEXT_MAX);
	s->pending_count--;
	memmove(&s->pending[0], &s->pending[1],
		s->pending_count * sizeof(s->pending[0]));
	memmove(&s->pending_text[0], &s->pending_text[1],
		s->pending_count * sizeof(s->pending_text[0]));
	return true;
}

/* Forget pinholes whose expectation has timed out and count the rest.
 * Order is kept, so the newest stays last for session_pinhole_failed. */
static unsigned session_pinholes_live(struct session *s, uint64_t now_ms)
{
	unsigned i, n = 0;

	for (i = 0; i < s->pinhole_count; i++)
		if (s->pinhole_expiry[i] > now_ms)
			s->pinhole_expiry[n++] = s->pinhole_expiry[i];
	s->pinhole_count = n;
	return n;
}

static void session_command(struct session *s, const char *line, size_t len,
			    struct session_actions *out)
{
	struct ftp_command cmd;
	const char *why = NULL;

	if (ftp_command_parse(line, len, &cmd, &why) < 0) {
		session_reject(SESSION_DIR_ORIGINAL, line, len,
			       "malformed command", why, out);
		cmd.verb = FTP_COMMAND_OTHER;
	}
	session_push(s, cmd.verb, line, len);
}

/* A complete final reply (2xx-5xx): its last line is `rl`. */
static void session_reply_final(struct session *s, const struct policy *p,
				const struct ftp_reply_line *rl,
				const char *line, size_t len, uint64_t now_ms,
				struct session_actions *out)
{
	struct session_action act, *a;
	enum ftp_command_verb verb = FTP_COMMAND_OTHER;
	enum ftp_command_verb want;
	char command[SESSION_TEXT_MAX] = "";
	const char *why = NULL;
	bool asked;
	int r;

	asked = session_pop(s, &verb, command);
	if (asked && verb == FTP_COMMAND_AUTH && rl->code == 234) {
		session_lose(s, SESSION_DIR_REPLY,
			     "control connection switched to TLS (AUTH); no longer tracked",
			     out);
		return;
	}
	if (rl->code != 227 && rl->code != 229)
		return;
	want = rl->code == 227 ? FTP_COMMAND_PASV : FTP_COMMAND_EPSV;

	memset(&act, 0, sizeof(act));
	act.kind = SESSION_ACTION_PINHOLE_REFUSED;
	act.direction = SESSION_DIR_REPLY;
	act.reply_code = rl->code;
	memcpy(act.command, command, sizeof(act.command));
	session_text(act.reply, line, len);

	if (rl->code == 227) {
		r = pasv_reply_parse(rl->text, rl->text_len, &act.address,
				     &act.port, &why);
	} else {
		/* RFC 2428: the data connection goes to the address the
		 * control connection is connected to. */
		r = epsv_reply_parse(rl->text, rl->text_len, &act.port, &why);
		if (r == 0)
			act.address = s->server;
	}

	if (!asked || verb != want) {
		/* The address is still reported (when it parses) so the
		 * log shows what was announced. */
		act.reason = POLICY_REFUSE_UNSOLICITED;
		session_str(act.detail, asked ? "reply to another command"
					      : "no command outstanding");
	} else if (r < 0) {
		memset(&act.address, 0, sizeof(act.address));
		act.port = 0;
		act.reason = POLICY_REFUSE_MALFORMED;
		session_str(act.detail, why);
	} else {
		act.reason = policy_check_passive(p, &s->server, &act.address,
						  act.port,
						  session_pinholes_live(s, now_ms));
		if (act.reason == POLICY_ALLOW &&
		    s->pinhole_count >= SESSION_PINHOLES_MAX)
			act.reason = POLICY_REFUSE_SESSION_CAP;
		/* A policy refusal needs no detail: the reason says it. */
		if (act.reason == POLICY_ALLOW) {
			act.kind = SESSION_ACTION_PINHOLE_OPEN;
			act.expect_source = s->client;
			act.expect_source_port = 0;
		}
	}

	a = session_action_new(out, act.kind, act.direction);
	if (!a)
		return;		/* not carried out, so not counted either */
	*a = act;
	if (act.kind == SESSION_ACTION_PINHOLE_OPEN)
		s->pinhole_expiry[s->pinhole_count++] =
			now_ms + (uint64_t)p->expect_timeout_s * 1000;
}

static void session_reply(struct session *s, const struct policy *p,
			  const char *line, size_t len, uint64_t now_ms,
			  struct session_actions *out)
{
	struct ftp_reply_line rl;
	const char *why = NULL;
	int r;

	r = ftp_reply_line_parse(line, len, &rl, &why);
	if (s->multiline_code) {
		/* RFC 959 4.2: only "NNN " with the opening code ends a
		 * multi-line reply; every other line is text. */
		if (r < 0 || rl.code != s->multiline_code || !rl.last)
			return;
		s->multiline_code = 0;
	} else if (r < 0) {
		session_reject(SESSION_DIR_REPLY, line, len, "malformed reply",
			       why, out);
		return;
	} else if (!rl.last) {
		s->multiline_code = rl.code;
		return;
	}
	if (rl.code < 200)
		return;		/* preliminary: the command is still open */
	session_reply_final(s, p, &rl, line, len, now_ms, out);
}

void session_packet(struct session *s, const struct policy *p,
		    enum session_direction dir, const struct packet_info *pkt,
		    uint64_t now_ms, struct session_actions *out)
{
	struct stream *st;
	const char *line;
	char why[SESSION_TEXT_MAX];
	size_t len;
	int r;

	if (!s || !pkt || !out || s->lost)
		return;
	if (dir != SESSION_DIR_ORIGINAL && dir != SESSION_DIR_REPLY)
		return;
	s->last_seen_ms = now_ms;
	st = &s->stream[dir];

	r = stream_segment(st, pkt->seq, pkt->syn, pkt->payload,
			   pkt->payload_len);
	if (r < 0) {
		snprintf(why, sizeof(why), "%s stream: %s",
			 dir == SESSION_DIR_ORIGINAL ? "command" : "reply",
			 r == -ENOBUFS ? "reassembly buffer bound reached"
				       : "out of memory");
		session_lose(s, dir, why, out);
	}
	while (!s->lost && (r = stream_line_next(st, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			snprintf(why, sizeof(why), "line longer than %zu bytes",
				 st->line_max);
			session_reject(dir, NULL, 0, why, NULL, out);
			/* The server answers it like any other line. */
			if (dir == SESSION_DIR_ORIGINAL)
				session_push(s, FTP_COMMAND_OTHER,
					     "(over-long line)", 16);
		} else if (dir == SESSION_DIR_ORIGINAL) {
			session_command(s, line, len, out);
		} else {
			session_reply(s, p, line, len, now_ms, out);
		}
	}
	if (s->lost) {
		/* Untracked from now on: give the buffers back. */
		stream_free(&s->stream[SESSION_DIR_ORIGINAL]);
		stream_free(&s->stream[SESSION_DIR_REPLY]);
	}
}

void session_pinhole_failed(struct session *s)
{
	if (s->pinhole_count > 0)
		s->pinhole_count--;
}

size_t session_memory(const struct session *s)
{
	return stream_memory(&s->stream[SESSION_DIR_ORIGINAL]) +
	       stream_memory(&s->stream[SESSION_DIR_REPLY]);
}
