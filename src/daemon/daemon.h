/* daemon.h: the state of ftpgated, shared by its files: ftpgated.c (start,
 * event loop, reload, shutdown), inspect.c (one queued packet: session,
 * pinholes, verdict), action.c (each session action kind: kernel step,
 * counters, log and audit lines), auditlog.c (the audit log), pinholes.c
 * (what became of every pinhole, from the kernel's events) and answer.c
 * (answers to ftpgatectl). Private to the daemon executable. */
#ifndef FTPGATE_DAEMON_H
#define FTPGATE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "ctl.h"
#include "ctnl.h"
#include "events.h"
#include "expect.h"
#include "ftp_rewrite.h"
#include "grant.h"
#include "kernel_ops.h"
#include "pinhole.h"
#include "pressure.h"
#include "queue.h"
#include "session.h"
#include "nftset.h"
#include "serverset.h"
#include "session_table.h"
#include "stats.h"

#define DAEMON_VERSION FTPGATE_VERSION	/* meson.build's version */
#define DAEMON_PINHOLES_MAX 65536	/* pinholes recorded at once */
#define DAEMON_ERR_MAX 512		/* an error message with its cause */
/* A control connection picked up mid-stream this soon after ftpgated
 * started (a restart adopting the sessions in progress) counts as
 * greeted in strict mode; later pickups (a freed table slot, a missed
 * SYN, idle expiry) do not. doc/protocol.md "Pickup". */
#define DAEMON_PICKUP_TRUST_MS 60000
/* One round of the main loop (events, packets, control socket, timers)
 * that takes longer than this holds up the control socket and the
 * packets behind it: said in the log (at most every
 * DAEMON_SLOW_REPEAT_MS) and counted (loop_slow_total). */
#define DAEMON_SLOW_LOOP_MS 1000
#define DAEMON_SLOW_REPEAT_MS 10000

/* The protected servers' sets in the ruleset (sets.c). */
enum sets_family { SETS_IPV4, SETS_IPV6, SETS_FAMILIES };

struct daemon_sets {
	struct nftset *nft;		/* NULL: nft-table = none, or no socket */
	struct serverset_entry *want;	/* SERVERSET_MAX, one family at a time */
	struct nftelem *have;		/* SERVERSET_MAX + 1 */
	uint64_t checked_ms;
	int said[SETS_FAMILIES];	/* enum stats_sets_problem last logged,
					   -1: in sync said (or nothing yet) */
};

/* The per-client grants of encrypted sessions (grants.c). */
struct daemon_grants {
	struct grant_table *table;	/* NULL: not started (host tests) */
	struct nftelem *have, *want;	/* listing and comparing buffers */
	uint64_t checked_ms;
	bool said[SETS_FAMILIES];	/* a set's trouble was logged */
	/* the decision of the ENCRYPTED action of the packet being
	 * handled, from the kernel phase to the reporting phase */
	enum grant_reason last_reason;
	struct grant last;
	bool last_shared;
	char last_err[DAEMON_ERR_MAX];
};

struct daemon;
struct ctnl_msg;

/* What the packet path (inspect.c, action.c, auditlog.c, pinholes.c)
 * asks of grants.c; NULL in the host tests of the packet path (no grants
 * there). */
struct grant_hooks {
	/* kernel phase of SESSION_ACTION_ENCRYPTED: decide and add the
	 * element, before the verdict */
	void (*encrypted)(struct daemon *d, struct session_entry *e,
			  const struct session_action *a);
	/* reporting phase of the same action: count, log, audit */
	void (*report)(struct daemon *d, struct session_entry *e,
		       const struct session_action *a);
	/* every end of a tracked session (auditlog_session_ended) */
	void (*session_ended)(struct daemon *d, struct session_entry *e,
			      const char *reason, uint64_t now_ms);
	/* a conntrack NEW event of an ordinary connection */
	void (*connection_new)(struct daemon *d, const struct ctnl_msg *m);
};

/* Room for a rewritten line: longer than line-max-bytes can be. */
#define REWRITE_LINE_MAX 512

