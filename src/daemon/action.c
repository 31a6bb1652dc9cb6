/* action: what the daemon does with each kind of session action, in one
 * table, action_kinds[], one entry per enum session_action_kind: its
 * kernel step (before the packet's verdict), then its counters, its log
 * line and its audit line (after it). A new action kind is a new entry
 * here and nothing else. Part of the daemon's packet path (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

/* One action in the reporting phase, with its control connection's
 * endpoints as the log prints them. */
struct action_report {
	struct daemon *d;
	struct session_entry *e;
	const struct session_action *a;
	const struct inspect_outcome *o;	/* the kernel step's, if any */
	char control_client[FLOW_ENDPOINT_STRLEN];
	char control_server[FLOW_ENDPOINT_STRLEN];
};

struct action_kind {
	/* Before the verdict; NULL: none. May turn a into another kind
	 * (PINHOLE_OPEN at the per-client cap becomes PINHOLE_REFUSED). */
	void (*kernel)(struct daemon *d, struct session_entry *e,
		       struct session_action *a, struct inspect_outcome *o);
	/* After it, in this order; NULL: none. */
	void (*count)(const struct action_report *r);	/* counters */
	void (*log)(const struct action_report *r);	/* the log line */
	void (*audit)(const struct action_report *r);	/* the audit line */
};

/* ---- PINHOLE_OPEN ----------------------------------------------------- */

static void action_open_count(const struct action_report *r)
{
	if (r->o->ret < 0)
		r->d->stats.pinholes_failed++;
	else
		r->d->stats.pinholes_opened++;
}

static void action_open_log(const struct action_report *r)
{
	const struct session_action *a = r->a;
	char source[FLOW_ENDPOINT_STRLEN], data[FLOW_ENDPOINT_STRLEN];
	char lands[FLOW_ENDPOINT_STRLEN], nat[FLOW_ENDPOINT_STRLEN + 16];
	char why[SESSION_TEXT_MAX + 32];

	/* the data connection's source: the client (passive mode) or the
	 * server (active mode), with its port when the policy fixes it */
	if (a->data.sport)
		flow_endpoint_format(&a->data.src, a->data.sport,
				     source, sizeof(source));
	else
		inet_addr_format(&a->data.src, source, sizeof(source));
	flow_endpoint_format(&a->data.dst, a->data.dport, data, sizeof(data));
	if (r->o->ret < 0) {
		log_msg(LOG_WARNING, "pinhole not installed: %s -> %s (control %s -> %s): %s",
			source, data, r->control_client, r->control_server,
			action_error(r->o));
		return;
	}
	nat[0] = '\0';
	if (a->nat.on) {
		flow_endpoint_format(&a->nat.address, a->nat.port, lands, sizeof(lands));
		snprintf(nat, sizeof(nat), ", NAT to %s", lands);
	}
	/* active-open = command: opened at the command, no reply yet */
	if (a->reply_code == 0)
		snprintf(why, sizeof(why), "at the command \"%s\"", a->command);
	else
		snprintf(why, sizeof(why), "reply %d to \"%s\"", a->reply_code,
			 a->command);
	log_msg(LOG_NOTICE, "pinhole opened: %s -> %s tcp%s%s, expires in %us (%s; control %s -> %s, conntrack %u)",
		source, data, a->active ? " (active mode)" : "", nat, r->o->timeout_s,
		why, r->control_client, r->control_server, r->e->conntrack_id);
}

static void action_open_audit(const struct action_report *r)
{
	if (r->o->ret < 0)
		auditlog_pinhole_failed(r->d, r->e, r->a, action_error(r->o));
	else
		auditlog_pinhole_opened(r->d, &r->o->opened);
}

/* ---- PINHOLE_REMOVE --------------------------------------------------- */

static void action_remove_count(const struct action_report *r)
{
	if (r->o->ret == 0)
		r->d->stats.pinholes_removed++;
}

