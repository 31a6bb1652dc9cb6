/* ftpgated: the userspace conntrack helper for FTP.
 *
 * Start-up order matters: bind the queue first (a second instance fails
 * there, before it could touch the running instance's helper), then
 * register the helper, which makes the kernel start queueing. Shutdown is
 * the reverse and must be quick: while our queue exists and we do not read
 * it, FTP control traffic stops; once the helper is disabled the kernel
 * lets it pass without us. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cthelper.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "packet.h"

#define DAEMON_GC_INTERVAL_MS 1000
#define DAEMON_ERR_MAX 512
/* A queue overrun burst ends after this long without an overrun; a burst
 * that goes on is said again after DAEMON_OVERRUN_REPEAT_MS. */
#define DAEMON_OVERRUN_QUIET_MS 10000
#define DAEMON_OVERRUN_REPEAT_MS 60000
/* poll set: queue, signals, kernel events, then the control socket */
#define DAEMON_POLL_MAX (3 + 1 + CTL_CLIENTS_MAX)

static void daemon_usage(FILE *out)
{
	fprintf(out,
		"usage: ftpgated [options]\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -c, --config FILE    configuration file (default %s;\n"
		"                       built-in defaults when it does not exist)\n"
		"  -q, --queue N        NFQUEUE number (overrides the config file)\n"
		"  -s, --syslog         log to syslog even in the foreground\n"
		"  -v, --verbose        log debug messages too\n"
		"      --disable-helper disable the kernel helper of an ftpgated that is\n"
		"                       gone (killed, crashed) and exit; refused while\n"
		"                       one is running (systemd's ExecStopPost)\n"
		"  -h, --help           this text\n"
		"Signals: SIGHUP reloads the configuration (and reopens the audit log),\n"
		"SIGTERM/SIGINT stop. ftpgatectl talks to the running daemon.\n",
		CONFIG_DEFAULT_PATH);
}

/* Load the configuration into d->config. At start-up a missing default
 * file means "use the defaults"; a file named with --config must exist. */
static int daemon_config_load(struct daemon *d, struct config *c)
{
	char err[DAEMON_ERR_MAX] = "";
	int ret = config_load(d->config_path, c, err, sizeof(err));

	if (ret == -ENOENT && !d->config_required) {
		log_msg(LOG_INFO, "no configuration file %s; using the built-in defaults",
			d->config_path);
		return 0;
	}
	if (ret == -ENOENT) {
		log_msg(LOG_ERR, "configuration file %s does not exist; create it or leave out --config",
			d->config_path);
		return ret;
	}
	if (ret < 0)
		log_msg(LOG_ERR, "%s", err[0] ? err : strerror(-ret));
	return ret;
}

static struct cthelper_params daemon_helper_params(const struct config *c)
{
	struct cthelper_params p = {
		.name = CONFIG_HELPER_NAME,
		.queue_number = c->queue_number,
		.expect_max = c->policy.max_pinholes_per_session,
		.expect_timeout_s = c->policy.expect_timeout_s,
		.private_data_length = 0,
	};
	return p;
}

static void daemon_format_endpoint(const struct inet_addr *a, uint16_t port,
				   char *buf, size_t len)
{
	char text[INET_ADDR_STRLEN];

	inet_addr_format(a, text, sizeof(text));
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", text, port);
	else
		snprintf(buf, len, "%s:%u", text, port);
}

/* What the kernel phase did with one action, for the reporting phase. */
struct daemon_outcome {
	int ret;			/* expect_install / expect_remove */
	uint32_t timeout_s;		/* PINHOLE_OPEN: the timeout asked */
	char err[DAEMON_ERR_MAX];	/* the kernel's complaint, if any */
	struct trail_opened opened;	/* PINHOLE_OPEN, installed */
};

static void daemon_expect_request(const struct session_entry *e,
				  const struct session_action *a,
				  struct expect_request *r)
{
	const struct session *s = &e->session;

	memset(r, 0, sizeof(*r));
	r->master_src = s->client;
	r->master_dst = s->server;
	r->master_sport = s->client_port;
	r->master_dport = s->server_port;
	r->source = a->expect_source;
	r->source_port = a->expect_source_port;
	r->destination = a->address;
	r->destination_port = a->port;
	r->helper_name = CONFIG_HELPER_NAME;
}

/* Kernel phase: install the pinhole and record it. */
static void daemon_pinhole_install(struct daemon *d, struct session_entry *e,
				   const struct session_action *a,
				   struct daemon_outcome *o)
{
	struct expect_request r;