/* One line to rewrite in a packet (rewrite.c). */
struct rewrite_job {
	const char *what;		/* "227", "PORT", "EPRT" */
	struct ftp_rewrite_span span;
	struct ftp_rewrite res;
	char out[REWRITE_LINE_MAX];
	char from[FLOW_STRLEN], to[FLOW_STRLEN];
};

/* The rewrite of a masqueraded client's PORT/EPRT, decided before the
 * session reads the packet when the pinhole opens at the command
 * (active-open = command; rewrite_plan_decide), carried out at its verdict. */
struct rewrite_plan {
	bool decided;			/* rewrite_plan_decide took this packet */
	bool on;			/* job is to be sent */
	uint16_t port, pub;		/* the client's port, the public one */
	struct rewrite_job job;
};

struct daemon {
	struct config config;
	const char *config_path;
	bool config_required;		/* named on the command line */
	bool foreground;
	/* every kernel call of the packet path goes through here
	 * (kernel_ops_netlink; a fake in the host tests) */
	const struct kernel_ops *kernel;
	struct queue *queue;
	/* capture = replies: the NFLOG copies (capture.c); NULL otherwise */
	struct copies *copies;
	unsigned long copies_lost_said;	/* copies_lost at the last warning */
	uint64_t copies_lost_warned_ms;
	bool copies_unrewritable_said;
	/* a session holds a copy's ACK ahead of what it read (inspect.c) */
	bool acks_deferred;
	struct expect_handle *expect;
	struct session_table *sessions;
	int signal_fd;
	bool stopping;
	uint64_t last_gc_ms;
	uint64_t last_full_warning_ms;
	uint64_t last_evict_warning_ms;	/* half-open eviction (inspect.c) */
	/* the session whose packet is being handled: a DESTROY event read
	 * meanwhile only marks it (pinholes.c), inspect.c ends it after */
	struct session_entry *inspecting;
	/* the kernel did not adjust sequence numbers after a resized
	 * rewrite (rewrite.c): no more resizes */
	bool resize_refused;
	/* the packet being handled (rewrite.c) */
	struct rewrite_plan rewrite_plan;
	/* queue overruns (ENOBUFS): one warning per burst, a burst ending
	 * after DAEMON_OVERRUN_QUIET_MS without one (ftpgated.c) */
	uint64_t slow_loop_warned_ms;	/* ftpgated.c */
	uint64_t queue_overrun_last_ms;
	uint64_t queue_overrun_warned_ms;
	struct stats stats;
	uint64_t start_ms;
	/* audit log (auditlog.c) */
	struct audit_log audit;
	char audit_path[CONFIG_PATH_MAX];	/* resolved: file or "stdout" */
	uint64_t audit_complained_ms;	/* last loud complaint */
	bool audit_failing;
	struct events *events;
	bool ct_events_off;		/* nf_conntrack_events = 0 */
	/* the pinhole pinholes_record is recording (NULL: none), while it
	 * reads the kernel's events (a pinhole of the same tuple to settle,
	 * or a full registry): the EXP_NEW event for it is ours, not
	 * another process's */
	const struct flow *recording_expect, *recording_master;
	struct ctnl *ctnl;
	struct pinhole_table *pinholes;
	struct pressure pressure;
	/* control socket and metrics (answer.c) */
	struct ctl_server *ctl;
	uint64_t metrics_written_ms;
	bool metrics_failing;
	struct daemon_sets sets;
	struct daemon_grants grants;
	const struct grant_hooks *grant_hooks;	/* NULL: none */
	/* a gateway pair's role (role.c): false primary, true backup */
	bool backup;
	uint64_t role_changed_ms;	/* monotonic; 0: never changed */
};

/* Milliseconds on the monotonic clock, at the kernel's tick resolution
 * (1 to 4 ms): every timer here counts whole milliseconds or seconds.
 *
 * Kernel fact (measured in the lab's Debian 12 guest, bench/run
 * --profile): where the clocksource has no vDSO mode (QEMU TCG's hpet or
 * acpi_pm, some hypervisors' clocks) every CLOCK_MONOTONIC read is a
 * system call; ftpgated made six per queued packet, most of them timing
 * the main loop. CLOCK_MONOTONIC_COARSE is always read from the vDSO
 * page (lib/vdso/gettimeofday.c: do_coarse needs no clocksource). */