/* -ENOENT is the usual case: its data connection used it already. */
static void action_remove_log(const struct action_report *r)
{
	const struct session_action *a = r->a;
	const char *cause = session_remove_cause_name(a->cause);
	char data[FLOW_ENDPOINT_STRLEN];

	flow_endpoint_format(&a->data.dst, a->data.dport, data, sizeof(data));
	if (r->o->ret == -ENOENT)
		log_msg(LOG_DEBUG, "pinhole to %s already gone (%s; conntrack %u)",
			data, cause, r->e->conntrack_id);
	else if (r->o->ret < 0)
		log_msg(LOG_WARNING, "pinhole to %s not removed (%s): %s",
			data, cause, action_error(r->o));
	else
		log_msg(LOG_NOTICE, "pinhole removed (%s): -> %s tcp%s: %s (\"%s\"; conntrack %u)",
			cause, data, a->active ? " (active mode)" : "", a->detail,
			a->command, r->e->conntrack_id);
}

/* ---- PINHOLE_REFUSED -------------------------------------------------- */

static void action_refused_count(const struct action_report *r)
{
	const struct session_action *a = r->a;

	if (a->reason < POLICY_REASON_COUNT)
		r->d->stats.refused[a->reason]++;
	r->e->pinholes_refused++;
	/* The server allocated the port whatever we thought of it. */
	if (!a->active && a->data.dport != 0 && a->data.dst.family != 0)
		pressure_announce(&r->d->pressure, &r->e->session.real_server,
				  a->data.dport, daemon_now_ms());
}

static void action_refused_log(const struct action_report *r)
{
	const struct session_action *a = r->a;
	char data[FLOW_ENDPOINT_STRLEN];

	if (a->data.dst.family)
		flow_endpoint_format(&a->data.dst, a->data.dport, data, sizeof(data));
	else
		snprintf(data, sizeof(data), "-");
	/* active mode: the client announced in its command, and the
	 * server's reply decided */
	log_msg(LOG_NOTICE, "pinhole refused (%s): %s; announced %s in \"%s\"%s%s%s%s (control %s -> %s, conntrack %u)",
		policy_reason_name(a->reason), policy_reason_text(a->reason),
		data, a->active ? a->command : a->reply,
		a->active && a->reply[0] ? ", reply " : "", a->active ? a->reply : "",
		a->detail[0] ? ": " : "", a->detail,
		r->control_client, r->control_server, r->e->conntrack_id);
}

static void action_refused_audit(const struct action_report *r)
{
	const struct session_action *a = r->a;
	struct audit_control c;
	struct audit_line l;

	auditlog_control(r->e, &c);
	audit_fmt_pinhole_refused(&l, audit_wall_ms(), &c, a->reason, a->active,
				  &a->data.dst, a->data.dport, a->command,
				  a->reply, a->reply_code, a->detail);
	auditlog_write(r->d, &l);
}

/* ---- LINE_REJECTED ---------------------------------------------------- */

static const char *action_from(const struct session_action *a)
{
	return a->direction == SESSION_DIR_ORIGINAL ? "client" : "server";
}

static void action_line_count(const struct action_report *r)
{
	/* the total, lines_rejected, counts those not handed out too */
	if ((unsigned)r->a->rule < SESSION_RULE_COUNT)
		r->d->stats.lines_rejected_rule[r->a->rule]++;
}

static void action_line_log(const struct action_report *r)
{
	const struct session_action *a = r->a;
	bool attack = session_line_rule_is_attack(a->rule);

	log_msg(attack ? LOG_WARNING : LOG_INFO,
		"line rejected from %s (%s%s): %s (control %s -> %s)",
		action_from(a), session_line_rule_name(a->rule),
		attack ? ", possible attack" : "",
		a->detail, r->control_client, r->control_server);
}

