/* session_reply: the server's replies of a session (session.c reads the
 * lines and queues the commands). Each reply line is checked; the line
 * that completes a reply (the last of a multi-line one) is acted on, a
 * final reply with the command it answers (session_pop): a 227 or 229 to
 * PASV or EPSV may open a pinhole (session_passive_reply), the answers to
 * AUTH, EPSV ALL, REIN, ABOR, QUIT and transfer commands encrypt the
 * session or remove its pinholes, and PORT and EPRT go to
 * session_active.c. The greeting answers no command (session_greeting);
 * 421, 425 and 426 are reported as data trouble (session_trouble). */
#include <string.h>

#include "session.h"
#include "session_internal.h"

/* An approved passive pinhole on a NATed control connection (doc/nat.md
 * 2.1, 2.2): the data connection arrives at the address the client
 * dialled (server) and is translated to the real server's listener. A
 * 227 naming the real server is rewritten to name the dialled address; a
 * 229, or a 227 already naming the dialled address (vsftpd pasv_address,
 * listed in announce-address), is not. Another listed address: a plain
 * pinhole, as without NAT (how it is translated is not known here). */
static void session_passive_nat(const struct session *s,
				struct session_action *a)
{
	if (!s->nat)
		return;
	if (inet_addr_equal(&a->data.dst, &s->real_server)) {
		a->rewrite = !inet_addr_equal(&s->real_server, &s->server);
		a->data.dst = s->server;
	} else if (!inet_addr_equal(&a->data.dst, &s->server)) {
		return;
	}
	a->nat = (struct flow_nat){ true, s->real_server, a->data.dport };
	a->nat_dir = SESSION_DIR_ORIGINAL;
}

/* A 227 or 229. `cmd` is the command it answers (asked false: none). */
static void session_passive_reply(struct session *s, const struct policy *p,
				  int code, const char *text, size_t text_len,
				  const char *line, size_t len, bool tainted,
				  bool asked, const struct session_command *cmd,
				  uint64_t now_ms, struct session_actions *out)
{
	enum ftp_command_verb want;
	struct session_action act;
	const char *why = NULL;
	int r;

	want = code == 227 ? FTP_COMMAND_PASV : FTP_COMMAND_EPSV;
	memset(&act, 0, sizeof(act));
	act.kind = SESSION_ACTION_PINHOLE_REFUSED;
	act.direction = SESSION_DIR_REPLY;
	act.reply_code = code;
	if (asked)
		memcpy(act.command, cmd->text, sizeof(act.command));
	session_text(act.reply, line, len);

	if (code == 227) {
		r = pasv_reply_parse(text, text_len, &act.data.dst,
				     &act.data.dport, &why);
	} else {
		/* RFC 2428: the data connection goes to the address the
		 * control connection is connected to. */
		r = epsv_reply_parse(text, text_len, &act.data.dport, &why);
		if (r == 0)
			act.data.dst = s->server;
	}

	if (!asked || cmd->verb != want) {
		/* The address is still reported (when it parses) so the
		 * log shows what was announced. */
		act.reason = POLICY_REFUSE_UNSOLICITED;
		session_str(act.detail, asked ? "reply to another command"
					      : "no command outstanding");
		session_open(s, p, &act, now_ms, out);
		return;
	}
	/* The server answered this PASV/EPSV: whatever it announced, it
	 * has given up the listener it announced before (and an earlier
	 * PORT setting). */
	session_remove_all(s, SESSION_REMOVE_SUPERSEDED, SESSION_DIR_REPLY,
			   cmd->text, code, now_ms, out);
	if (s->epsv_all && code == 227) {
		act.reason = POLICY_REFUSE_EPSV_ALL;
	} else if (r < 0 || tainted) {
		memset(&act.data.dst, 0, sizeof(act.data.dst));
		act.data.dport = 0;
		act.reason = POLICY_REFUSE_MALFORMED;
		session_str(act.detail, tainted ? "reply line rejected" : why);
	} else {
		/* A policy refusal needs no detail: the reason says it. */
		/* A 229 names no address: the server it came from. */
		act.reason = policy_check_passive(p, &s->real_server,
						  code == 229 ? &s->real_server : &act.data.dst,
						  act.data.dport,
						  session_pinholes_live(s, now_ms));
		session_allow(s, &act);
		if (act.kind == SESSION_ACTION_PINHOLE_OPEN) {
			act.data.src = s->client;
			act.data.sport = 0;
			session_passive_nat(s, &act);
		}
	}
	session_open(s, p, &act, now_ms, out);
}