static inline uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- capture.c -------------------------------------------------------- */

/* The queue ftpgated binds: queue-number under capture = helper,
 * capture-queue-number under capture = replies. */
uint16_t capture_queue_number(const struct daemon *d);

/* Under capture = replies, bind the NFLOG group of the copies
 * (capture-log-group) on the queue's socket (d->queue open), their
 * callback inspect_packet; nothing under capture = helper. 0, or a
 * negative errno with the cause and its fix in err. */
int capture_open(struct daemon *d, char *err, size_t errlen);

/* After a round's packets (held: how many queue_receive() handed on,
 * copies included; negative, an error such as ENOBUFS, after which more
 * may wait): lost copies are said, and when the queue is empty the
 * copies' ACKs kept meanwhile are applied (inspect_acks_deferred). */
void capture_round_end(struct daemon *d, int held);

/* The copies' counters into d->stats. */
void capture_refresh_stats(struct daemon *d);

void capture_close(struct daemon *d);

/* ---- inspect.c -------------------------------------------------------- */

/* The queue_receive() callback (daemon: the struct daemon): feed the
 * packet to its control connection's session, carry out what that asks
 * before the verdict, send the verdict, then log and audit it. */
void inspect_packet(const struct queue_packet *qp, void *daemon);

/* capture = replies: apply the ACKs of copies kept by inspect_ack_defer
 * for INSPECT_ACK_DEFER_MS or more (a hole still there then went by
 * uninspected: skipped, the stream resynchronized). Call only when the
 * queue is empty, so that no held segment can still fill the hole. */
void inspect_acks_deferred(struct daemon *d, uint64_t now);

/* A conntrack NEW event (no master): when it is a control connection of
 * our helper that another process committed into the kernel (it is born
 * with IPS_SEEN_REPLY, which no connection created by a packet has at its
 * confirmation: conntrackd at a failover, doc/ha.md), track it now, as a
 * session picked up mid-stream whose greeting counts as seen (its first
 * line of each direction is still cut). Nothing for any other event, a
 * connection tracked already or a full table (then its first packet picks
 * it up as usual). now: the event's time (daemon_now_ms). */
void inspect_session_synced(struct daemon *d, const struct ctnl_msg *m,
			    uint64_t now);

/* An installed pinhole between its recording (before the packet's
 * verdict) and its audit line (after it). */
struct pinholes_opened {
	struct pinhole pinhole;		/* as recorded (a copy) */
	uint64_t now_ms;		/* when it was recorded */
	bool recorded;			/* false: registry full, not tracked */
	bool refreshed;			/* the same pinhole announced again */
};

/* What the kernel step of one action did, for its reporting phase;
 * written only by the steps that have one (PINHOLE_OPEN, PINHOLE_REMOVE). */
struct inspect_outcome {
	int ret;			/* expect_install / expect_remove */
	uint32_t timeout_s;		/* PINHOLE_OPEN: the timeout asked */
	char err[DAEMON_ERR_MAX];	/* the kernel's complaint, if any */
	struct pinholes_opened opened;	/* PINHOLE_OPEN, installed */
};

/* Kernel steps of the action table (action.c), before the verdict.
 * PINHOLE_OPEN: the per-client cap (at it, a becomes a PINHOLE_REFUSED
 * for POLICY_REFUSE_CLIENT_CAP and o is not written), else install the
 * expectation and record the pinhole. PINHOLE_REMOVE: remove it, marked
 * in the registry as ours to remove before any kernel event about it is
 * read. */
void inspect_pinhole_open(struct daemon *d, struct session_entry *e,
			  struct session_action *a, struct inspect_outcome *o);
void inspect_pinhole_remove(struct daemon *d, struct session_entry *e,
			    struct session_action *a, struct inspect_outcome *o);

/* ---- rewrite.c -------------------------------------------------------- */

/* Before the session reads a packet of the client: when the server's
 * active-mode pinholes open at the command (active-open = command) and
 * the client is masqueraded, decide whether its first complete PORT/EPRT
 * naming the client will be rewritten and to which public port (a clash
 * moves it, doc/nat.md 2.4), and tell the session
 * (session_command_rewrite_next), so that the pinhole it opens is the
 * NATed one; rewrite_verdict carries out the same decision. A line that
 * cannot be rewritten is said why now, and gets a plain pinhole. */