static void action_line_audit(const struct action_report *r)
{
	const struct session_action *a = r->a;
	struct audit_control c;
	struct audit_line l;

	auditlog_control(r->e, &c);
	audit_begin(&l, "line-rejected", audit_wall_ms());
	json_kv_str(&l.json, "rule", session_line_rule_name(a->rule));
	json_kv_bool(&l.json, "attack", session_line_rule_is_attack(a->rule));
	json_kv_str(&l.json, "from", action_from(a));
	audit_put_address(&l.json, "client", &c.client);
	audit_put_address(&l.json, "server", &c.server);
	audit_put_control(&l.json, &c);
	json_kv_str(&l.json, "line", a->direction == SESSION_DIR_ORIGINAL ?
					    a->command : a->reply);
	json_kv_str(&l.json, "detail", a->detail);
	audit_end(&l);
	auditlog_write(r->d, &l);
}

/* ---- STREAM_LOST ------------------------------------------------------ */

static void action_lost_count(const struct action_report *r)
{
	r->d->stats.streams_lost++;
}

static void action_lost_log(const struct action_report *r)
{
	log_msg(LOG_WARNING, "stopped tracking control connection %s -> %s: %s; its traffic still passes but it gets no pinholes",
		r->control_client, r->control_server,
		r->a->detail[0] ? r->a->detail : "buffer bound reached");
}

static void action_lost_audit(const struct action_report *r)
{
	struct audit_control c;
	struct audit_line l;

	auditlog_control(r->e, &c);
	audit_fmt_session(&l, audit_wall_ms(), "session-lost", &c, "bounds",
			  r->a->detail);
	auditlog_write(r->d, &l);
}

/* ---- ENCRYPTED -------------------------------------------------------- */

/* The grant decision (grants.c), before the verdict. */
static void action_encrypted_kernel(struct daemon *d, struct session_entry *e,
				    struct session_action *a,
				    struct inspect_outcome *o)
{
	(void)o;
	if (d->grant_hooks)
		d->grant_hooks->encrypted(d, e, a);
}

static void action_encrypted_count(const struct action_report *r)
{
	r->d->stats.sessions_encrypted++;
}

static void action_encrypted_log(const struct action_report *r)
{
	const struct session_action *a = r->a;

	if (a->tls_start == SESSION_TLS_AUTH)
		log_msg(LOG_NOTICE, "%s (\"%s\" answered \"%s\"; control %s -> %s, conntrack %u)",
			SESSION_ENCRYPTED_TEXT, a->command, a->reply,
			r->control_client, r->control_server, r->e->conntrack_id);
	else
		log_msg(LOG_NOTICE, "%s (%s: the client's first bytes are TLS; control %s -> %s, conntrack %u)",
			SESSION_ENCRYPTED_TEXT, session_tls_start_name(a->tls_start),
			r->control_client, r->control_server, r->e->conntrack_id);
}

/* The grant's own report (its counters, log and audit lines) comes
 * first, then the session-encrypted line. */
static void action_encrypted_audit(const struct action_report *r)
{
	struct audit_control c;
	struct audit_line l;

	if (r->d->grant_hooks)
		r->d->grant_hooks->report(r->d, r->e, r->a);
	auditlog_control(r->e, &c);
	audit_fmt_session(&l, audit_wall_ms(), "session-encrypted", &c,
			  session_tls_start_name(r->a->tls_start), r->a->detail);
	auditlog_write(r->d, &l);
}

/* ---- STREAM_RESYNC ---------------------------------------------------- */

static void action_resync_count(const struct action_report *r)
{
	r->d->stats.streams_resynchronized++;
}

static void action_resync_log(const struct action_report *r)
{
	log_msg(LOG_WARNING, "control connection %s -> %s (conntrack %u): %s; outstanding commands forgotten, announcements in the skipped bytes get no pinhole; packets passed uninspected because ftpgated was too slow or down (see queue_overruns_total; a full queue, queue-max-packets, is counted nowhere)",
		r->control_client, r->control_server, r->e->conntrack_id,
		r->a->detail);
}

static void action_resync_audit(const struct action_report *r)
{
	struct audit_control c;
	struct audit_line l;

	auditlog_control(r->e, &c);
	audit_fmt_stream_resync(&l, audit_wall_ms(), &c,
				r->a->direction == SESSION_DIR_ORIGINAL,
				r->a->skipped, r->a->detail);
	auditlog_write(r->d, &l);
}

