/* session_pinhole: the session's records of the pinholes it opened
 * (session.c reads the lines; session_reply.c and session_active.c decide
 * what opens). A pinhole is recorded as it is handed to the daemon
 * (session_open), so that the session cap counts it; none opens without
 * room for its record (session_allow). A record follows a port the
 * daemon moved (session_pinhole_moved) and is forgotten when its
 * expectation expires (session_pinholes_live), when the daemon could not
 * install it (session_pinhole_failed), or when a later reply, the server's
 * refusal or the control connection closing removes it
 * (session_remove_except, session_remove_one). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "session_internal.h"

/* Forget pinholes whose expectation has timed out (the kernel removed
 * them) and count the rest. Order is kept: oldest first. */
unsigned session_pinholes_live(struct session *s, uint64_t now_ms)
{
	unsigned i, n = 0;

	for (i = 0; i < s->pinhole_count; i++)
		if (s->pinhole[i].expiry_ms > now_ms)
			s->pinhole[n++] = s->pinhole[i];
	s->pinhole_count = n;
	return n;
}

const char *session_remove_cause_text(enum session_remove_cause c)
{
	switch (c) {
	case SESSION_REMOVE_SUPERSEDED:
		return "superseded by a newer data endpoint";
	case SESSION_REMOVE_TRANSFER_DONE:
		return "the transfer command finished";
	case SESSION_REMOVE_ABORT:
		return "ABOR accepted";
	case SESSION_REMOVE_REINITIALIZE:
		return "REIN accepted";
	case SESSION_REMOVE_EPSV_ALL:
		return "EPSV ALL accepted";
	case SESSION_REMOVE_QUIT:
		return "QUIT accepted";
	case SESSION_REMOVE_CONTROL_CLOSED:
		return "the control connection is closing";
	case SESSION_REMOVE_REFUSED_BY_SERVER:
		return "the server did not accept the command that opened it";
	case SESSION_REMOVE_NOT_REWRITTEN:
		return "the command that opened it could not be sent rewritten";
	case SESSION_REMOVE_COUNT:
		break;
	}
	return "unknown";
}

/* Whether the pinhole record `id` belongs to a command still waiting
 * for its reply (opened at the command, active-open = command): that
 * command's reply decides it, nothing before. */
static bool session_pinhole_held(const struct session *s, uint32_t id)
{
	unsigned i;

	for (i = 0; i < s->pending_count; i++)
		if (s->pending[i].pinhole_id == id)
			return true;
	return false;
}

/* Ask the daemon to remove the pinhole of record i (it is forgotten). */
static bool session_remove_record(struct session *s, unsigned i,
				  enum session_remove_cause cause,
				  enum session_direction dir, const char *command,
				  int reply_code, struct session_actions *out)
{
	const struct session_pinhole *ph = &s->pinhole[i];
	struct session_action *a;

	a = session_action_new(out, SESSION_ACTION_PINHOLE_REMOVE, dir);
	if (!a)
		return false;
	a->cause = cause;
	a->active = ph->active;
	a->data = ph->data;
	a->reply_code = reply_code;
	session_str(a->command, command);
	session_str(a->detail, session_remove_cause_text(cause));
	return true;
}

/* Every pinhole of the session but `keep` (a record id; 0: none) has
 * served its purpose: ask the daemon to remove each one. An unused
 * expectation is all that goes; a data connection that already used its
 * pinhole is a conntrack of its own and is not touched. A pinhole whose
 * action does not fit in `out` is kept (and expires on its own), and so
 * is one a command still waiting for its reply opened (unless the
 * control connection closes). */
void session_remove_except(struct session *s,
			   enum session_remove_cause cause,
			   enum session_direction dir,
			   const char *command, int reply_code,
			   uint32_t keep, uint64_t now_ms,
			   struct session_actions *out)
{
	unsigned i, kept = 0;

	session_pinholes_live(s, now_ms);
	for (i = 0; i < s->pinhole_count; i++) {
		uint32_t id = s->pinhole[i].id;

		if (id == keep ||
		    (cause != SESSION_REMOVE_CONTROL_CLOSED &&
		     session_pinhole_held(s, id)) ||
		    !session_remove_record(s, i, cause, dir, command,
					   reply_code, out))
			s->pinhole[kept++] = s->pinhole[i];
	}
	s->pinhole_count = kept;
}

void session_remove_all(struct session *s, enum session_remove_cause cause,
			enum session_direction dir, const char *command,
			int reply_code, uint64_t now_ms,
			struct session_actions *out)
{
	session_remove_except(s, cause, dir, command, reply_code, 0, now_ms,
			      out);
}