	daemon_expect_request(e, a, &r);
	r.timeout_s = d->config.policy.expect_timeout_s;
	o->timeout_s = r.timeout_s;
	o->err[0] = '\0';
	o->ret = expect_install(d->expect, &r, o->err, sizeof(o->err));
	if (o->ret < 0)
		session_pinhole_failed(&e->session);
	else
		trail_pinhole_record(d, e, a, r.timeout_s, &o->opened);
}

/* Reporting phase: say what became of it. */
static void daemon_pinhole_report(struct daemon *d, struct session_entry *e,
				  const struct session_action *a,
				  const struct daemon_outcome *o)
{
	const struct session *s = &e->session;
	char client[64], data[64], control_client[64], control_server[64];

	/* the data connection's source: the client (passive mode) or the
	 * server (active mode), with its port when the policy fixes it */
	if (a->expect_source_port)
		daemon_format_endpoint(&a->expect_source, a->expect_source_port,
				       client, sizeof(client));
	else
		inet_addr_format(&a->expect_source, client, sizeof(client));
	daemon_format_endpoint(&a->address, a->port, data, sizeof(data));
	daemon_format_endpoint(&s->client, s->client_port, control_client, sizeof(control_client));
	daemon_format_endpoint(&s->server, s->server_port, control_server, sizeof(control_server));

	if (o->ret < 0) {
		const char *why = o->err[0] ? o->err : strerror(-o->ret);

		d->stats.pinholes_failed++;
		log_msg(LOG_WARNING, "pinhole not installed: %s -> %s (control %s -> %s): %s",
			client, data, control_client, control_server, why);
		trail_pinhole_failed(d, e, a, why);
		return;
	}
	d->stats.pinholes_opened++;
	log_msg(LOG_NOTICE, "pinhole opened: %s -> %s tcp%s, expires in %us (reply %d to \"%s\"; control %s -> %s, conntrack %u)",
		client, data, a->active ? " (active mode)" : "", o->timeout_s,
		a->reply_code, a->command, control_client, control_server,
		e->conntrack_id);
	trail_pinhole_opened(d, &o->opened);
}

/* Kernel phase: a pinhole whose purpose is over (superseded, transfer
 * done, ABOR, ...). Marked as ours to remove before any later kernel
 * event about it is read. */
static void daemon_pinhole_remove(struct daemon *d, struct session_entry *e,
				  const struct session_action *a,
				  struct daemon_outcome *o)
{
	struct expect_request r;

	daemon_expect_request(e, a, &r);
	o->err[0] = '\0';
	o->ret = expect_remove(d->expect, &r, o->err, sizeof(o->err));
	if (o->ret == 0)
		trail_pinhole_removing(d, e, a);
}

/* Reporting phase of a removal. -ENOENT is the usual case: its data
 * connection used it already. */
static void daemon_pinhole_removed_report(struct daemon *d, struct session_entry *e,
					  const struct session_action *a,
					  const struct daemon_outcome *o)
{
	char data[64];

	daemon_format_endpoint(&a->address, a->port, data, sizeof(data));
	if (o->ret == -ENOENT) {
		log_msg(LOG_DEBUG, "pinhole to %s already gone (%s; conntrack %u)",
			data, session_remove_cause_name(a->cause), e->conntrack_id);
		return;
	}
	if (o->ret < 0) {
		log_msg(LOG_WARNING, "pinhole to %s not removed (%s): %s",
			data, session_remove_cause_name(a->cause),
			o->err[0] ? o->err : strerror(-o->ret));
		return;
	}
	d->stats.pinholes_removed++;
	log_msg(LOG_NOTICE, "pinhole removed (%s): -> %s tcp%s: %s (\"%s\"; conntrack %u)",
		session_remove_cause_name(a->cause), data,
		a->active ? " (active mode)" : "", a->detail, a->command,
		e->conntrack_id);
}

/* The per-client cap, which no single session can see: count the
 * client's live pinholes in the registry (after reading the kernel's
 * news, so that pinholes already used do not count) and turn an approved
 * announcement into a refusal when the client is at the cap. */
static bool daemon_client_capped(struct daemon *d, struct session_entry *e,
				 struct session_action *a)
{
	unsigned n;