/* ---- DATA_TROUBLE ----------------------------------------------------- */

static void action_trouble_count(const struct action_report *r)
{
	int t = stats_trouble_index(r->a->reply_code);

	if (t >= 0)
		r->d->stats.data_trouble[t]++;
	pressure_trouble(&r->d->pressure, &r->e->session.real_server,
			 r->a->reply_code, r->a->reply, daemon_now_ms());
}

static void action_trouble_log(const struct action_report *r)
{
	log_msg(LOG_NOTICE, "server reports data-connection trouble: \"%s\" to \"%s\" (control %s -> %s, conntrack %u)",
		r->a->reply, r->a->command[0] ? r->a->command : "-",
		r->control_client, r->control_server, r->e->conntrack_id);
}

static void action_trouble_audit(const struct action_report *r)
{
	struct audit_control c;
	struct audit_line l;

	auditlog_control(r->e, &c);
	audit_fmt_data_trouble(&l, audit_wall_ms(), &c, r->a->reply_code,
			       r->a->reply, r->a->command);
	auditlog_write(r->d, &l);
}

/* ---- the table -------------------------------------------------------- */

static const struct action_kind action_kinds[] = {
	[SESSION_ACTION_PINHOLE_OPEN] = { inspect_pinhole_open,
		action_open_count, action_open_log, action_open_audit },
	[SESSION_ACTION_PINHOLE_REFUSED] = { NULL,
		action_refused_count, action_refused_log, action_refused_audit },
	[SESSION_ACTION_LINE_REJECTED] = { NULL,
		action_line_count, action_line_log, action_line_audit },
	[SESSION_ACTION_STREAM_LOST] = { NULL,
		action_lost_count, action_lost_log, action_lost_audit },
	/* no audit line: the pinhole-removed event comes from the kernel's
	 * (learnt from kernel events, pinholes.c) */
	[SESSION_ACTION_PINHOLE_REMOVE] = { inspect_pinhole_remove,
		action_remove_count, action_remove_log, NULL },
	[SESSION_ACTION_ENCRYPTED] = { action_encrypted_kernel,
		action_encrypted_count, action_encrypted_log, action_encrypted_audit },
	[SESSION_ACTION_DATA_TROUBLE] = { NULL,
		action_trouble_count, action_trouble_log, action_trouble_audit },
	[SESSION_ACTION_STREAM_RESYNC] = { NULL,
		action_resync_count, action_resync_log, action_resync_audit },
};

#define ACTION_KINDS (sizeof(action_kinds) / sizeof(action_kinds[0]))
_Static_assert(ACTION_KINDS == SESSION_ACTION_KIND_COUNT,
	       "every session action kind has its entry in action_kinds[]");

static const struct action_kind *action_kind_of(enum session_action_kind k)
{
	return (unsigned)k < ACTION_KINDS ? &action_kinds[k] : NULL;
}

const char *action_error(const struct inspect_outcome *o)
{
	return o->err[0] ? o->err : strerror(-o->ret);
}

void action_kernel(struct daemon *d, struct session_entry *e,
		   struct session_action *a, struct inspect_outcome *o)
{
	const struct action_kind *k = action_kind_of(a->kind);

	if (k && k->kernel)
		k->kernel(d, e, a, o);
}

void action_report(struct daemon *d, struct session_entry *e,
		   const struct session_action *a,
		   const struct inspect_outcome *o)
{
	const struct action_kind *k = action_kind_of(a->kind);
	struct action_report r = { .d = d, .e = e, .a = a, .o = o };
	const struct session *s = &e->session;

	if (k == NULL)
		return;
	flow_endpoint_format(&s->client, s->client_port, r.control_client,
			     sizeof(r.control_client));
	flow_endpoint_format(&s->server, s->server_port, r.control_server,
			     sizeof(r.control_server));
	if (k->count)
		k->count(&r);
	if (k->log)
		k->log(&r);
	if (k->audit)
		k->audit(&r);
}
