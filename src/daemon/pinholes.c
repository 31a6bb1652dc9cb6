/* pinholes: the life of every pinhole, learnt from the kernel, not
 * guessed. A pinhole is recorded (src/core/pinhole.c's registry) when its
 * expectation is installed, before the packet's verdict; its end comes
 * from conntrack events and lookups:
 *
 *  - used: a connection the kernel created from the expectation (a NEW
 *    event carrying the master's tuple, matching the pinhole's tuple);
 *  - expired: the kernel no longer lists it, its time is up and no data
 *    connection came (the kernel reaps expired expectations lazily, so we
 *    ask rather than wait for the destroy event: pinholes_tick);
 *  - removed: its destroy event came early and no data connection
 *    followed; why depends on who removed it (ftpgated, or the kernel
 *    with the control connection's conntrack, or someone else).
 *
 * When kernel events were lost (ENOBUFS) the pinholes open at the time
 * end as "unknown-events-lost" rather than with a reason we cannot know,
 * and are polled from then on (their destroy events may be lost too).
 * At start-up the expectations an earlier ftpgated left are adopted. The
 * same events end a session whose control connection's conntrack the
 * kernel destroyed. Each end is written to the audit log (auditlog.c).
 * Part of the daemon (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "daemon.h"
#include "log.h"

#define PINHOLES_CHECKS_PER_TICK 256	/* kernel lookups per second, at most */

/* net.netfilter.nf_conntrack_events = 0 stops the events pinhole
 * outcomes are learnt from (1 delivers them; 2, the default in Linux 6.1,
 * delivers them for connections created while someone listens). Read in
 * our network namespace. */
void pinholes_check_events(struct daemon *d)
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

/* ---- recording and closing ------------------------------------------ */

static void pinholes_close(struct daemon *d, struct pinhole *p,
			   enum pinhole_close how,
			   const struct flow *data,
			   uint32_t data_id, uint64_t now_ms)
{
	struct audit_line l;

	if ((unsigned)how < PINHOLE_CLOSE_COUNT)
		d->stats.pinholes_closed[how]++;
	audit_fmt_pinhole_closed(&l, audit_wall_ms(), now_ms, p, how, data, data_id);
	auditlog_write(d, &l);
	log_msg(LOG_INFO, "pinhole %llu to port %u: %s",
		(unsigned long long)p->id, p->expect.dport, pinhole_close_name(how));
	pinhole_remove(d->pinholes, p);
}

/* The kernel no longer holds pinhole p (its destroy event, or a lookup):
 * what became of it is decided later; the role it went in is kept. */
static void pinholes_mark_gone(struct daemon *d, struct pinhole *p, uint64_t now_ms)
{
	p->state = PINHOLE_GONE;
	p->gone_ms = now_ms;
	p->gone_on_backup = d->backup;
}

/* A pinhole whose destroy event came and whose data connection did not:
 * decide now. */
static void pinholes_decide_gone(struct daemon *d, struct pinhole *p, uint64_t now_ms)
{
	int alive = 1;

	if (!p->removing && !p->uncertain &&
	    p->gone_ms + PINHOLE_EXPIRY_SLACK_MS < p->expiry_ms) {
		alive = d->kernel->conntrack_exists(d, &p->master);
		if (alive < 0)
			alive = 1;	/* cannot tell: do not blame the session */
	}
	pinholes_close(d, p, role_pinhole_gone(p, pinhole_gone_reason(p, alive != 0)), NULL, 0, now_ms);
}

/* Before the verdict: record an installed pinhole in the registry. A
 * recorded pinhole for the same tuple, which the kernel may have destroyed
 * since (used, most likely), is settled first from the events, which may
 * write audit lines of that earlier pinhole. This must precede the
 * verdict: once the reply is out, the data connection's events could be
 * read before the pinhole they belong to is recorded. Only then are the
 * events read here: otherwise the main loop reads them after the verdict
 * (parsing every pending conntrack event before each 227 tripled its time
 * in the gateway at 64 sessions, bench/RESULTS.md). A full registry
 * reads them too, then tries again: pinholes whose use was not read yet
 * make room, and an install still not recorded has its own EXP_NEW read
 * while it is recording, not taken for another process's. Packets
 * handled before the main loop's next read also learn of an event
 * overrun (ENOBUFS) one round later: their pinholes are then counted
 * uncertain with the rest. o keeps what the pinhole-opened line will
 * say. */