	trail_drain_events(d);
	n = pinhole_client_open_count(d->pinholes, &e->session.client);
	if (policy_check_client(&d->config.policy, n) == POLICY_ALLOW)
		return false;
	a->kind = SESSION_ACTION_PINHOLE_REFUSED;
	a->reason = POLICY_REFUSE_CLIENT_CAP;
	snprintf(a->detail, sizeof(a->detail), "%u pinholes open", n);
	session_pinhole_failed(&e->session);
	return true;
}

/* Kernel phase, before the verdict: every expectation the packet's
 * actions install or remove, in order, and the pinhole registry's record
 * of them. Nothing of this packet is logged or audited here (only the
 * outcome of earlier pinholes whose kernel events are read on the way). */
static void daemon_actions_kernel(struct daemon *d, struct session_entry *e,
				  struct session_actions *actions,
				  struct daemon_outcome *outcome)
{
	unsigned i;

	for (i = 0; i < actions->count; i++) {
		struct session_action *a = &actions->item[i];

		if (a->kind == SESSION_ACTION_PINHOLE_OPEN &&
		    !daemon_client_capped(d, e, a))
			daemon_pinhole_install(d, e, a, &outcome[i]);
		else if (a->kind == SESSION_ACTION_PINHOLE_REMOVE)
			daemon_pinhole_remove(d, e, a, &outcome[i]);
	}
}

/* Reporting phase, after the verdict: counters, log lines and audit
 * events of every action, in order. */
static void daemon_actions_report(struct daemon *d, struct session_entry *e,
				  const struct session_actions *actions,
				  const struct daemon_outcome *outcome)
{
	const struct session *s = &e->session;
	char control_client[64], control_server[64], data[64];
	unsigned i;

	daemon_format_endpoint(&s->client, s->client_port, control_client, sizeof(control_client));
	daemon_format_endpoint(&s->server, s->server_port, control_server, sizeof(control_server));
	for (i = 0; i < actions->count; i++) {
		const struct session_action *a = &actions->item[i];

		switch (a->kind) {
		case SESSION_ACTION_PINHOLE_OPEN:
			daemon_pinhole_report(d, e, a, &outcome[i]);
			break;
		case SESSION_ACTION_PINHOLE_REFUSED:
			if (a->reason < POLICY_REASON_COUNT)
				d->stats.refused[a->reason]++;
			if (a->address.family)
				daemon_format_endpoint(&a->address, a->port, data, sizeof(data));
			else
				snprintf(data, sizeof(data), "-");
			/* active mode: the client announced in its command,
			 * and the server's reply decided */
			log_msg(LOG_NOTICE, "pinhole refused (%s): %s; announced %s in \"%s\"%s%s%s%s (control %s -> %s, conntrack %u)",
				policy_reason_name(a->reason), policy_reason_text(a->reason),
				data, a->active ? a->command : a->reply,
				a->active ? ", reply " : "", a->active ? a->reply : "",
				a->detail[0] ? ": " : "", a->detail,
				control_client, control_server, e->conntrack_id);
			break;
		case SESSION_ACTION_LINE_REJECTED:
			d->stats.lines_rejected++;
			log_msg(session_line_rule_is_attack(a->rule) ? LOG_WARNING : LOG_INFO,
				"line rejected from %s (%s%s): %s (control %s -> %s)",
				a->direction == SESSION_DIR_ORIGINAL ? "client" : "server",
				session_line_rule_name(a->rule),
				session_line_rule_is_attack(a->rule) ? ", possible attack" : "",
				a->detail, control_client, control_server);
			break;
		case SESSION_ACTION_PINHOLE_REMOVE:
			daemon_pinhole_removed_report(d, e, a, &outcome[i]);
			break;
		case SESSION_ACTION_ENCRYPTED:
			d->stats.sessions_encrypted++;
			log_msg(LOG_NOTICE, "%s (\"%s\" answered \"%s\"; control %s -> %s, conntrack %u)",
				SESSION_ENCRYPTED_TEXT, a->command, a->reply,
				control_client, control_server, e->conntrack_id);
			break;
		case SESSION_ACTION_STREAM_LOST:
			d->stats.streams_lost++;
			log_msg(LOG_WARNING, "stopped tracking control connection %s -> %s: %s; its traffic still passes but it gets no pinholes",
				control_client, control_server,
				a->detail[0] ? a->detail : "buffer bound reached");
			break;
		case SESSION_ACTION_STREAM_RESYNC:
			d->stats.streams_resynchronized++;
			log_msg(LOG_WARNING, "control connection %s -> %s (conntrack %u): %s; outstanding commands forgotten, announcements in the skipped bytes get no pinhole; packets passed uninspected because ftpgated was too slow or down (see queue_overruns_total; a full queue, queue-max-packets, is counted nowhere)",
				control_client, control_server, e->conntrack_id, a->detail);
			break;
		case SESSION_ACTION_DATA_TROUBLE:
			log_msg(LOG_NOTICE, "server reports data-connection trouble: \"%s\" to \"%s\" (control %s -> %s, conntrack %u)",
				a->reply, a->command[0] ? a->command : "-",
				control_client, control_server, e->conntrack_id);
			break;
		}
		/* the audit log's record of it */
		trail_action(d, e, a);
	}
	if (actions->dropped) {
		d->stats.actions_dropped += actions->dropped;
		log_msg(LOG_WARNING, "%u events of control connection %s -> %s not handled (more than %d in one packet)",
			actions->dropped, control_client, control_server, SESSION_ACTIONS_MAX);
	}
}

