/* session_active: active mode (PORT, EPRT) of a session (session.c reads
 * the lines and pairs each reply with its command). The server's data
 * connection to the address the client named gets a pinhole only when
 * the policy allows it and, with active-open = reply, the server answers
 * the command 200 (session_active_reply). With active-open = command the
 * pinhole opens as the command is read, before the server sees it, and
 * the reply keeps or removes it (session_active_command,
 * session_active_settle). On a NATed control connection the pinhole is
 * translated as the control connection is (doc/nat.md). */
#include <string.h>

#include "session.h"
#include "session_internal.h"

/* An approved active pinhole on a NATed control connection (doc/nat.md
 * 2.1, 2.2): the server's data connection is translated like the
 * control connection, in the reply direction, and lands where the client
 * listens. With DNAT alone it seems to come from the address the client
 * dialled. A masqueraded client's PORT/EPRT that reached the server
 * rewritten to name the client as the server sees it (nat_client,
 * session_command_rewritten) has the server connect there. One that was
 * not rewritten is left plain: the pinhole is for what the server was
 * told. */
static void session_active_nat(const struct session *s,
			       const struct session_command *cmd,
			       struct session_action *a)
{
	bool masqueraded = !inet_addr_equal(&s->client, &s->nat_client);

	if (!s->nat || (masqueraded && !cmd->rewritten))
		return;
	a->nat = (struct flow_nat){ true, a->data.dst, a->data.dport };
	a->nat_dir = SESSION_DIR_REPLY;
	a->data.dst = s->nat_client;
	if (masqueraded)
		a->data.dport = cmd->nat_port;
}

/* The action a PORT/EPRT makes, refused until judged. */
static void session_active_init(const struct session_command *cmd,
				enum session_direction dir,
				struct session_action *act)
{
	memset(act, 0, sizeof(*act));
	act->kind = SESSION_ACTION_PINHOLE_REFUSED;
	act->direction = dir;
	act->active = true;
	act->data.dst = cmd->announced;
	act->data.dport = cmd->announced_port;
	memcpy(act->command, cmd->text, sizeof(act->command));
}

/* The policy's verdict on a PORT/EPRT, all but the server's answer:
 * act->reason (and act->detail when the reason needs one). */
static void session_active_judge(struct session *s, const struct policy *p,
				 const struct session_command *cmd,
				 uint64_t now_ms, struct session_action *act)
{
	if (s->epsv_all) {
		act->reason = POLICY_REFUSE_EPSV_ALL;
	} else if (cmd->announced.family == 0) {
		act->reason = POLICY_REFUSE_MALFORMED_COMMAND;
		session_str(act->detail, cmd->why);
	} else {
		act->reason = policy_check_active(p, &s->real_server, &s->client,
						  &cmd->announced,
						  cmd->announced_port,
						  session_pinholes_live(s, now_ms));
	}
}

/* An allowed PORT/EPRT becomes an open, if a record can be kept: the
 * server (from port 20 where the policy says so) to the client, with the
 * NAT of a NATed control connection. */
static void session_active_allow(struct session *s, const struct policy *p,
				 const struct session_command *cmd,
				 struct session_action *act)
{
	session_allow(s, act);
	if (act->kind != SESSION_ACTION_PINHOLE_OPEN)
		return;
	act->data.src = s->real_server;
	act->data.sport = policy_active_source_port(p, &s->real_server);
	session_active_nat(s, cmd, act);
}

/* The final reply to a PORT or EPRT. RFC 959 and RFC 2428 answer a
 * successful one with 200; only then does the server connect, to the
 * address the client named, so only then is a pinhole worth having. */
void session_active_reply(struct session *s, const struct policy *p,
			  int code, const char *line, size_t len,
			  bool tainted, const struct session_command *cmd,
			  uint64_t now_ms, struct session_actions *out)
{
	struct session_action act;

	if (code == 200)
		session_remove_all(s, SESSION_REMOVE_SUPERSEDED,
				   SESSION_DIR_REPLY, cmd->text, code, now_ms,
				   out);
	session_active_init(cmd, SESSION_DIR_REPLY, &act);
	act.reply_code = code;
	session_text(act.reply, line, len);
	session_active_judge(s, p, cmd, now_ms, &act);
	if (act.reason == POLICY_ALLOW && (code != 200 || tainted)) {
		act.reason = POLICY_REFUSE_NOT_ACCEPTED;
		if (tainted)
			session_str(act.detail, "reply line rejected");
	}
	session_active_allow(s, p, cmd, &act);
	session_open(s, p, &act, now_ms, out);
}

/* The daemon's rewrite of this command, decided before the packet
 * (session_command_rewrite_next), if it is the line meant. */
static void session_active_rewrite_take(struct session *s,
					struct session_command *cmd)
{
	if (!s->rewrite_next.on || cmd->announced.family == 0 ||
	    cmd->announced_port != s->rewrite_next.port ||
	    !inet_addr_equal(&cmd->announced, &s->client))
		return;
	cmd->rewritten = true;
	cmd->nat_port = s->rewrite_next.nat_port;
	s->rewrite_next.on = false;
}

/* active-open = command: a PORT/EPRT decided as it is read, by every
 * check of session_active_reply but the server's answer; an open is
 * handed out now (the daemon installs it before it releases the
 * command) and its record kept with the command, for its reply to keep
 * or remove (session_active_settle). A refusal only reports the line. */
void session_active_command(struct session *s, const struct policy *p,
			    struct session_command *cmd, uint64_t now_ms,
			    struct session_actions *out)
{
	struct session_action act;

	cmd->at_command = true;
	session_active_rewrite_take(s, cmd);
	session_active_init(cmd, SESSION_DIR_ORIGINAL, &act);
	session_active_judge(s, p, cmd, now_ms, &act);
	session_active_allow(s, p, cmd, &act);
	cmd->pinhole_id = session_open(s, p, &act, now_ms, out);
}

/* active-open = command: the final reply to a PORT/EPRT decided at the
 * command. 200: its pinhole stays and every older one is superseded, as
 * in session_active_reply. Anything else: its pinhole goes, and the
 * older ones stay (RFC 959: a refused PORT leaves the data endpoint as
 * it was); so does its pinhole at a 200 in a line a strict rule
 * refused (which still supersedes, as in reply mode). */
void session_active_settle(struct session *s, int code, bool tainted,
			   const struct session_command *cmd,
			   uint64_t now_ms, struct session_actions *out)
{
	if (code == 200)
		session_remove_except(s, SESSION_REMOVE_SUPERSEDED,
				      SESSION_DIR_REPLY, cmd->text, code,
				      cmd->pinhole_id, now_ms, out);
	if (code != 200 || tainted)
		session_remove_one(s, cmd->pinhole_id,
				   SESSION_REMOVE_REFUSED_BY_SERVER, cmd->text,
				   code, now_ms, out);
}