void pinholes_record(struct daemon *d, struct session_entry *e,
		     const struct session_action *a, uint32_t timeout_s,
		     struct pinholes_opened *o)
{
	struct flow expect, master;
	struct pinhole *p;
	uint64_t now = daemon_now_ms();
	bool is_new = false;

	o->now_ms = now;
	e->pinholes_opened++;
	if (!a->active)
		pressure_announce(&d->pressure, &e->session.real_server,
				  a->data.dport, now);
	session_action_flow(a, &expect);
	session_control_flow(&e->session, &master);
	d->recording_expect = &expect;
	d->recording_master = &master;
	if (pinhole_find(d->pinholes, &expect, &master) != NULL) {
		pinholes_drain_events(d);
		p = pinhole_find(d->pinholes, &expect, &master);
		if (p != NULL && p->state == PINHOLE_GONE)
			pinholes_decide_gone(d, p, now);
	}
	p = pinhole_add(d->pinholes, &expect, &master, &is_new);
	if (p == NULL) {
		pinholes_drain_events(d);	/* used ones make room */
		p = pinhole_add(d->pinholes, &expect, &master, &is_new);
	}
	d->recording_expect = d->recording_master = NULL;
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
		tmp->nat = a->nat;
		o->recorded = false;
		o->refreshed = false;
		return;
	}
	if (is_new) {
		p->opened_ms = now;
		p->opened_wall_ms = audit_wall_ms();
		/* a control connection the kernel sends no events for (one
		 * older than our event subscription, or one whose NEW event
		 * never came) sends no expectation events either: poll its
		 * pinholes */
		p->poll = e->midstream || !e->ct_events;
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
	p->nat = a->nat;
	/* as it is now: a later action of the same packet may refresh it */
	o->pinhole = *p;
	o->pinhole.next = NULL;
	o->recorded = true;
	o->refreshed = !is_new;
}