static bool daemon_session_matches(const struct session *s,
				   const struct queue_packet *qp)
{
	return inet_addr_equal(&s->client, &qp->orig_src) &&
	       inet_addr_equal(&s->server, &qp->orig_dst) &&
	       s->client_port == qp->orig_sport && s->server_port == qp->orig_dport;
}

/* Find the session of this packet's control connection, creating it for a
 * packet that can start one (a SYN, or data after a restart). */
static struct session_entry *daemon_session(struct daemon *d,
					    const struct queue_packet *qp,
					    const struct packet_info *pkt,
					    uint64_t now)
{
	struct session_entry *e = session_table_find(d->sessions, qp->conntrack_id);
	struct session_limits limits = {
		.buffer_max = d->config.session_buffer_max,
		.line_max = d->config.line_max,
	};

	/* conntrack IDs are reused once a conntrack is gone */
	if (e && !daemon_session_matches(&e->session, qp)) {
		trail_session_ended(d, e, "replaced", now);
		session_table_remove(d->sessions, e);
		e = NULL;
	}
	if (e || pkt->rst || pkt->fin || (!pkt->syn && pkt->payload_len == 0))
		return e;
	e = session_table_add(d->sessions, qp->conntrack_id);
	if (!e) {
		bool full = errno == ENOSPC;

		/* Counted and audited once per connection, at the client's
		 * SYN. Every later packet with data tries again (the
		 * connection is picked up mid-stream once there is room) and
		 * must not count it again; a connection first seen
		 * mid-stream while the table is full is not counted. */
		if (!pkt->syn || qp->reply_direction)
			return NULL;
		d->stats.sessions_untracked++;
		trail_session_untracked(d, qp, full ? "session-table-full" : "out-of-memory");
		if (now - d->last_full_warning_ms >= 10000 || !d->last_full_warning_ms) {
			d->last_full_warning_ms = now;
			log_msg(LOG_WARNING, "not tracking a new control connection: %s (%u tracked, max-sessions %u); its traffic passes without pinholes; raise max-sessions",
				full ? "session table full" : "out of memory",
				session_table_count(d->sessions), d->config.max_sessions);
		}
		return NULL;
	}
	session_init(&e->session, &qp->orig_src, qp->orig_sport, &qp->orig_dst,
		     qp->orig_dport, &limits);
	e->started_ms = now;
	e->midstream = !pkt->syn;
	trail_session_started(d, e, pkt->syn);
	return e;
}