/* Ask the daemon to remove the one pinhole of record `id`, if it is
 * still live (the daemon may have failed to install it, or it expired). */
void session_remove_one(struct session *s, uint32_t id,
			enum session_remove_cause cause,
			const char *command, int reply_code,
			uint64_t now_ms, struct session_actions *out)
{
	unsigned i;

	session_pinholes_live(s, now_ms);
	for (i = 0; id != 0 && i < s->pinhole_count; i++) {
		if (s->pinhole[i].id != id)
			continue;
		if (session_remove_record(s, i, cause, SESSION_DIR_REPLY,
					  command, reply_code, out)) {
			memmove(&s->pinhole[i], &s->pinhole[i + 1],
				(s->pinhole_count - i - 1) * sizeof(s->pinhole[0]));
			s->pinhole_count--;
		}
		return;
	}
}

/* Record an approved pinhole and hand it to the daemon: the id of its
 * record, or 0 (a refusal, or no room). A refusal of an unsolicited reply,
 * or of a command (active-open = command), only reports its line. */
uint32_t session_open(struct session *s, const struct policy *p,
		      const struct session_action *act, uint64_t now_ms,
		      struct session_actions *out)
{
	struct session_pinhole *ph;
	struct session_action *a;

	a = session_action_add(out, act->kind, act->direction,
			       act->kind == SESSION_ACTION_PINHOLE_REFUSED &&
			       (act->reason == POLICY_REFUSE_UNSOLICITED ||
				act->direction == SESSION_DIR_ORIGINAL));
	if (!a)
		return 0;	/* not carried out, so not counted either */
	*a = *act;
	if (act->kind != SESSION_ACTION_PINHOLE_OPEN)
		return 0;
	ph = &s->pinhole[s->pinhole_count++];
	memset(ph, 0, sizeof(*ph));
	ph->data = act->data;
	ph->active = act->active;
	ph->expiry_ms = now_ms + (uint64_t)p->expect_timeout_s * 1000;
	/* ids wrap after 2^32 opens, long after any record is gone */
	if (++s->pinhole_last_id == 0)
		s->pinhole_last_id = 1;
	ph->id = s->pinhole_last_id;
	a->record_id = ph->id;
	return ph->id;
}

/* Room for one more pinhole record: 0, or -ENOSPC at the hard ceiling,
 * -ENOMEM when the heap fails. */
static int session_pinhole_room(struct session *s)
{
	struct session_pinhole *grown;
	unsigned n;

	if (s->pinhole_count < s->pinhole_capacity)
		return 0;
	if (s->pinhole_capacity >= SESSION_PINHOLES_MAX)
		return -ENOSPC;
	n = s->pinhole_capacity ? s->pinhole_capacity * 2 : 2;
	if (n > SESSION_PINHOLES_MAX)
		n = SESSION_PINHOLES_MAX;
	grown = realloc(s->pinhole, n * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	s->pinhole = grown;
	s->pinhole_capacity = n;
	return 0;
}

/* The verdict for an announcement the policy allowed, unless the hard
 * ceiling is reached or no record of the pinhole can be kept (then it is
 * not opened: an unrecorded pinhole would escape the cap). */
void session_allow(struct session *s, struct session_action *act)
{
	int r;

	if (act->reason != POLICY_ALLOW)
		return;
	r = session_pinhole_room(s);
	if (r < 0) {
		act->reason = POLICY_REFUSE_SESSION_CAP;
		if (r == -ENOMEM)
			session_str(act->detail, "out of memory");
		return;
	}
	act->kind = SESSION_ACTION_PINHOLE_OPEN;
}

void session_pinhole_moved(struct session *s,
			   const struct session_action *open, uint16_t port)
{
	unsigned i;

	if (open->kind != SESSION_ACTION_PINHOLE_OPEN || open->record_id == 0)
		return;
	for (i = 0; i < s->pinhole_count; i++)
		if (s->pinhole[i].id == open->record_id)
			s->pinhole[i].data.dport = port;
}

void session_pinhole_failed(struct session *s,
			    const struct session_action *open)
{
	unsigned i;

	if (open->kind != SESSION_ACTION_PINHOLE_OPEN || open->record_id == 0)
		return;
	for (i = 0; i < s->pinhole_count; i++) {
		if (s->pinhole[i].id != open->record_id)
			continue;
		memmove(&s->pinhole[i], &s->pinhole[i + 1],
			(s->pinhole_count - i - 1) * sizeof(s->pinhole[0]));
		s->pinhole_count--;
		return;
	}
}