void rewrite_plan_decide(struct daemon *d, struct session_entry *e,
			 enum session_direction dir, const struct packet_info *pkt,
			 bool in_order, bool line_start);

/* Whether rewrite_verdict would try to rewrite this packet (it holds, or
 * may hold, a line a NAT needs rewritten): asked of an NFLOG copy, which
 * cannot be rewritten (capture.c). */
bool rewrite_wanted(const struct daemon *d, const struct session_entry *e,
		    enum session_direction dir, const struct packet_info *pkt,
		    bool in_order, const struct session_actions *actions,
		    const struct inspect_outcome *outcome);

/* Release the packet rewritten when a NAT asks for it: a 227 whose
 * installed pinhole has `rewrite` set, or a masqueraded client's PORT or
 * EPRT naming its own address, both only in a segment that is in_order
 * (it starts at the next byte the session expected, so none of its bytes
 * was taken, or rewritten, before), or a retransmission of the line last
 * rewritten. A PORT/EPRT planned by rewrite_plan_decide is rewritten as planned;
 * if that fails, the pinhole opened for it is removed (a PINHOLE_REMOVE
 * for SESSION_REMOVE_NOT_REWRITTEN appended to actions, its kernel step
 * done, reported with the rest). 1 when released (its verdict sent), 0
 * when the caller must release it unchanged. */
int rewrite_verdict(struct daemon *d, struct session_entry *e,
		    enum session_direction dir, const struct queue_packet *qp,
		    const struct packet_info *pkt, bool in_order, bool line_start,
		    struct session_actions *actions,
		    struct inspect_outcome *outcome);

/* ---- action.c --------------------------------------------------------- */

/* Kernel phase of one action (its kind's kernel step, if it has one). */
void action_kernel(struct daemon *d, struct session_entry *e,
		   struct session_action *a, struct inspect_outcome *o);
/* Reporting phase of one action: its kind's counters, log line and audit
 * line, in that order. o: what action_kernel wrote for it. */
void action_report(struct daemon *d, struct session_entry *e,
		   const struct session_action *a,
		   const struct inspect_outcome *o);
/* The kernel's complaint in o, or strerror of its error. */
const char *action_error(const struct inspect_outcome *o);

/* ---- auditlog.c ------------------------------------------------------- */

/* Open the audit log named by the configuration (foreground: stdout by
 * default). 0, or negative errno (logged). */
int auditlog_open(struct daemon *d);
/* SIGHUP: reopen (rotation) or switch to a changed path. */
void auditlog_reopen(struct daemon *d);
void auditlog_close(struct daemon *d);
/* Write one event; failures are counted and said loudly in the log. */
void auditlog_write(struct daemon *d, struct audit_line *l);
/* The control connection of e, as audit lines name it. */
void auditlog_control(const struct session_entry *e, struct audit_control *c);

void auditlog_daemon_started(struct daemon *d, unsigned adopted);
void auditlog_daemon_stopped(struct daemon *d);
void auditlog_config_reloaded(struct daemon *d, bool ok, const char *error);

/* A session's start and end are counted and audited; its end also ends
 * its grants (grant_hooks->session_ended). */
/* how: "new-connection" (its SYN was seen), "picked-up-mid-stream" or
 * "synced" (its conntrack was committed into this kernel by another
 * process: conntrackd, at a failover; doc/ha.md). */
void auditlog_session_started(struct daemon *d, struct session_entry *e,
			      const char *how);
void auditlog_session_ended(struct daemon *d, struct session_entry *e,
			    const char *reason, uint64_t now_ms);
void auditlog_session_untracked(struct daemon *d, const struct queue_packet *qp,
				const char *reason);

/* The audit lines of a pinhole installed (pinholes_record made o; also
 * warns when the registry was full) or one the kernel refused. */
void auditlog_pinhole_opened(struct daemon *d, const struct pinholes_opened *o);
void auditlog_pinhole_failed(struct daemon *d, struct session_entry *e,
			     const struct session_action *a, const char *error);
/* events-lost: source "conntrack-events" or "queue", count so far. */
void auditlog_events_lost(struct daemon *d, const char *source, uint64_t count);