static void daemon_packet(const struct queue_packet *qp, void *data)
{
	struct daemon *d = data;
	/* Not zeroed whole (7 KB per packet): session_packet() clears each
	 * item it adds and reads no item it did not write, so the header
	 * fields are all that need a value. Likewise outcome[i] is written
	 * by the kernel phase for each action that reads it. */
	struct session_actions actions;
	struct daemon_outcome outcome[SESSION_ACTIONS_MAX];
	struct packet_info pkt;
	struct session_entry *e = NULL;
	enum session_direction dir = SESSION_DIR_ORIGINAL;
	uint64_t now = daemon_now_ms();

	actions.count = actions.dropped = 0;
	actions.commands = actions.replies = actions.commands_forgotten = 0;
	d->stats.packets++;
	if (!qp->has_conntrack || qp->l4proto != IPPROTO_TCP ||
	    packet_parse(qp->data, qp->len, &pkt) < 0) {
		d->stats.packets_unparsed++;
		goto verdict;
	}
	e = daemon_session(d, qp, &pkt, now);
	if (!e)
		goto verdict;
	dir = qp->reply_direction ? SESSION_DIR_REPLY : SESSION_DIR_ORIGINAL;
	e->session.last_seen_ms = now;
	e->packets++;
	session_packet(&e->session, &d->config.policy, dir, &pkt, now, &actions);
	d->stats.commands_parsed += actions.commands;
	d->stats.commands_forgotten += actions.commands_forgotten;
	d->stats.replies_parsed += actions.replies;
	daemon_actions_kernel(d, e, &actions, outcome);
verdict:
	/* Always after the kernel phase: an approved pinhole exists before
	 * the reply that announced it leaves the gateway. */
	if (queue_accept(d->queue, qp->packet_id) < 0)
		log_msg(LOG_WARNING, "verdict for packet %u failed", qp->packet_id);
	if (!e)
		return;
	/* The log and the audit trail, off the packet's path. */
	daemon_actions_report(d, e, &actions, outcome);
	if (pkt.fin)
		e->fin_seen[dir] = true;
	if (pkt.rst || (e->fin_seen[0] && e->fin_seen[1])) {
		trail_session_ended(d, e, pkt.rst ? "reset" : "closed", now);
		session_table_remove(d->sessions, e);
	}
}

static int daemon_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->signal_fd < 0 ? -errno : 0;
}

static void daemon_reload(struct daemon *d)
{
	struct config fresh;
	struct cthelper_params old = daemon_helper_params(&d->config), now;
	char err[DAEMON_ERR_MAX] = "";

	config_init_defaults(&fresh);
	if (daemon_config_load(d, &fresh) < 0) {
		config_free(&fresh);
		log_msg(LOG_ERR, "reload failed; still running on the previous configuration");
		trail_reopen(d);	/* log rotation still works */
		trail_config_reloaded(d, false, "the file has an error (see the daemon's log); the previous configuration stays");
		return;
	}
	if (fresh.queue_number != d->config.queue_number) {
		log_msg(LOG_WARNING, "queue-number changed to %u: that needs a restart; still on queue %u",
			fresh.queue_number, d->config.queue_number);
		fresh.queue_number = d->config.queue_number;
	}
	if (fresh.queue_max_packets != d->config.queue_max_packets ||
	    fresh.queue_rcvbuf_bytes != d->config.queue_rcvbuf_bytes) {
		log_msg(LOG_WARNING, "queue-max-packets and queue-receive-buffer-bytes changes need a restart; still %u packets, %u bytes",
			d->config.queue_max_packets, d->config.queue_rcvbuf_bytes);
		fresh.queue_max_packets = d->config.queue_max_packets;
		fresh.queue_rcvbuf_bytes = d->config.queue_rcvbuf_bytes;
	}
	if (strcmp(fresh.control_socket, d->config.control_socket) != 0 ||
	    strcmp(fresh.control_group, d->config.control_group) != 0) {
		log_msg(LOG_WARNING, "control-socket and control-socket-group changes need a restart; still on %s",
			d->config.control_socket);
		memcpy(fresh.control_socket, d->config.control_socket, sizeof(fresh.control_socket));
		memcpy(fresh.control_group, d->config.control_group, sizeof(fresh.control_group));
	}
	config_free(&d->config);
	d->config = fresh;
	session_table_set_max(d->sessions, d->config.max_sessions);
	trail_reopen(d);
	trail_check_events(d);
	pressure_configure(&d->pressure, d->config.pressure_window_s, d->config.time_wait_s);
	d->metrics_written_ms = 0;
	now = daemon_helper_params(&d->config);
	if (now.expect_max != old.expect_max || now.expect_timeout_s != old.expect_timeout_s) {
		if (cthelper_register(&now, err, sizeof(err)) < 0) {
			log_msg(LOG_ERR, "reload: cannot update the helper's expectation policy: %s", err);
			/* perhaps changed for one family only: from now
			 * on every pinhole sets its timeout itself */
			expect_set_policy_timeout(d->expect, 0);
		} else {
			expect_set_policy_timeout(d->expect, now.expect_timeout_s);
		}
	}
	log_msg(LOG_NOTICE, "configuration reloaded from %s (%u sessions kept)",
		d->config_path, session_table_count(d->sessions));
	trail_config_reloaded(d, true, NULL);
}

