/* auditlog: the daemon's audit log (the JSON lines of doc/audit.md,
 * formatted by src/core/audit.c): opening, reopening and writing it, with
 * failures counted and said loudly, and the events of the daemon, of its
 * sessions and of pinholes opened or refused by the kernel. Each session
 * action's audit line is the action table's (action.c); what became of a
 * pinhole is learnt from the kernel (pinholes.c). Part of the daemon
 * (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define AUDITLOG_COMPLAIN_MS 10000	/* repeat the loud message this often */

/* ---- the file --------------------------------------------------------- */

/* The default log's directory (/var/log/ftpgate) is ours to create. */
static void auditlog_mkdir_parent(const char *path)
{
	char dir[CONFIG_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		log_msg(LOG_WARNING, "cannot create %s: %s", dir, strerror(errno));
}

int auditlog_open(struct daemon *d)
{
	char err[512] = "";
	const char *path = d->config.audit_log;
	int rc;

	if (path[0] == '\0')
		path = d->foreground ? "stdout" : CONFIG_DEFAULT_AUDIT_LOG;
	snprintf(d->audit_path, sizeof(d->audit_path), "%s", path);
	if (strcmp(path, CONFIG_DEFAULT_AUDIT_LOG) == 0)
		auditlog_mkdir_parent(path);
	rc = audit_open(&d->audit, path, err, sizeof(err));
	if (rc < 0)
		log_msg(LOG_ERR, "%s; audit events are lost (and counted) until it can be opened: fix it and send SIGHUP",
			err);
	else if (strcmp(path, "none") == 0)
		log_msg(LOG_NOTICE, "audit log disabled (audit-log = none)");
	return rc;
}

void auditlog_reopen(struct daemon *d)
{
	struct audit_log old = d->audit;
	char err[512] = "";
	const char *path = d->config.audit_log;
	int rc;

	if (path[0] == '\0')
		path = d->foreground ? "stdout" : CONFIG_DEFAULT_AUDIT_LOG;
	if (strcmp(path, d->audit_path) == 0) {
		rc = audit_reopen(&d->audit, err, sizeof(err));
	} else {
		audit_close(&d->audit);
		snprintf(d->audit_path, sizeof(d->audit_path), "%s", path);
		rc = audit_open(&d->audit, path, err, sizeof(err));
		/* the counters are the daemon's, not the file's */
		d->audit.written = old.written;
		d->audit.write_errors = old.write_errors;
		d->audit.lost = old.lost;
		d->audit.lost_pending = old.lost_pending;
		if (rc == 0)
			log_msg(LOG_NOTICE, "audit log now %s", path);
	}
	if (rc < 0)
		log_msg(LOG_ERR, "%s; audit events are lost (and counted) until it can be opened",
			err);
}

void auditlog_close(struct daemon *d)
{
	audit_close(&d->audit);
}

void auditlog_write(struct daemon *d, struct audit_line *l)
{
	uint64_t lost_before = d->audit.lost_pending;
	uint64_t now = daemon_now_ms();
	int rc = audit_write(&d->audit, l);

	d->stats.audit_events = d->audit.written;
	d->stats.audit_write_errors = d->audit.write_errors;
	d->stats.audit_events_lost = d->audit.lost;
	if (rc < 0) {
		/* Loud, but not a line per lost event. */
		if (!d->audit_failing || now - d->audit_complained_ms >= AUDITLOG_COMPLAIN_MS) {
			log_msg(LOG_ERR, "AUDIT LOG NOT WRITTEN: %s: %s; %llu audit events lost so far (ftpgatectl stats: audit_events_lost_total); fix it, then SIGHUP reopens it",
				d->audit_path, strerror(-rc),
				(unsigned long long)d->audit.lost);
			d->audit_complained_ms = now;
		}
		d->audit_failing = true;
		return;
	}
	if (d->audit_failing) {
		log_msg(LOG_WARNING, "audit log %s written again; %llu events were lost (an audit-lost event records it)",
			d->audit_path, (unsigned long long)lost_before);
		d->audit_failing = false;
	}
}

/* ---- daemon and sessions -------------------------------------------- */

void auditlog_control(const struct session_entry *e, struct audit_control *c)
{
	memset(c, 0, sizeof(*c));
	c->client = e->session.client;
	c->server = e->session.server;
	c->client_port = e->session.client_port;
	c->server_port = e->session.server_port;
	c->conntrack_id = e->conntrack_id;
}

void auditlog_daemon_started(struct daemon *d, unsigned adopted)
{
	struct audit_line l;

	audit_begin(&l, "daemon-started", audit_wall_ms());
	json_kv_str(&l.json, "version", DAEMON_VERSION);
	json_kv_int(&l.json, "pid", (int64_t)getpid());
	json_kv_str(&l.json, "helper", CONFIG_HELPER_NAME);
	json_kv_uint(&l.json, "queue", d->config.queue_number);
	json_kv_str(&l.json, "config", d->config_path);
	json_kv_uint(&l.json, "expect_timeout_s", d->config.policy.expect_timeout_s);
	json_kv_uint(&l.json, "pinholes_adopted", adopted);
	audit_end(&l);
	auditlog_write(d, &l);
}

void auditlog_daemon_stopped(struct daemon *d)
{
	struct audit_line l;

	audit_begin(&l, "daemon-stopped", audit_wall_ms());
	json_kv_uint(&l.json, "packets", d->stats.packets);
	json_kv_uint(&l.json, "pinholes_opened", d->stats.pinholes_opened);
	json_kv_uint(&l.json, "pinholes_refused", stats_refused_total(&d->stats));
	json_kv_uint(&l.json, "sessions_tracked", session_table_count(d->sessions));
	/* Pinholes outlive the daemon; a restarted one adopts them. */
	json_kv_uint(&l.json, "pinholes_recorded", pinhole_table_count(d->pinholes));
	json_kv_uint(&l.json, "audit_events_lost", d->audit.lost);
	audit_end(&l);
	auditlog_write(d, &l);
}

void auditlog_config_reloaded(struct daemon *d, bool ok, const char *error)
{
	struct audit_line l;

	audit_begin(&l, "config-reloaded", audit_wall_ms());
	json_kv_str(&l.json, "config", d->config_path);
	json_kv_bool(&l.json, "ok", ok);
	json_kv_str(&l.json, "error", ok ? NULL : error);
	audit_end(&l);
	auditlog_write(d, &l);
}

void auditlog_session_started(struct daemon *d, struct session_entry *e,
			      const char *how)
{
	struct audit_control c;
	struct audit_line l;

	d->stats.sessions_started++;
	auditlog_control(e, &c);
	audit_fmt_session(&l, audit_wall_ms(), "session-started", &c, how, NULL);
	auditlog_write(d, &l);
}

void auditlog_session_ended(struct daemon *d, struct session_entry *e,
			    const char *reason, uint64_t now_ms)
{
	struct audit_control c;
	struct audit_line l;

	d->stats.sessions_ended++;
	if (d->grant_hooks)
		d->grant_hooks->session_ended(d, e, reason, now_ms);
	auditlog_control(e, &c);
	audit_fmt_session_ended(&l, audit_wall_ms(), &c, reason,
				now_ms > e->started_ms ? now_ms - e->started_ms : 0,
				e->pinholes_opened, e->pinholes_refused);
	auditlog_write(d, &l);
}

void auditlog_session_untracked(struct daemon *d, const struct queue_packet *qp,
				const char *reason)
{
	struct audit_control c = {
		.client = qp->orig.src, .server = qp->orig.dst,
		.client_port = qp->orig.sport, .server_port = qp->orig.dport,
		.conntrack_id = qp->conntrack_id,
	};
	struct audit_line l;

	audit_fmt_session(&l, audit_wall_ms(), "session-untracked", &c, reason,
			  "its traffic passes, but it gets no pinholes");
	auditlog_write(d, &l);
}

/* ---- pinholes and lost events ----------------------------------------- */

/* After the verdict: the pinhole-opened line of a recorded pinhole. */
void auditlog_pinhole_opened(struct daemon *d, const struct pinholes_opened *o)
{
	struct audit_line l;

	audit_fmt_pinhole_opened(&l, audit_wall_ms(), o->now_ms, &o->pinhole,
				 o->refreshed);
	auditlog_write(d, &l);
	if (!o->recorded)
		log_msg(LOG_WARNING, "pinhole registry full (%u): what becomes of this pinhole is not audited",
			pinhole_table_count(d->pinholes));
}

void auditlog_pinhole_failed(struct daemon *d, struct session_entry *e,
			     const struct session_action *a, const char *error)
{
	struct flow expect;
	struct audit_control c;
	struct audit_line l;

	auditlog_control(e, &c);
	session_action_flow(a, &expect);
	audit_fmt_pinhole_failed(&l, audit_wall_ms(), &c, &expect, a->command,
				 a->reply, a->reply_code, error);
	auditlog_write(d, &l);
}

void auditlog_events_lost(struct daemon *d, const char *source, uint64_t count)
{
	struct audit_line l;

	audit_fmt_events_lost(&l, audit_wall_ms(), source, count);
	auditlog_write(d, &l);
}