void pinholes_removing(struct daemon *d, struct session_entry *e,
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

/* ---- kernel events -------------------------------------------------- */

/* A data connection of one of our sessions that no recorded pinhole
 * explains (registry full, events lost): still audited as used. */
static void pinholes_unrecorded_use(struct daemon *d, const struct flow *data,
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
	tmp.expect = *data;
	tmp.expect.sport = 0;
	tmp.master = *master;
	tmp.conntrack_id = e->conntrack_id;
	tmp.opened_ms = tmp.gone_ms = now_ms;
	tmp.state = PINHOLE_GONE;
	d->stats.pinholes_closed[PINHOLE_CLOSE_USED]++;
	audit_fmt_pinhole_closed(&l, audit_wall_ms(), now_ms, &tmp,
				 PINHOLE_CLOSE_USED, data, id);
	auditlog_write(d, &l);
}

/* The kernel destroyed a conntrack: if it is a tracked control
 * connection (its ID, and its tuple, since IDs are reused), the session
 * ends with it. A session whose packet is being handled right now (events
 * are read on the packet path) is only marked; inspect.c ends it after. */
static void pinholes_conntrack_destroyed(struct daemon *d, const struct ctnl_msg *m,
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
	role_session_ended(d, e, now_ms);
	session_table_remove(d->sessions, e);
}

/* The kernel reported a new conntrack: if it is a tracked control
 * connection (its ID and tuple), it has an event cache. Kernel facts
 * (Linux 6.1 and 6.12, nf_conntrack_ecache.c): with nf_conntrack_events
 * = 2, the default, a conntrack gets its event cache only if someone
 * listened to a ctnetlink group when it was created, and an expectation's
 * destroy event is sent only if its master has one. The NEW event is sent
 * at confirmation, when the SYN leaves the netfilter hooks, so it is read
 * long before the server's first reply. */
static void pinholes_conntrack_new(struct daemon *d, const struct ctnl_msg *m)
{
	struct session_entry *e = session_table_find(d->sessions, m->id);
	struct flow master;

	if (e == NULL)
		return;
	session_control_flow(&e->session, &master);
	if (flow_equal(&m->tuple, &master))
		e->ct_events = true;
}

/* Record and audit (pinhole-adopted) an expectation of our helper that
 * ftpgated did not create: left by an earlier run, or committed by
 * conntrackd. The pinhole, or NULL when it was known or the registry is
 * full. */
static struct pinhole *pinholes_adopt_one(struct daemon *d,
					  const struct ctnl_msg *m, uint64_t now)
{
	struct flow expect = m->tuple, master = m->master;
	struct pinhole *p;
	struct audit_line l;
	bool is_new;

	p = pinhole_add(d->pinholes, &expect, &master, &is_new);
	if (p == NULL || !is_new)
		return NULL;
	p->adopted = true;
	p->poll = true;			/* its master predates us */
	p->uncertain = d->ct_events_off;
	p->opened_ms = now;		/* when we learnt of it */
	p->opened_wall_ms = audit_wall_ms();
	p->timeout_s = m->timeout_s;
	p->expiry_ms = now + (uint64_t)m->timeout_s * 1000;
	p->nat = m->nat;
	d->stats.pinholes_adopted++;
	audit_fmt_pinhole_opened(&l, audit_wall_ms(), now, p, false);
	auditlog_write(d, &l);
	return p;
}

/* Whether m is the EXP_NEW event of the pinhole pinholes_record is
 * recording (its install came just before). */
static bool pinholes_recording(const struct daemon *d, const struct ctnl_msg *m)
{
	return d->recording_expect != NULL &&
	       flow_equal(&m->tuple, d->recording_expect) &&
	       flow_equal(&m->master, d->recording_master);
}

/* An expectation of our helper was created. Ours are recorded (or being
 * recorded); another process's (conntrackd committing what it synced, at a
 * failover) is adopted, once the kernel confirms it holds that very
 * expectation: an event read late may be of one gone since. One that
 * replaces a recorded pinhole whose destroy event came (conntrackd
 * committing the same expectation again) settles that one first. */
static void pinholes_expect_new(struct daemon *d, const struct ctnl_msg *m,
				uint64_t now)
{
	struct expect_request r;
	struct ctnl_msg k;
	struct pinhole *p;
	char to[FLOW_ENDPOINT_STRLEN];

	if (strcmp(m->helper, CONFIG_HELPER_NAME) != 0 || pinholes_recording(d, m))
		return;
	p = pinhole_find(d->pinholes, &m->tuple, &m->master);
	if (p != NULL && p->state != PINHOLE_GONE)
		return;
	memset(&r, 0, sizeof(r));
	r.expect = m->tuple;
	if (d->kernel->expect_lookup(d, &r, &k) < 0 || !k.has_master ||
	    k.id != m->id || !flow_equal(&k.master, &m->master))
		return;
	if (p != NULL)
		pinholes_decide_gone(d, p, now);
	p = pinholes_adopt_one(d, &k, now);
	if (p != NULL)
		log_msg(LOG_NOTICE, "pinhole %llu to %s adopted: another process created it (conntrackd's commit at a failover?)",
			(unsigned long long)p->id,
			flow_endpoint_format(&p->expect.dst, p->expect.dport, to, sizeof(to)));
}

void pinholes_kernel_event(const struct ctnl_msg *m, void *data)
{
	struct daemon *d = data;
	struct flow tuple, master;
	struct pinhole *p;
	uint64_t now = daemon_now_ms();

	d->stats.conntrack_events++;
	if (m->kind == CTNL_CT_DELETE) {
		pinholes_conntrack_destroyed(d, m, now);
		return;
	}
	if (!m->has_master) {
		/* an ordinary new connection: a control connection, or a
		 * grant's, perhaps */
		if (m->kind != CTNL_CT_NEW)
			return;
		inspect_session_synced(d, m, now);
		pinholes_conntrack_new(d, m);
		if (d->grant_hooks)
			d->grant_hooks->connection_new(d, m);
		return;
	}
	tuple = m->tuple;
	master = m->master;
	if (m->kind == CTNL_EXP_NEW) {
		pinholes_expect_new(d, m, now);
		return;
	}
	if (m->kind == CTNL_EXP_DELETE) {
		if (strcmp(m->helper, CONFIG_HELPER_NAME) != 0)
			return;
		p = pinhole_find(d->pinholes, &tuple, &master);
		if (p != NULL && p->state == PINHOLE_OPEN)
			pinholes_mark_gone(d, p, now);
		return;
	}
	/* a data connection committed by another process (conntrackd, at a
	 * failover: born with a reply seen) used no expectation here */
	if (m->kind != CTNL_CT_NEW || m->proto != IPPROTO_TCP ||
	    (m->status & IPS_SEEN_REPLY))
		return;
	p = pinhole_match_connection(d->pinholes, &tuple, &master);
	if (p == NULL) {
		pinholes_unrecorded_use(d, &tuple, &master, m->id, now);
		return;
	}
	if (p->state == PINHOLE_OPEN)	/* its destroy event lost or unread */
		pinholes_mark_gone(d, p, now);
	pinholes_close(d, p, PINHOLE_CLOSE_USED, &tuple, m->id, now);
}

/* The kernel dropped conntrack events (ENOBUFS): what becomes of the
 * pinholes open now cannot be known. */
static void pinholes_events_lost(struct daemon *d, uint64_t count)
{
	d->stats.conntrack_event_overruns = count;
	pinhole_mark_uncertain(d->pinholes);
	log_msg(LOG_WARNING, "the kernel dropped conntrack events (%llu times so far): what became of the pinholes open now is reported as unknown",
		(unsigned long long)count);
	auditlog_events_lost(d, "conntrack-events", count);
}

void pinholes_drain_events(struct daemon *d)
{
	int i, rc;

	for (i = 0; i < 8; i++) {
		rc = d->kernel->events_receive(d, pinholes_kernel_event, d);
		if (rc == -ENOBUFS) {
			pinholes_events_lost(d, d->kernel->events_overruns(d));
			continue;
		}
		if (rc < EVENTS_BATCH)
			break;
	}
}

/* ---- time --------------------------------------------------------------- */

struct pinholes_tick_ctx {
	struct daemon *d;
	uint64_t now;
	unsigned checks;
	bool any_vanished;
};

/* Pass 1: ask the kernel about OPEN pinholes past their expiry. */
static void pinholes_check_cb(struct pinhole *p, void *data)
{
	struct pinholes_tick_ctx *t = data;
	struct expect_request r;
	struct ctnl_msg m;
	int rc;

	if (pinhole_due(p, t->now) != PINHOLE_DUE_CHECK_KERNEL ||
	    t->checks >= PINHOLES_CHECKS_PER_TICK)
		return;
	t->checks++;
	memset(&r, 0, sizeof(r));
	r.expect = p->expect;
	rc = t->d->kernel->expect_lookup(t->d, &r, &m);
	/* the kernel keeps one expectation per tuple: another control
	 * connection's, created once ours was gone, is not ours */
	if (rc == 0 && m.has_master && !flow_equal(&m.master, &p->master))
		rc = -ENOENT;
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
static void pinholes_decide_cb(struct pinhole *p, void *data)
{
	struct pinholes_tick_ctx *t = data;

	if (p->state == PINHOLE_OPEN && p->vanished) {
		p->vanished = false;
		if (t->now + PINHOLE_EXPIRY_SLACK_MS < p->expiry_ms) {
			/* a polled pinhole gone early: as if its destroy
			 * event had come now (used? removed? why?) */
			pinholes_mark_gone(t->d, p, t->now);
			return;
		}
		pinholes_close(t->d, p, pinhole_vanished_reason(p), NULL, 0, t->now);
		return;
	}
	if (pinhole_due(p, t->now) == PINHOLE_DUE_DECIDE)
		pinholes_decide_gone(t->d, p, t->now);
}

void pinholes_tick(struct daemon *d, uint64_t now_ms)
{
	struct pinholes_tick_ctx t = { d, now_ms, 0, false };

	pinhole_foreach(d->pinholes, pinholes_check_cb, &t);
	/* A use right at the expiry: its events were sent before the
	 * kernel answered our lookup. */
	if (t.any_vanished)
		pinholes_drain_events(d);
	pinhole_foreach(d->pinholes, pinholes_decide_cb, &t);
}

/* ---- adoption ----------------------------------------------------------- */

struct pinholes_adopt_ctx {
	struct daemon *d;
	uint64_t now;
	unsigned count;
};

static void pinholes_adopt_cb(const struct ctnl_msg *m, void *data)
{
	struct pinholes_adopt_ctx *a = data;

	if (pinholes_adopt_one(a->d, m, a->now) != NULL)
		a->count++;
}

unsigned pinholes_adopt(struct daemon *d)
{
	struct pinholes_adopt_ctx a = { d, daemon_now_ms(), 0 };
	int rc;

	rc = d->kernel->expect_list(d, CONFIG_HELPER_NAME, pinholes_adopt_cb, &a);
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot list the kernel's expectations: %s; pinholes left by a previous run are not audited",
			strerror(-rc));
	else if (a.count)
		log_msg(LOG_NOTICE, "found %u pinholes of helper \"%s\" in the kernel (left by a previous run); their outcome is audited",
			a.count, CONFIG_HELPER_NAME);
	return a.count;
}