static void daemon_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			daemon_reload(d);
		else
			d->stopping = true;
	}
}

static void daemon_idle_cb(struct session_entry *e, void *data)
{
	struct daemon *d = data;

	trail_session_ended(d, e, "idle", d->last_gc_ms);
}

static void daemon_gc(struct daemon *d, uint64_t now)
{
	unsigned removed;

	if (now - d->last_gc_ms < DAEMON_GC_INTERVAL_MS)
		return;
	d->last_gc_ms = now;
	removed = session_table_expire_each(d->sessions, now,
					    (uint64_t)d->config.session_idle_s * 1000,
					    daemon_idle_cb, d);
	if (removed)
		log_msg(LOG_DEBUG, "forgot %u idle control connections", removed);
	trail_tick(d, now);
	answer_metrics_tick(d, now);
}

/* queue_receive() said ENOBUFS: our socket's receive buffer was full, so
 * the kernel let packets pass uninspected (fail-open) and told us once.
 * queue.c counted it (queue_overruns_total); reading goes on. Say it once
 * per burst, with the fix, and in the audit log. */
static void daemon_queue_overrun(struct daemon *d)
{
	uint64_t now = daemon_now_ms();
	bool new_burst = d->queue_overrun_last_ms == 0 ||
			 now - d->queue_overrun_last_ms >= DAEMON_OVERRUN_QUIET_MS;

	d->queue_overrun_last_ms = now;
	if (!new_burst && now - d->queue_overrun_warned_ms < DAEMON_OVERRUN_REPEAT_MS)
		return;
	d->queue_overrun_warned_ms = now;
	log_msg(LOG_WARNING, "queue %u: ftpgated's receive buffer (queue-receive-buffer-bytes = %u) was full, so the kernel let packets pass uninspected; raise queue-receive-buffer-bytes (a restart applies it) or find what slows ftpgated down; queue_overruns_total is now %lu",
		d->config.queue_number, d->config.queue_rcvbuf_bytes,
		queue_overruns(d->queue));
	trail_events_lost(d, "queue", queue_overruns(d->queue));
}

static int daemon_run(struct daemon *d)
{
	struct pollfd fds[DAEMON_POLL_MAX];
	unsigned n_ctl;

	while (!d->stopping) {
		int ret;

		fds[0] = (struct pollfd){ .fd = queue_fd(d->queue), .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = events_fd(d->events), .events = POLLIN };
		n_ctl = ctl_pollfds(d->ctl, &fds[3], DAEMON_POLL_MAX - 3);
		ret = poll(fds, 3 + n_ctl, DAEMON_GC_INTERVAL_MS);
		if (ret < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "poll: %s", strerror(errno));
			return -errno;
		}
		if (ret < 0)
			continue;
		if (fds[1].revents & POLLIN)
			daemon_signal(d);
		/* Kernel events before packets: what became of earlier
		 * pinholes is settled before new ones are recorded. */
		if (fds[2].revents & POLLIN)
			trail_drain_events(d);
		if (fds[0].revents & POLLIN) {
			ret = queue_receive(d->queue, daemon_packet, d);
			if (ret == -ENOBUFS)
				daemon_queue_overrun(d);
			else if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
				log_msg(LOG_ERR, "reading queue %u: %s", d->config.queue_number,
					strerror(-ret));
		}
		ctl_process(d->ctl, &fds[3], n_ctl, daemon_now_ms(), answer_request, d);
		daemon_gc(d, daemon_now_ms());
	}
	return 0;
}

/* Stop the kernel from queueing to us first, then release what is already
 * queued: packets still in the queue when it goes away would be dropped. */
