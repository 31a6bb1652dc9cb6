/* trail: the daemon's audit trail. Every session and every pinhole gets
 * its events in the audit log, and each pinhole's end is learnt from the
 * kernel, not guessed:
 *
 *  - used: a connection the kernel created from the expectation (a NEW
 *    event carrying the master's tuple, matching the pinhole's tuple);
 *  - expired: the kernel no longer lists it, its time is up and no data
 *    connection came (the kernel reaps expired expectations lazily, so we
 *    ask rather than wait for the destroy event);
 *  - removed: its destroy event came early and no data connection
 *    followed; why depends on who removed it (ftpgated, or the kernel
 *    with the control connection's conntrack, or someone else).
 *
 * When kernel events were lost (ENOBUFS) the pinholes open at the time
 * end as "unknown-events-lost" rather than with a reason we cannot know. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define TRAIL_COMPLAIN_MS 10000		/* repeat the loud message this often */
#define TRAIL_CHECKS_PER_TICK 256	/* kernel lookups per second, at most */

/* ---- writing ------------------------------------------------------------ */

/* The default log's directory (/var/log/ftpgate) is ours to create. */
static void trail_mkdir_parent(const char *path)
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

/* net.netfilter.nf_conntrack_events = 0 stops the events pinhole
 * outcomes are learnt from (1 delivers them; 2, the default in Linux 6.1,
 * delivers them for connections created while someone listens). Read in
 * our network namespace. */
void trail_check_events(struct daemon *d)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_events", "re");
	int v = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	d->ct_events_off = v == 0;
	if (d->ct_events_off)
		log_msg(LOG_WARNING, "net.netfilter.nf_conntrack_events is 0: the kernel sends no conntrack events, so what becomes of each pinhole cannot be learnt; the audit log will say unknown-events-lost. Set it to 1 or 2 (then SIGHUP)");
}

int trail_open(struct daemon *d)
{
	char err[512] = "";
	const char *path = d->config.audit_log;
	int rc;

	if (path[0] == '\0')
		path = d->foreground ? "stdout" : CONFIG_DEFAULT_AUDIT_LOG;
	snprintf(d->audit_path, sizeof(d->audit_path), "%s", path);
	if (strcmp(path, CONFIG_DEFAULT_AUDIT_LOG) == 0)
		trail_mkdir_parent(path);
	rc = audit_open(&d->audit, path, err, sizeof(err));
	if (rc < 0)
		log_msg(LOG_ERR, "%s; audit events are lost (and counted) until it can be opened: fix it and send SIGHUP",
			err);
	else if (strcmp(path, "none") == 0)
		log_msg(LOG_NOTICE, "audit log disabled (audit-log = none)");
	return rc;
}

void trail_reopen(struct daemon *d)
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

void trail_close(struct daemon *d)
{
	audit_close(&d->audit);
}