/* A complete final reply (2xx-5xx) after the greeting. */
static void session_reply_final(struct session *s, const struct policy *p,
				int code, const char *text, size_t text_len,
				const char *line, size_t len, bool tainted,
				uint64_t now_ms, struct session_actions *out)
{
	struct session_command cmd;
	struct session_action *a;
	bool asked, ok = code >= 200 && code < 300;

	asked = session_pop(s, &cmd);
	if (!asked)
		memset(&cmd, 0, sizeof(cmd));
	if (code == 227 || code == 229) {
		session_passive_reply(s, p, code, text, text_len, line, len,
				      tainted, asked, &cmd, now_ms, out);
		return;
	}
	if (!asked)
		return;
	switch (cmd.verb) {
	case FTP_COMMAND_AUTH:
		if (code != 234)
			break;
		/* RFC 4217: TLS starts right after this line. Pinholes
		 * opened before stay until they expire: from here on we
		 * cannot see what becomes of them. */
		s->encrypted = true;
		a = session_action_new(out, SESSION_ACTION_ENCRYPTED,
				       SESSION_DIR_REPLY);
		if (a) {
			a->reply_code = code;
			memcpy(a->command, cmd.text, sizeof(a->command));
			session_text(a->reply, line, len);
			session_str(a->detail, SESSION_ENCRYPTED_TEXT);
		}
		break;
	case FTP_COMMAND_PORT:
	case FTP_COMMAND_EPRT:
		if (cmd.at_command)
			session_active_settle(s, code, tainted, &cmd, now_ms,
					      out);
		else
			session_active_reply(s, p, code, line, len, tainted,
					     &cmd, now_ms, out);
		break;
	case FTP_COMMAND_EPSV_ALL:
		/* RFC 2428 4: after EPSV ALL the server refuses every data
		 * setup but EPSV, so nothing but EPSV gets a pinhole. */
		if (!ok)
			break;
		s->epsv_all = true;
		session_remove_all(s, SESSION_REMOVE_EPSV_ALL,
				   SESSION_DIR_REPLY, cmd.text, code, now_ms,
				   out);
		break;
	case FTP_COMMAND_REIN:
		/* RFC 959 4.1.1: back to the state right after the
		 * greeting, every parameter at its default. */
		if (!ok)
			break;
		s->epsv_all = false;
		session_remove_all(s, SESSION_REMOVE_REINITIALIZE,
				   SESSION_DIR_REPLY, cmd.text, code, now_ms,
				   out);
		break;
	case FTP_COMMAND_ABOR:
		if (ok)
			session_remove_all(s, SESSION_REMOVE_ABORT,
					   SESSION_DIR_REPLY, cmd.text, code,
					   now_ms, out);
		break;
	case FTP_COMMAND_QUIT:
		if (ok)
			session_remove_all(s, SESSION_REMOVE_QUIT,
					   SESSION_DIR_REPLY, cmd.text, code,
					   now_ms, out);
		break;
	case FTP_COMMAND_TRANSFER:
		/* Done (2xx), or its data connection failed (425) or was
		 * cut (426): that endpoint is spent. Other errors (550 no
		 * such file) come before any data connection, and servers
		 * such as vsftpd keep the listener for the next command. */
		if (ok || code == 425 || code == 426)
			session_remove_all(s, SESSION_REMOVE_TRANSFER_DONE,
					   SESSION_DIR_REPLY, cmd.text, code,
					   now_ms, out);
		break;
	default:
		break;
	}
}

/* The first final reply of a connection seen from its start. */
static void session_greeting(struct session *s, const struct policy *p,
			     int code, const char *text, size_t text_len,
			     const char *line, size_t len, bool tainted,
			     uint64_t now_ms, struct session_actions *out)
{
	if (code == 220) {
		s->greeted = true;
		return;
	}
	if (code == 421)
		return;		/* "service not available": it closes */
	if (policy_strict(p, &s->real_server)) {
		session_reject(SESSION_DIR_REPLY, line, len,
			       SESSION_RULE_BEFORE_GREETING,
			       "reply before the server's 220 greeting: not acted on",
			       NULL, out);
		return;
	}
	/* Relaxed: whatever comes first is the greeting. It still answers
	 * no command, so a 227 here is unsolicited. */
	s->greeted = true;
	if (code == 227 || code == 229)
		session_passive_reply(s, p, code, text, text_len, line, len,
				      tainted, false, NULL, now_ms, out);
}