static void daemon_shutdown(struct daemon *d)
{
	char err[DAEMON_ERR_MAX] = "";
	int i;

	notify_send("STOPPING=1");
	if (cthelper_set_enabled(CONFIG_HELPER_NAME, false, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "cannot disable the helper: %s", err);
	for (i = 0; i < 10 && queue_receive(d->queue, daemon_packet, d) > 0; i++)
		;
	{
		unsigned long refused = 0;

		for (i = 0; i < POLICY_REASON_COUNT; i++)
			if (i != POLICY_ALLOW)
				refused += d->stats.refused[i];
		log_msg(LOG_NOTICE, "stopping: %lu packets, %lu pinholes opened, %lu refused, %lu not installed, %lu removed, %lu control channels encrypted",
			d->stats.packets, d->stats.pinholes_opened, refused,
			d->stats.pinholes_failed, d->stats.pinholes_removed,
			d->stats.sessions_encrypted);
	}
	trail_daemon_stopped(d);
}

/* The control socket's group: a name or a number; "" is our own. */
static int daemon_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group *g;
	char *end;
	unsigned long v;

	*gid = (gid_t)-1;
	if (name[0] == '\0')
		return 0;
	g = getgrnam(name);
	if (g != NULL) {
		*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno == 0 && *end == '\0' && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	snprintf(err, errlen, "control-socket-group '%s' is not a group on this system; create it (groupadd) or fix the setting",
		 name);
	return -ENOENT;
}

/* Everything that watches and reports: the pinhole registry, the
 * passive-port pressure, a query socket and the control socket (the
 * kernel's event stream is opened first thing in main). */
static int daemon_observe(struct daemon *d, char *err, size_t errlen)
{
	gid_t gid;
	int rc;

	rc = pinhole_table_create(&d->pinholes, DAEMON_PINHOLES_MAX);
	if (rc == 0)
		rc = pressure_init(&d->pressure, d->config.pressure_window_s,
				   d->config.time_wait_s);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	rc = ctnl_open(&d->ctnl, err, errlen);
	if (rc == 0)
		rc = daemon_group(d->config.control_group, &gid, err, errlen);
	if (rc == 0)
		rc = ctl_open(&d->ctl, d->config.control_socket, gid, err, errlen);
	return rc;
}

/* --disable-helper: after an ftpgated died without its shutdown (SIGKILL,
 * a crash), its helper stays enabled. The kernel then queues the first
 * packet of every new FTP control connection to nobody, and the queue
 * bypass lets it through without the conntrack confirmation that normally
 * follows (it is skipped with the rest of the hook), so the server's answer
 * is INVALID and a stateful gateway drops it: new FTP sessions fail until
 * ftpgated runs again. Disabling the helper makes the kernel skip it: FTP
 * works, without pinholes. Refused while a process reads the helper's
 * queue, which would be a running ftpgated. Exit 0 when the helper is
 * disabled (or was, or does not exist), 1 otherwise. */
static int daemon_disable_helper(void)
{
	char err[DAEMON_ERR_MAX] = "";
	struct queue_proc_row row;
	uint16_t number;
	bool enabled;
	int ret;

	ret = cthelper_query(CONFIG_HELPER_NAME, &number, &enabled, err, sizeof(err));
	if (ret == -ENOENT) {
		printf("ftpgated: helper \"%s\" is not registered; nothing to disable\n",
		       CONFIG_HELPER_NAME);
		return 0;
	}
	if (ret < 0) {
		fprintf(stderr, "ftpgated: cannot read helper \"%s\": %s\n",
			CONFIG_HELPER_NAME, err[0] ? err : strerror(-ret));
		return 1;
	}
	if (queue_proc_read(number, &row) == 0) {
		fprintf(stderr, "ftpgated: queue %u of helper \"%s\" is read by netlink port %u: an ftpgated is running; stop it with SIGTERM (systemctl stop ftpgated), which disables the helper itself\n",
			number, CONFIG_HELPER_NAME, row.portid);
		return 1;
	}
	if (!enabled) {
		printf("ftpgated: helper \"%s\" (queue %u) is already disabled\n",
		       CONFIG_HELPER_NAME, number);
		return 0;
	}
	ret = cthelper_set_enabled(CONFIG_HELPER_NAME, false, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "ftpgated: cannot disable helper \"%s\": %s\n",
			CONFIG_HELPER_NAME, err[0] ? err : strerror(-ret));
		return 1;
	}
	printf("ftpgated: helper \"%s\" (queue %u) disabled: nobody reads its queue; new FTP control connections pass without pinholes until ftpgated starts again\n",
	       CONFIG_HELPER_NAME, number);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "queue", required_argument, NULL, 'q' },
		{ "syslog", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "disable-helper", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .config_path = CONFIG_DEFAULT_PATH, .signal_fd = -1,
			    .audit = { .fd = -1 } };
	bool foreground = false, to_syslog = false, verbose = false;
	bool disable_helper = false;
	long queue_override = -1;
	char err[DAEMON_ERR_MAX] = "", *end;
	struct cthelper_params helper;
	struct queue_params qparams;
	int opt, ret, status = 1;
	unsigned adopted;

	while ((opt = getopt_long(argc, argv, "fc:q:svh", options, NULL)) != -1) {
		switch (opt) {
		case 'f': foreground = true; break;
		case 'c': d.config_path = optarg; d.config_required = true; break;
		case 'q':
			errno = 0;
			queue_override = strtol(optarg, &end, 10);
			if (errno || *end || queue_override < 0 || queue_override > 65535) {
				fprintf(stderr, "ftpgated: --queue wants a number 0-65535, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 's': to_syslog = true; break;
		case 'v': verbose = true; break;
		case 'h': daemon_usage(stdout); return 0;
		case 'D': disable_helper = true; break;
		default: daemon_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ftpgated: unexpected argument '%s'\n", argv[optind]);
		daemon_usage(stderr);
		return 2;
	}
	if (disable_helper)
		return daemon_disable_helper();
	log_open("ftpgated", to_syslog || !foreground, verbose);

	config_init_defaults(&d.config);
	if (daemon_config_load(&d, &d.config) < 0)
		goto out;
	if (queue_override >= 0)
		d.config.queue_number = (uint16_t)queue_override;

	/* Listen to conntrack events before anything can queue to us: the
	 * kernel gives a connection its event cache only if someone listens
	 * when it is created (nf_conntrack_events = 2), and without one no
	 * expectation of that control connection reports its end. Harmless
	 * for a running instance, so still before the queue. */
	ret = events_open(&d.events, err, sizeof(err));
	if (ret < 0) {
		log_msg(LOG_ERR, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	trail_check_events(&d);

	qparams = (struct queue_params){
		.number = d.config.queue_number,
		.max_packets = d.config.queue_max_packets,
		.rcvbuf_bytes = d.config.queue_rcvbuf_bytes,
	};
	ret = queue_open(&d.queue, &qparams, err, sizeof(err));
	if (ret < 0) {
		log_msg(LOG_ERR, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	helper = daemon_helper_params(&d.config);
	ret = cthelper_register(&helper, err, sizeof(err));
	if (ret < 0) {
		log_msg(LOG_ERR, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	if (expect_open(&d.expect, err, sizeof(err)) < 0 ||
	    session_table_create(&d.sessions, d.config.max_sessions) < 0 ||
	    daemon_signals(&d) < 0) {
		log_msg(LOG_ERR, "start-up failed: %s", err[0] ? err : strerror(errno));
		goto out_disable;
	}
	/* the policy just registered: a pinhole with its timeout needs no
	 * update after creation */
	expect_set_policy_timeout(d.expect, helper.expect_timeout_s);
	d.foreground = foreground;
	d.start_ms = daemon_now_ms();
	d.stats.start_time_s = (uint64_t)(audit_wall_ms() / 1000);
	trail_open(&d);
	if (daemon_observe(&d, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "start-up failed: %s", err);
		goto out_disable;
	}
	if (!foreground && daemon(0, 0) < 0) {
		log_msg(LOG_ERR, "cannot go to the background: %s", strerror(errno));
		goto out_disable;
	}
	adopted = trail_adopt(&d);
	trail_daemon_started(&d, adopted);
	log_msg(LOG_NOTICE, "helper \"%s\" registered on queue %u (IPv4, IPv6; expectation timeout %us, at most %u per control connection); audit log %s, control socket %s; ready",
		CONFIG_HELPER_NAME, d.config.queue_number, d.config.policy.expect_timeout_s,
		d.config.policy.max_pinholes_per_session, d.audit_path,
		ctl_path(d.ctl));
	/* Type=notify: nftables.service may load the ruleset naming our
	 * helper only once this arrives. */
	if (notify_send("READY=1") < 0)
		log_msg(LOG_WARNING, "cannot tell the service manager we are ready ($NOTIFY_SOCKET)");

	if (daemon_run(&d) == 0)
		status = 0;
	daemon_shutdown(&d);
	goto out;

out_disable:
	cthelper_set_enabled(CONFIG_HELPER_NAME, false, err, sizeof(err));
out:
	ctl_close(d.ctl);
	events_close(d.events);
	ctnl_close(d.ctnl);
	pinhole_table_destroy(d.pinholes);
	pressure_free(&d.pressure);
	trail_close(&d);
	if (d.signal_fd >= 0)
		close(d.signal_fd);
	session_table_destroy(d.sessions);
	if (d.expect)
		expect_close(d.expect);
	if (d.queue)
		queue_close(d.queue);
	config_free(&d.config);
	log_close();
	return status;
}
