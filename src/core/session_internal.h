/* session_internal.h: what the files of the session module share:
 * session.c (lines, the command queue, reply dispatch, the session's
 * pinhole records) and session_active.c (active mode: PORT, EPRT).
 * Private to src/core/session*.c; the contract for everyone else is
 * include/session.h. */
#ifndef FTPGATE_SESSION_INTERNAL_H
#define FTPGATE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* session.c */

/* Wire bytes into a log field (SESSION_TEXT_MAX): printable, "..." if cut. */
void session_text(char *dst, const char *src, size_t len);
/* session_text of a C string; NULL reads as "". */
void session_str(char *dst, const char *src);
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
