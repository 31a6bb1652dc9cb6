/* role: this node's role in a gateway pair (doc/ha.md), primary or
 * backup, set by `ftpgatectl role primary|backup` from the failover
 * script. It changes no verdict and no pinhole: it says what a removal
 * from this node's kernel means. A backup's kernel table is flushed
 * (conntrackd -t) while the peer carries the connections on, so a control
 * connection or pinhole the kernel removes then was handed over, not
 * ended: it is audited and counted as "handed-over", and a report over
 * both nodes' logs does not count it twice. ftpgated starts as primary. */

#include <errno.h>

#include "daemon.h"
#include "log.h"
#include "report.h"

static const char *role_name(bool backup)
{
	return backup ? "backup" : "primary";
}

/* Audit and log a change of role. */
static void role_changed(struct daemon *d, bool previous)
{
	struct audit_line l;

	audit_begin(&l, "role-changed", audit_wall_ms());
	json_kv_str(&l.json, "role", role_name(d->backup));
	json_kv_str(&l.json, "previous", role_name(previous));
	json_kv_uint(&l.json, "sessions_tracked", session_table_count(d->sessions));
	json_kv_uint(&l.json, "pinholes_recorded", pinhole_table_count(d->pinholes));
	audit_end(&l);
	auditlog_write(d, &l);
	log_msg(LOG_NOTICE, "role: %s (was %s): %s", role_name(d->backup), role_name(previous),
		d->backup ? "control connections and pinholes removed from this kernel from now on were handed over to the peer (audited handed-over)" :
			    "removals from this kernel are ends again");
}

/* Become the backup (true) or the primary (false); a change is audited
 * and logged, the same role again is nothing. */
static void role_set(struct daemon *d, bool backup, uint64_t now_ms)
{
	bool previous = d->backup;

	if (previous == backup)
		return;
	d->backup = backup;
	d->role_changed_ms = now_ms;
	role_changed(d, previous);
}

int role_answer(struct daemon *d, const struct ctl_request *req,
		struct strbuf *body, uint64_t now_ms)
{
	bool previous = d->backup, set = req->role != CTL_ROLE_SHOW;
	uint64_t since;

	if (set && !req->privileged) {
		strbuf_puts(body, "role: only root (or ftpgated's own user) may set the role; members of the control socket's group may show it (ftpgatectl role)");
		return -EPERM;
	}
	if (set)
		role_set(d, req->role == CTL_ROLE_BACKUP, now_ms);
	since = d->role_changed_ms ? d->role_changed_ms : d->start_ms;
	if (req->json) {
		struct json j;

		json_init(&j, body);
		json_object_begin(&j);
		json_kv_str(&j, "role", role_name(d->backup));
		json_kv_str(&j, "previous", set ? role_name(previous) : NULL);
		json_kv_double(&j, "for_s", (double)(now_ms - since) / 1000.0);
		json_object_end(&j);
		strbuf_putc(body, '\n');
	} else if (set) {
		strbuf_printf(body, "role: %s (was %s)\n", role_name(d->backup), role_name(previous));
	} else {
		char t[16];

		report_duration(now_ms - since, t, sizeof(t));
		strbuf_printf(body, "role: %s for %s\n", role_name(d->backup), t);
	}
	return 0;
}

void role_session_ended(struct daemon *d, struct session_entry *e, uint64_t now_ms)
{
	if (d->backup)
		d->stats.sessions_handed_over++;
	auditlog_session_ended(d, e, d->backup ? "handed-over" : "conntrack-destroyed", now_ms);
}

enum pinhole_close role_pinhole_gone(const struct pinhole *p, enum pinhole_close how)
{
	if (p->gone_on_backup && (how == PINHOLE_CLOSE_SESSION || how == PINHOLE_CLOSE_KERNEL))
		return PINHOLE_CLOSE_HANDED_OVER;
	return how;
}