/* 421 (closing), 425 (cannot open the data connection), 426 (it broke):
 * reported for the passive-port pressure report and the audit log, with
 * the command the reply answers (not taken off the queue here). */
static void session_trouble(struct session *s, int code, const char *line,
			    size_t len, struct session_actions *out)
{
	struct session_action *a;

	a = session_report_new(out, SESSION_ACTION_DATA_TROUBLE,
			       SESSION_DIR_REPLY);
	if (a == NULL)
		return;
	a->reply_code = code;
	session_text(a->reply, line, len);
	if (s->pending_forgotten > 0)
		session_str(a->command, SESSION_FORGOTTEN_TEXT);
	else if (s->pending_count > 0)
		memcpy(a->command, s->pending[0].text, sizeof(a->command));
}

/* One reply line, `tainted` when a rule refused its text (it still counts
 * for matching, but never opens anything). */
static void session_reply_line(struct session *s, const struct policy *p,
			       const char *line, size_t len, bool tainted,
			       uint64_t now_ms, struct session_actions *out)
{
	struct ftp_reply_line rl;
	bool strict = policy_strict(p, &s->real_server);
	bool last = false;
	const char *why = NULL, *text;
	size_t text_len;
	int code = 0, r;

	r = ftp_reply_code_parse(line, len, &code, &last);
	if (s->multiline_code) {
		/* RFC 959 4.2: only "NNN " with the opening code ends a
		 * multi-line reply; every other line is text. */
		if (r < 0 || code != s->multiline_code || !last)
			return;
		s->multiline_code = 0;
	} else if (r < 0) {
		if (!tainted) {
			ftp_reply_line_parse(line, len, &rl, &why);
			session_reject(SESSION_DIR_REPLY, line, len,
				       SESSION_RULE_MALFORMED, "malformed reply",
				       why, out);
		}
		return;
	} else if (!last) {
		s->multiline_code = code;
		return;
	}
	if (strict && !tainted && ftp_reply_line_parse(line, len, &rl, &why) < 0) {
		/* other control bytes in the text */
		session_reject(SESSION_DIR_REPLY, line, len,
			       SESSION_RULE_MALFORMED, "malformed reply", why,
			       out);
		tainted = true;
	}
	text = line + (len > 3 ? 4 : 3);
	text_len = len > 3 ? len - 4 : 0;
	out->replies++;
	if (code == 421 || code == 425 || code == 426)
		session_trouble(s, code, line, len, out);
	if (code < 200)
		return;		/* preliminary: the command is still open */
	if (!s->greeted)
		session_greeting(s, p, code, text, text_len, line, len,
				 tainted, now_ms, out);
	else
		session_reply_final(s, p, code, text, text_len, line, len,
				    tainted, now_ms, out);
}

void session_reply(struct session *s, const struct policy *p,
		   const char *line, size_t len, uint64_t now_ms,
		   struct session_actions *out)
{
	bool tainted = false;

	/* Strict: a reply line with NUL or a bare CR may read differently
	 * to the client than to us; it never opens anything. */
	if (policy_strict(p, &s->real_server) && memchr(line, '\0', len)) {
		session_reject(SESSION_DIR_REPLY, line, len, SESSION_RULE_NUL,
			       "NUL byte in reply", NULL, out);
		tainted = true;
	} else if (policy_strict(p, &s->real_server) && memchr(line, '\r', len)) {
		session_reject(SESSION_DIR_REPLY, line, len,
			       SESSION_RULE_BARE_CR, "bare CR in reply", NULL,
			       out);
		tainted = true;
	}
	session_reply_line(s, p, line, len, tainted, now_ms, out);
}

/* A reply line longer than line-max-bytes (already rejected as too-long),
 * of which `head` holds the first bytes. Its code and separator say to
 * the client what they say on any line (an answer, the start or the end
 * of a multi-line reply), so they count for matching: a long 257 to PWD
 * must not leave every later reply one command behind. Its text is
 * replaced by a placeholder and the line is tainted: never acted on. */
void session_reply_long(struct session *s, const struct policy *p,
			const char *head, size_t len, uint64_t now_ms,
			struct session_actions *out)
{
	char line[4 + sizeof(SESSION_LONG_TEXT)];
	bool last;
	int code;

	if (len < 4 || ftp_reply_code_parse(head, 4, &code, &last) < 0)
		return;		/* text of a multi-line reply, or junk */
	memcpy(line, head, 4);
	memcpy(line + 4, SESSION_LONG_TEXT, sizeof(SESSION_LONG_TEXT));
	session_reply_line(s, p, line, strlen(line), true, now_ms, out);
}
