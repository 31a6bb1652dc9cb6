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
#include "netns.h"
#include "notify.h"
#include "packet.h"

#define DAEMON_GC_INTERVAL_MS 1000
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
		.enabled = !c->capture_replies,
	};
	return p;
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
		auditlog_reopen(d);	/* log rotation still works */
		auditlog_config_reloaded(d, false, "the file has an error (see the daemon's log); the previous configuration stays");
		return;
	}
	if (fresh.queue_number != d->config.queue_number) {
		log_msg(LOG_WARNING, "queue-number changed to %u: that needs a restart; still on queue %u",
			fresh.queue_number, d->config.queue_number);
		fresh.queue_number = d->config.queue_number;
	}
	if (fresh.capture_replies != d->config.capture_replies ||
	    fresh.capture_queue_number != d->config.capture_queue_number ||
	    fresh.capture_log_group != d->config.capture_log_group) {
		log_msg(LOG_WARNING, "capture, capture-queue-number and capture-log-group changes need a restart; still capture = %s",
			d->config.capture_replies ? "replies" : "helper");
		fresh.capture_replies = d->config.capture_replies;
		fresh.capture_queue_number = d->config.capture_queue_number;
		fresh.capture_log_group = d->config.capture_log_group;
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
	auditlog_reopen(d);
	pinholes_check_events(d);
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
	sets_reload(d);
	grants_reload(d);
	log_msg(LOG_NOTICE, "configuration reloaded from %s (%u sessions kept)",
		d->config_path, session_table_count(d->sessions));
	auditlog_config_reloaded(d, true, NULL);
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

	auditlog_session_ended(d, e, "idle", d->last_gc_ms);
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
	pinholes_tick(d, now);
	sets_tick(d, now);
	grants_tick(d, now);
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
		capture_queue_number(d), d->config.queue_rcvbuf_bytes,
		queue_overruns(d->queue));
	auditlog_events_lost(d, "queue", queue_overruns(d->queue));
}

/* The time each part of one round of the main loop took. */
struct daemon_round {
	uint64_t start_ms, mark_ms;
	uint64_t signals_ms, events_ms, packets_ms, control_ms, timers_ms;
	int packets;
};

/* Milliseconds since the round's last mark; the mark moves to now. */
static uint64_t daemon_lap(struct daemon_round *r)
{
	uint64_t now = daemon_now_ms(), took = now - r->mark_ms;

	r->mark_ms = now;
	return took;
}

/* A round over DAEMON_SLOW_LOOP_MS: counted, and said (rate-limited)
 * with the part that took the time. */
static void daemon_round_end(struct daemon *d, const struct daemon_round *r)
{
	uint64_t now = daemon_now_ms(), took = now - r->start_ms;

	if (took < DAEMON_SLOW_LOOP_MS)
		return;
	d->stats.loop_slow++;
	if (d->slow_loop_warned_ms && now - d->slow_loop_warned_ms < DAEMON_SLOW_REPEAT_MS)
		return;
	d->slow_loop_warned_ms = now;
	log_msg(LOG_WARNING, "one round of the main loop took %llu ms (signals %llu ms, kernel events %llu ms, %d queued packets %llu ms, control socket %llu ms, timers %llu ms): packets and ftpgatectl requests waited meanwhile; ftpgated is short of CPU or a kernel request was slow; loop_slow_total is now %llu",
		(unsigned long long)took, (unsigned long long)r->signals_ms,
		(unsigned long long)r->events_ms, r->packets > 0 ? r->packets : 0,
		(unsigned long long)r->packets_ms, (unsigned long long)r->control_ms,
		(unsigned long long)r->timers_ms, (unsigned long long)d->stats.loop_slow);
}

/* Read the queue; an overrun or an error is said. Returns the packets
 * handled (or a negative errno). */
static int daemon_packets(struct daemon *d)
{
	int ret = queue_receive(d->queue, inspect_packet, d);

	if (ret == -ENOBUFS)
		daemon_queue_overrun(d);
	else if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
		log_msg(LOG_ERR, "reading queue %u: %s", capture_queue_number(d),
			strerror(-ret));
	return ret;
}

/* One round, after poll: signals, kernel events before packets (what
 * became of earlier pinholes is settled before new ones are recorded),
 * packets (held ones and copies, in the kernel's order), the control
 * socket, timers. Each part is timed. */