void trail_write(struct daemon *d, struct audit_line *l)
{
	uint64_t lost_before = d->audit.lost_pending;
	uint64_t now = daemon_now_ms();
	int rc = audit_write(&d->audit, l);

	d->stats.audit_events = d->audit.written;
	d->stats.audit_write_errors = d->audit.write_errors;
	d->stats.audit_events_lost = d->audit.lost;
	if (rc < 0) {
		/* Loud, but not a line per lost event. */
		if (!d->audit_failing || now - d->audit_complained_ms >= TRAIL_COMPLAIN_MS) {
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

/* ---- helpers ------------------------------------------------------------ */

static void trail_control(const struct session_entry *e, struct audit_control *c)
{
	memset(c, 0, sizeof(*c));
	c->client = e->session.client;
	c->server = e->session.server;
	c->client_port = e->session.client_port;
	c->server_port = e->session.server_port;
	c->conntrack_id = e->conntrack_id;
}

/* ---- daemon and sessions -------------------------------------------- */

void trail_daemon_started(struct daemon *d, unsigned adopted)
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
	trail_write(d, &l);
}

void trail_daemon_stopped(struct daemon *d)
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
	trail_write(d, &l);
}

void trail_config_reloaded(struct daemon *d, bool ok, const char *error)
{
	struct audit_line l;

	audit_begin(&l, "config-reloaded", audit_wall_ms());
	json_kv_str(&l.json, "config", d->config_path);
	json_kv_bool(&l.json, "ok", ok);
	json_kv_str(&l.json, "error", ok ? NULL : error);
	audit_end(&l);
	trail_write(d, &l);
}

void trail_session_started(struct daemon *d, struct session_entry *e, bool syn)
{
	struct audit_control c;
	struct audit_line l;

	d->stats.sessions_started++;
	trail_control(e, &c);
	audit_fmt_session(&l, audit_wall_ms(), "session-started", &c,
			  syn ? "new-connection" : "picked-up-mid-stream", NULL);
	trail_write(d, &l);
}

void trail_session_ended(struct daemon *d, struct session_entry *e,
			 const char *reason, uint64_t now_ms)
{
	struct audit_control c;
	struct audit_line l;

	d->stats.sessions_ended++;
	if (d->grant_hooks)
		d->grant_hooks->session_ended(d, e, reason, now_ms);
	trail_control(e, &c);
	audit_fmt_session_ended(&l, audit_wall_ms(), &c, reason,
				now_ms > e->started_ms ? now_ms - e->started_ms : 0,
				e->pinholes_opened, e->pinholes_refused);
	trail_write(d, &l);
}

void trail_session_untracked(struct daemon *d, const struct queue_packet *qp,
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
	trail_write(d, &l);
}

/* ---- pinholes ----------------------------------------------------------- */

static void trail_close_pinhole(struct daemon *d, struct pinhole *p,
				enum pinhole_close how,
				const struct flow *data,
				uint32_t data_id, uint64_t now_ms)
{
	struct audit_line l;

	if ((unsigned)how < PINHOLE_CLOSE_COUNT)
		d->stats.pinholes_closed[how]++;
	audit_fmt_pinhole_closed(&l, audit_wall_ms(), now_ms, p, how, data, data_id);
	trail_write(d, &l);
	log_msg(LOG_INFO, "pinhole %llu to port %u: %s",
		(unsigned long long)p->id, p->expect.dport, pinhole_close_name(how));
	pinhole_remove(d->pinholes, p);
}

/* A pinhole whose destroy event came and whose data connection did not:
 * decide now. */
static void trail_decide_gone(struct daemon *d, struct pinhole *p, uint64_t now_ms)
{
	int alive = 1;

	if (!p->removing && !p->uncertain &&
	    p->gone_ms + PINHOLE_EXPIRY_SLACK_MS < p->expiry_ms) {
		alive = d->kernel->conntrack_exists(d, &p->master);
		if (alive < 0)
			alive = 1;	/* cannot tell: do not blame the session */
	}
	trail_close_pinhole(d, p, pinhole_gone_reason(p, alive != 0), NULL, 0, now_ms);
}

/* Before the verdict: record an installed pinhole in the registry. A
 * previous expectation for the same tuple that the kernel destroyed (used,
 * most likely) is settled first, from its events, which may write audit
 * lines of that earlier pinhole. This must precede the verdict: once the
 * reply is out, the data connection's events could be read before the
 * pinhole they belong to is recorded. o keeps what the pinhole-opened
 * line will say. */
void trail_pinhole_record(struct daemon *d, struct session_entry *e,
			  const struct session_action *a, uint32_t timeout_s,
			  struct trail_opened *o)
{
	struct flow expect, master;
	struct pinhole *p;
	uint64_t now = daemon_now_ms();
	bool is_new = false;

	o->now_ms = now;
	e->pinholes_opened++;
	if (!a->active)
		pressure_announce(&d->pressure, &e->session.real_server, a->port, now);
	session_action_flow(a, &expect);
	session_control_flow(&e->session, &master);
	trail_drain_events(d);
	p = pinhole_find(d->pinholes, &expect, &master);
	if (p != NULL && p->state == PINHOLE_GONE)
		trail_decide_gone(d, p, now);
	p = pinhole_add(d->pinholes, &expect, &master, &is_new);
	if (p == NULL) {
		struct pinhole *tmp = &o->pinhole;

		/* Installed, but not recorded: still audited as opened. */
		d->stats.pinholes_unrecorded++;
		memset(tmp, 0, sizeof(*tmp));
		tmp->expect = expect;
		tmp->master = master;
		tmp->conntrack_id = e->conntrack_id;
		tmp->opened_ms = now;
		tmp->expiry_ms = now + (uint64_t)timeout_s * 1000;
		tmp->timeout_s = timeout_s;
		tmp->reply_code = a->reply_code;
		memcpy(tmp->command, a->command, sizeof(tmp->command));
		memcpy(tmp->reply, a->reply, sizeof(tmp->reply));
		o->recorded = false;
		o->refreshed = false;
		return;
	}
	if (is_new) {
		p->opened_ms = now;
		p->opened_wall_ms = audit_wall_ms();
		/* a control connection older than our event subscription
		 * sends no expectation events: poll its pinholes */
		p->poll = e->midstream;
		/* conntrack events switched off: no outcome can be proved */
		p->uncertain = d->ct_events_off;
	} else {
		d->stats.pinholes_refreshed++;
	}
	p->conntrack_id = e->conntrack_id;
	p->timeout_s = timeout_s;
	p->expiry_ms = now + (uint64_t)timeout_s * 1000;
	p->next_check_ms = 0;
	p->vanished = false;
	p->removing = false;
	p->remove_cause[0] = '\0';
	p->reply_code = a->reply_code;
	memcpy(p->command, a->command, sizeof(p->command));
	memcpy(p->reply, a->reply, sizeof(p->reply));
	/* as it is now: a later action of the same packet may refresh it */
	o->pinhole = *p;
	o->pinhole.next = NULL;
	o->recorded = true;
	o->refreshed = !is_new;
}

/* After the verdict: the pinhole-opened line of a recorded pinhole. */
void trail_pinhole_opened(struct daemon *d, const struct trail_opened *o)
{
	struct audit_line l;

	audit_fmt_pinhole_opened(&l, audit_wall_ms(), o->now_ms, &o->pinhole,
				 o->refreshed);
	trail_write(d, &l);
	if (!o->recorded)
		log_msg(LOG_WARNING, "pinhole registry full (%u): what becomes of this pinhole is not audited",
			pinhole_table_count(d->pinholes));
}

void trail_pinhole_failed(struct daemon *d, struct session_entry *e,
			  const struct session_action *a, const char *error)
{
	struct flow expect;
	struct audit_control c;
	struct audit_line l;

	trail_control(e, &c);
	session_action_flow(a, &expect);
	audit_fmt_pinhole_failed(&l, audit_wall_ms(), &c, &expect, a->command,
				 a->reply, a->reply_code, error);
	trail_write(d, &l);
}

void trail_pinhole_removing(struct daemon *d, struct session_entry *e,
			    const struct session_action *a)
{
	struct flow expect, master;
	struct pinhole *p;

	session_action_flow(a, &expect);
	session_control_flow(&e->session, &master);
	p = pinhole_find(d->pinholes, &expect, &master);
	if (p == NULL)
		return;
	p->removing = true;
	snprintf(p->remove_cause, sizeof(p->remove_cause), "%s",
		 session_remove_cause_name(a->cause));
}

static void trail_refused(struct daemon *d, struct session_entry *e,
			  const struct session_action *a)
{
	struct audit_control c;
	struct audit_line l;

	e->pinholes_refused++;
	/* The server allocated the port whatever we thought of it. */
	if (!a->active && a->port != 0 && a->address.family != 0)
		pressure_announce(&d->pressure, &e->session.real_server, a->port,
				  daemon_now_ms());
	trail_control(e, &c);
	audit_fmt_pinhole_refused(&l, audit_wall_ms(), &c, a->reason, a->active,
				  &a->address, a->port, a->command, a->reply,
				  a->reply_code, a->detail);
	trail_write(d, &l);
}

void trail_action(struct daemon *d, struct session_entry *e,
		  const struct session_action *a)
{
	struct audit_control c;
	struct audit_line l;
	int t;

	trail_control(e, &c);
	switch (a->kind) {
	case SESSION_ACTION_PINHOLE_REFUSED:
		trail_refused(d, e, a);
		break;
	case SESSION_ACTION_LINE_REJECTED:
		if ((unsigned)a->rule < SESSION_RULE_COUNT)
			d->stats.lines_rejected_rule[a->rule]++;
		audit_begin(&l, "line-rejected", audit_wall_ms());
		json_kv_str(&l.json, "rule", session_line_rule_name(a->rule));
		json_kv_bool(&l.json, "attack", session_line_rule_is_attack(a->rule));
		json_kv_str(&l.json, "from", a->direction == SESSION_DIR_ORIGINAL ?
						    "client" : "server");
		audit_put_address(&l.json, "client", &c.client);
		audit_put_address(&l.json, "server", &c.server);
		audit_put_control(&l.json, &c);
		json_kv_str(&l.json, "line", a->direction == SESSION_DIR_ORIGINAL ?
						    a->command : a->reply);
		json_kv_str(&l.json, "detail", a->detail);
		audit_end(&l);
		trail_write(d, &l);
		break;
	case SESSION_ACTION_STREAM_LOST:
		audit_fmt_session(&l, audit_wall_ms(), "session-lost", &c,
				  "bounds", a->detail);
		trail_write(d, &l);
		break;
	case SESSION_ACTION_ENCRYPTED:
		audit_fmt_session(&l, audit_wall_ms(), "session-encrypted", &c,
				  session_tls_start_name(a->tls_start), a->detail);
		trail_write(d, &l);
		break;
	case SESSION_ACTION_STREAM_RESYNC:
		audit_fmt_stream_resync(&l, audit_wall_ms(), &c,
					a->direction == SESSION_DIR_ORIGINAL,
					a->skipped, a->detail);
		trail_write(d, &l);
		break;
	case SESSION_ACTION_DATA_TROUBLE:
		t = stats_trouble_index(a->reply_code);
		if (t >= 0)
			d->stats.data_trouble[t]++;
		pressure_trouble(&d->pressure, &e->session.real_server, a->reply_code,
				 a->reply, daemon_now_ms());
		audit_fmt_data_trouble(&l, audit_wall_ms(), &c, a->reply_code,
				       a->reply, a->command);
		trail_write(d, &l);
		break;
	default:
		break;		/* opened, failed and removed: see above */
	}
}

/* ---- kernel events -------------------------------------------------- */

/* A data connection of one of our sessions that no recorded pinhole
 * explains (registry full, events lost): still audited as used. */
static void trail_unrecorded_use(struct daemon *d, const struct flow *conn,
				 const struct flow *master, uint32_t id,
				 uint64_t now_ms)
{
	struct session_entry *e;
	struct audit_line l;
	struct pinhole tmp;

	/* one hash chain, not a walk of the table: this runs for every
	 * related connection no pinhole explains */
	e = session_table_find_control(d->sessions, &master->src,
				       master->sport, &master->dst,
				       master->dport, NULL);
	if (e == NULL)
		return;		/* another helper's, or not a session of ours */
	memset(&tmp, 0, sizeof(tmp));
	tmp.expect = *conn;
	tmp.expect.sport = 0;
	tmp.master = *master;
	tmp.conntrack_id = e->conntrack_id;
	tmp.opened_ms = tmp.gone_ms = now_ms;
	tmp.state = PINHOLE_GONE;
	d->stats.pinholes_closed[PINHOLE_CLOSE_USED]++;
	audit_fmt_pinhole_closed(&l, audit_wall_ms(), now_ms, &tmp,
				 PINHOLE_CLOSE_USED, conn, id);
	trail_write(d, &l);
}

/* The kernel destroyed a conntrack: if it is a tracked control
 * connection (its ID, and its tuple, since IDs are reused), the session
 * ends with it. A session whose packet is being handled right now (events
 * are read on the packet path) is only marked; inspect.c ends it after. */
static void trail_conntrack_destroyed(struct daemon *d, const struct ctnl_msg *m,
				      uint64_t now_ms)
{
	struct session_entry *e = session_table_find(d->sessions, m->id);
	struct flow master;

	if (e == NULL)
		return;
	session_control_flow(&e->session, &master);
	if (!flow_equal(&m->tuple, &master))
		return;
	/* Kernel facts: a SYN reusing the tuple of a connection in TIME_WAIT
	 * kills the old conntrack, and the new one may get the old one's ID
	 * (the ID hashes the conntrack's address): the old one's DESTROY,
	 * read late, then names the new session's ID and tuple. Ask the
	 * kernel; a conntrack with that tuple alive means the event is old. */
	if (d->kernel->conntrack_exists(d, &m->tuple) == 1)
		return;
	if (e == d->inspecting) {
		e->ct_destroyed = true;
		return;
	}
	trail_session_ended(d, e, "conntrack-destroyed", now_ms);
	session_table_remove(d->sessions, e);
}

void trail_kernel_event(const struct ctnl_msg *m, void *data)
{
	struct daemon *d = data;
	struct flow tuple, master;
	struct pinhole *p;
	uint64_t now = daemon_now_ms();

	d->stats.conntrack_events++;
	if (m->kind == CTNL_CT_DELETE) {
		trail_conntrack_destroyed(d, m, now);
		return;
	}
	if (!m->has_master) {
		/* an ordinary new connection: a grant's, perhaps */
		if (m->kind == CTNL_CT_NEW && d->grant_hooks)
			d->grant_hooks->connection_new(d, m);
		return;
	}
	tuple = m->tuple;
	master = m->master;
	if (m->kind == CTNL_EXP_DELETE) {
		if (strcmp(m->helper, CONFIG_HELPER_NAME) != 0)
			return;
		p = pinhole_find(d->pinholes, &tuple, &master);
		if (p != NULL && p->state == PINHOLE_OPEN) {
			p->state = PINHOLE_GONE;
			p->gone_ms = now;
		}
		return;
	}
	if (m->kind != CTNL_CT_NEW || m->proto != IPPROTO_TCP)
		return;
	p = pinhole_match_connection(d->pinholes, &tuple, &master);
	if (p == NULL) {
		trail_unrecorded_use(d, &tuple, &master, m->id, now);
		return;
	}
	if (p->state == PINHOLE_OPEN) {
		/* its destroy event was lost or not read yet */
		p->state = PINHOLE_GONE;
		p->gone_ms = now;
	}
	trail_close_pinhole(d, p, PINHOLE_CLOSE_USED, &tuple, m->id, now);
}

void trail_events_lost(struct daemon *d, const char *source, uint64_t count)
{
	struct audit_line l;

	if (strcmp(source, "conntrack-events") == 0) {
		d->stats.conntrack_event_overruns = count;
		pinhole_mark_uncertain(d->pinholes);
		log_msg(LOG_WARNING, "the kernel dropped conntrack events (%llu times so far): what became of the pinholes open now is reported as unknown",
			(unsigned long long)count);
	}
	audit_fmt_events_lost(&l, audit_wall_ms(), source, count);
	trail_write(d, &l);
}

void trail_drain_events(struct daemon *d)
{
	int i, rc;

	for (i = 0; i < 8; i++) {
		rc = d->kernel->events_receive(d, trail_kernel_event, d);
		if (rc == -ENOBUFS) {
			trail_events_lost(d, "conntrack-events", d->kernel->events_overruns(d));
			continue;
		}
		if (rc < EVENTS_BATCH)
			break;
	}
}

/* ---- time --------------------------------------------------------------- */

struct trail_tick_ctx {
	struct daemon *d;
	uint64_t now;
	unsigned checks;
	bool any_vanished;
};

/* Pass 1: ask the kernel about OPEN pinholes past their expiry. */
static void trail_check_cb(struct pinhole *p, void *data)
{
	struct trail_tick_ctx *t = data;
	struct expect_request r;
	struct ctnl_msg m;
	int rc;

	if (pinhole_due(p, t->now) != PINHOLE_DUE_CHECK_KERNEL ||
	    t->checks >= TRAIL_CHECKS_PER_TICK)
		return;
	t->checks++;
	memset(&r, 0, sizeof(r));
	r.expect = p->expect;
	rc = t->d->kernel->expect_lookup(t->d, &r, &m);
	if (rc == -ENOENT) {
		p->vanished = true;
		t->any_vanished = true;
		return;
	}
	/* still there (refreshed by someone, our clock ran ahead, or a
	 * polled one), or the kernel did not answer: again later */
	if (rc == 0 && m.timeout_s > 0)
		p->expiry_ms = t->now + (uint64_t)m.timeout_s * 1000;
	p->next_check_ms = t->now + PINHOLE_RECHECK_MS;
}

/* Pass 2, after reading the events that came meanwhile: close what the
 * kernel no longer lists, decide destroyed ones past their grace. */
static void trail_decide_cb(struct pinhole *p, void *data)
{
	struct trail_tick_ctx *t = data;

	if (p->state == PINHOLE_OPEN && p->vanished) {
		p->vanished = false;
		if (t->now + PINHOLE_EXPIRY_SLACK_MS < p->expiry_ms) {
			/* a polled pinhole gone early: as if its destroy
			 * event had come now (used? removed? why?) */
			p->state = PINHOLE_GONE;
			p->gone_ms = t->now;
			return;
		}
		trail_close_pinhole(t->d, p, pinhole_vanished_reason(p), NULL, 0, t->now);
		return;
	}
	if (pinhole_due(p, t->now) == PINHOLE_DUE_DECIDE)
		trail_decide_gone(t->d, p, t->now);
}

void trail_tick(struct daemon *d, uint64_t now_ms)
{
	struct trail_tick_ctx t = { d, now_ms, 0, false };

	pinhole_foreach(d->pinholes, trail_check_cb, &t);
	/* A use right at the expiry: its events were sent before the
	 * kernel answered our lookup. */
	if (t.any_vanished)
		trail_drain_events(d);
	pinhole_foreach(d->pinholes, trail_decide_cb, &t);
}

/* ---- adoption ----------------------------------------------------------- */

struct trail_adopt_ctx {
	struct daemon *d;
	uint64_t now;
	unsigned count;
};

static void trail_adopt_cb(const struct ctnl_msg *m, void *data)
{
	struct trail_adopt_ctx *a = data;
	struct flow expect, master;
	struct pinhole *p;
	struct audit_line l;
	bool is_new;

	expect = m->tuple;
	master = m->master;
	p = pinhole_add(a->d->pinholes, &expect, &master, &is_new);
	if (p == NULL || !is_new)
		return;
	p->adopted = true;
	p->poll = true;			/* its master predates us */
	p->uncertain = a->d->ct_events_off;
	p->opened_ms = a->now;		/* when we learnt of it */
	p->opened_wall_ms = audit_wall_ms();
	p->timeout_s = m->timeout_s;
	p->expiry_ms = a->now + (uint64_t)m->timeout_s * 1000;
	a->count++;
	audit_fmt_pinhole_opened(&l, audit_wall_ms(), a->now, p, false);
	trail_write(a->d, &l);
}

unsigned trail_adopt(struct daemon *d)
{
	struct trail_adopt_ctx a = { d, daemon_now_ms(), 0 };
	int rc;

	rc = d->kernel->expect_list(d, CONFIG_HELPER_NAME, trail_adopt_cb, &a);
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot list the kernel's expectations: %s; pinholes left by a previous run are not audited",
			strerror(-rc));
	else if (a.count)
		log_msg(LOG_NOTICE, "found %u pinholes of helper \"%s\" in the kernel (left by a previous run); their outcome is audited",
			a.count, CONFIG_HELPER_NAME);
	return a.count;
}
