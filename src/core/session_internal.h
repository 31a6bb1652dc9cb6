/* session_internal.h: what the files of the session module share:
 * session.c (lines, streams, the command queue, the action list),
 * session_pinhole.c (the session's pinhole records), session_reply.c
 * (replies: passive mode, the greeting, final replies) and
 * session_active.c (active mode: PORT, EPRT). Private to
 * src/core/session*.c; the contract for everyone else is
 * include/session.h. */
#ifndef FTPGATE_SESSION_INTERNAL_H
#define FTPGATE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* Placeholder texts that session.c and session_reply.c both write. */
#define SESSION_XSTR(x) SESSION_STR(x)
#define SESSION_STR(x) #x
#define SESSION_FORGOTTEN_TEXT \
	"(forgotten: more than " SESSION_XSTR(SESSION_PENDING_MAX) \
	" commands pipelined)"
#define SESSION_LONG_TEXT "(over-long line)"

/* session.c */

/* Wire bytes into a log field (SESSION_TEXT_MAX): printable, "..." if cut. */
void session_text(char *dst, const char *src, size_t len);
/* session_text of a C string; NULL reads as "". */
void session_str(char *dst, const char *src);
/* Append a cleared action (`report`: report-only) to `out`; NULL: counted. */
struct session_action *session_action_add(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir,
					  bool report);
/* session_action_add of an action the daemon carries out; NULL: no room. */
struct session_action *session_action_new(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir);
/* session_action_add of a report-only action; NULL past the packet's bound. */
struct session_action *session_report_new(struct session_actions *out,
					  enum session_action_kind kind,
					  enum session_direction dir);
/* Count a line of `dir` refused by `rule`, report it; `line` may be NULL. */
void session_reject(enum session_direction dir, const char *line,
		    size_t len, enum session_line_rule rule,
		    const char *what, const char *why,
		    struct session_actions *out);
/* Take into `cmd` the command the next final reply answers; false: none. */
bool session_pop(struct session *s, struct session_command *cmd);

/* session_pinhole.c */

/* Forget the expired pinhole records; the number still live. */
unsigned session_pinholes_live(struct session *s, uint64_t now_ms);
/* Remove live pinholes but `keep` (0: none) and held ones (unless closed). */
void session_remove_except(struct session *s,
			   enum session_remove_cause cause,
			   enum session_direction dir,
			   const char *command, int reply_code,
			   uint32_t keep, uint64_t now_ms,
			   struct session_actions *out);
/* session_remove_except keeping none. */
void session_remove_all(struct session *s, enum session_remove_cause cause,
			enum session_direction dir, const char *command,
			int reply_code, uint64_t now_ms,
			struct session_actions *out);
/* Remove the one pinhole of record `id` (0: none), if it is still live. */
void session_remove_one(struct session *s, uint32_t id,
			enum session_remove_cause cause,
			const char *command, int reply_code,
			uint64_t now_ms, struct session_actions *out);
/* Hand `act` to the daemon, recorded if it opens: its record id, or 0. */
uint32_t session_open(struct session *s, const struct policy *p,
		      const struct session_action *act, uint64_t now_ms,
		      struct session_actions *out);
/* A POLICY_ALLOW act opens, unless no record fits (SESSION_CAP). */
void session_allow(struct session *s, struct session_action *act);

/* session_reply.c */

/* A reply line (no line end) checked, paired with its command, acted on. */
void session_reply(struct session *s, const struct policy *p,
		   const char *line, size_t len, uint64_t now_ms,
		   struct session_actions *out);
/* An over-long reply line (rejected), `head` its first `len` bytes: pairs. */
void session_reply_long(struct session *s, const struct policy *p,
			const char *head, size_t len, uint64_t now_ms,
			struct session_actions *out);

/* session_active.c */

/* active-open = reply: the final reply to PORT/EPRT `cmd` opens or refuses. */
void session_active_reply(struct session *s, const struct policy *p,
			  int code, const char *line, size_t len,
			  bool tainted, const struct session_command *cmd,
			  uint64_t now_ms, struct session_actions *out);
/* active-open = command: `cmd` judged as read, its record in pinhole_id. */
void session_active_command(struct session *s, const struct policy *p,
			    struct session_command *cmd, uint64_t now_ms,
			    struct session_actions *out);
/* active-open = command: `cmd`'s reply keeps (200) or drops its pinhole. */
void session_active_settle(struct session *s, int code, bool tainted,
			   const struct session_command *cmd,
			   uint64_t now_ms, struct session_actions *out);

#endif