static void daemon_round(struct daemon *d, struct pollfd *fds, unsigned n_ctl)
{
	struct daemon_round r = { 0 };

	r.start_ms = r.mark_ms = daemon_now_ms();
	if (fds[1].revents & POLLIN)
		daemon_signal(d);
	r.signals_ms = daemon_lap(&r);
	if (fds[2].revents & POLLIN)
		pinholes_drain_events(d);
	r.events_ms = daemon_lap(&r);
	/* POLLERR: an overrun left for the next receive (queue.h) */
	if (fds[0].revents & (POLLIN | POLLERR))
		r.packets = daemon_packets(d);
	capture_round_end(d, r.packets);
	r.packets_ms = daemon_lap(&r);
	ctl_process(d->ctl, &fds[3], n_ctl, daemon_now_ms(), answer_request, d);
	r.control_ms = daemon_lap(&r);
	daemon_gc(d, daemon_now_ms());
	r.timers_ms = daemon_lap(&r);
	daemon_round_end(d, &r);
}

static int daemon_run(struct daemon *d)
{
	struct pollfd fds[DAEMON_POLL_MAX];
	unsigned n_ctl;

	while (!d->stopping) {
		fds[0] = (struct pollfd){ .fd = queue_fd(d->queue), .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = events_fd(d->events), .events = POLLIN };
		n_ctl = ctl_pollfds(d->ctl, &fds[3], DAEMON_POLL_MAX - 3);
		if (poll(fds, 3 + n_ctl, DAEMON_GC_INTERVAL_MS) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "poll: %s", strerror(errno));
			return -errno;
		}
		daemon_round(d, fds, n_ctl);
	}
	return 0;
}

/* Said at start when this network namespace belongs to a container's
 * user namespace, where newer kernels drop rewritten packets (netns.h):
 * the NAT rewrites (doc/nat.md) would then fail. */
static void daemon_netns_note(void)
{
	int rc = netns_owner_initial(NULL);

	if (rc == 0)
		log_msg(LOG_WARNING, "this network namespace is owned by a user namespace other than the host's (a container): kernels with the 2026 nfqnl_mangle change drop every packet whose payload is rewritten there, so on a NAT gateway the 227, PORT and EPRT rewrites would fail (nat_rewrites_total grows, the transfers do not); run ftpgated in the host's user namespace");
	else if (rc < 0)
		log_msg(LOG_INFO, "cannot tell which user namespace owns this network namespace (%s)", strerror(-rc));
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
	for (i = 0; i < 10 && queue_receive(d->queue, inspect_packet, d) > 0; i++)
		;
	log_msg(LOG_NOTICE, "stopping: %lu packets, %lu pinholes opened, %lu refused, %lu not installed, %lu removed, %lu control channels encrypted",
		d->stats.packets, d->stats.pinholes_opened,
		(unsigned long)stats_refused_total(&d->stats),
		d->stats.pinholes_failed, d->stats.pinholes_removed,
		d->stats.sessions_encrypted);
	grants_stop(d);
	auditlog_daemon_stopped(d);
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
			    .audit = { .fd = -1 }, .kernel = &kernel_ops_netlink };
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
	pinholes_check_events(&d);

	qparams = (struct queue_params){
		.number = capture_queue_number(&d),
		.max_packets = d.config.queue_max_packets,
		.rcvbuf_bytes = d.config.queue_rcvbuf_bytes,
	};
	ret = queue_open(&d.queue, &qparams, err, sizeof(err));
	if (ret < 0) {
		log_msg(LOG_ERR, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	ret = capture_open(&d, err, sizeof(err));
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
	auditlog_open(&d);
	if (daemon_observe(&d, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "start-up failed: %s", err);
		goto out_disable;
	}
	if (!foreground && daemon(0, 0) < 0) {
		log_msg(LOG_ERR, "cannot go to the background: %s", strerror(errno));
		goto out_disable;
	}
	sets_start(&d);
	grants_start(&d);
	daemon_netns_note();
	adopted = pinholes_adopt(&d);
	auditlog_daemon_started(&d, adopted);
	if (d.config.capture_replies)
		log_msg(LOG_NOTICE, "helper \"%s\" registered disabled (capture = replies: the ruleset holds the server's data segments on queue %u and copies the rest to NFLOG group %u; IPv4, IPv6; expectation timeout %us, at most %u per control connection); audit log %s, control socket %s; ready",
			CONFIG_HELPER_NAME, d.config.capture_queue_number,
			d.config.capture_log_group, d.config.policy.expect_timeout_s,
			d.config.policy.max_pinholes_per_session, d.audit_path,
			ctl_path(d.ctl));
	else
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
	grants_free(&d);
	sets_close(&d);
	ctl_close(d.ctl);
	events_close(d.events);
	ctnl_close(d.ctnl);
	pinhole_table_destroy(d.pinholes);
	pressure_free(&d.pressure);
	auditlog_close(&d);
	if (d.signal_fd >= 0)
		close(d.signal_fd);
	session_table_destroy(d.sessions);
	if (d.expect)
		expect_close(d.expect);
	capture_close(&d);
	if (d.queue && queue_close(d.queue, err, sizeof(err)) < 0)
		log_msg(LOG_WARNING, "%s", err);
	config_free(&d.config);
	log_close();
	return status;
}