/* ---- pinholes.c ------------------------------------------------------- */

/* Whether the kernel sends conntrack events at all (sysctl); warns if not. */
void pinholes_check_events(struct daemon *d);

/* Before the verdict, the registry's record of a session action the
 * kernel carried out: an installed pinhole (o keeps what its audit line
 * will say), a pinhole ftpgated is removing. */
void pinholes_record(struct daemon *d, struct session_entry *e,
		     const struct session_action *a, uint32_t timeout_s,
		     struct pinholes_opened *o);
void pinholes_removing(struct daemon *d, struct session_entry *e,
		       const struct session_action *a);

/* Kernel events (events_receive callback): pinholes used or gone,
 * control connections whose conntrack was destroyed (their session
 * ends), and what another process (conntrackd's commit at a failover)
 * put into the kernel: expectations of our helper are adopted, control
 * connections tracked (inspect_session_synced). */
void pinholes_kernel_event(const struct ctnl_msg *m, void *daemon);
/* Read and handle every waiting kernel event (bounded); a loss (ENOBUFS)
 * makes the pinholes open now uncertain, and is audited. */
void pinholes_drain_events(struct daemon *d);

/* Decide what became of pinholes whose time has come (once a second). */
void pinholes_tick(struct daemon *d, uint64_t now_ms);
/* Record the expectations of our helper the kernel already holds (a
 * restart). Returns how many. */
unsigned pinholes_adopt(struct daemon *d);

/* ---- sets.c ----------------------------------------------------------- */

/* Open the nftables handle (unless nft-table = none) and put the
 * configured servers into the sets; a missing table is said, counted and
 * retried by sets_tick(). */
void sets_start(struct daemon *d);
/* After a reload: the new servers, in one transaction per change. */
void sets_reload(struct daemon *d);
/* Once a second: compare the kernel's sets with the configuration; fill
 * a set that is empty (the ruleset was just loaded), restore one that was
 * changed, say a missing one once. */
void sets_tick(struct daemon *d, uint64_t now_ms);
void sets_close(struct daemon *d);

/* ---- grants.c --------------------------------------------------------- */

extern const struct grant_hooks grants_hooks;
/* After sets_start: the registry, the hooks, and the grants an earlier
 * ftpgated left in the ruleset removed. */
void grants_start(struct daemon *d);
/* After sets_reload: end the grants the new settings would not give. */
void grants_reload(struct daemon *d);
/* Once a second: end grants past grant-lifetime-seconds; put back the
 * elements the kernel lost, remove those nobody holds. */
void grants_tick(struct daemon *d, uint64_t now_ms);
/* Shutdown: end every grant (daemon-stopped), elements removed. */
void grants_stop(struct daemon *d);
void grants_free(struct daemon *d);

/* ---- role.c ----------------------------------------------------------- */

/* The control socket's "role [primary|backup]": set the role when named
 * (a privileged peer only: else -EPERM and why in body), then say it (and
 * the one before, when set). 0 or -EPERM. */
int role_answer(struct daemon *d, const struct ctl_request *req,
		struct strbuf *body, uint64_t now_ms);
/* The kernel removed tracked session e's conntrack: it ended
 * ("conntrack-destroyed"), or, on a backup, was handed over ("handed-over",
 * counted in sessions_handed_over too). Writes the session-ended line. */
void role_session_ended(struct daemon *d, struct session_entry *e, uint64_t now_ms);
/* A pinhole the kernel removed before its expiry (how: SESSION or KERNEL)
 * while this node was a backup (p->gone_on_backup, kept when it went, not
 * when it is decided) was handed over; any other close is what it is. */
enum pinhole_close role_pinhole_gone(const struct pinhole *p, enum pinhole_close how);

/* ---- answer.c --------------------------------------------------------- */

int answer_request(const struct ctl_request *req, struct strbuf *body,
		   void *daemon);
/* Write the metrics textfile when configured and due. */
void answer_metrics_tick(struct daemon *d, uint64_t now_ms);
/* Bring the counters kept elsewhere (queue, events, audit, ctl) into
 * d->stats. */
void answer_refresh_stats(struct daemon *d);

#endif
