/* stats: the daemon's counters, in one place, so that `ftpgatectl stats`,
 * the JSON form and the Prometheus metrics always show the same numbers
 * under the same names. Pure: rendering only, no I/O. */
#ifndef FTPGATE_STATS_H
#define FTPGATE_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include "grant.h"
#include "json.h"
#include "pinhole.h"
#include "policy.h"
#include "session.h"
#include "strbuf.h"

/* Data-connection error replies counted separately. */
enum stats_trouble {
	STATS_TROUBLE_421,		/* service not available, closing */
	STATS_TROUBLE_425,		/* can't open data connection */
	STATS_TROUBLE_426,		/* connection closed, transfer aborted */
	STATS_TROUBLE_COUNT
};

/* Ways the ruleset's protected-servers sets disagreed with the
 * configuration (sets.c); names in stats_sets_problem_name(). */
enum stats_sets_problem {
	STATS_SETS_MISSING,		/* no such table or set */
	STATS_SETS_EMPTIED,		/* empty though servers are configured:
					   the ruleset was (re)loaded; refilled */
	STATS_SETS_CHANGED,		/* other elements: changed outside
					   ftpgated; restored */
	STATS_SETS_UPDATE_FAILED,	/* the kernel refused the update */
	STATS_SETS_PROBLEM_COUNT
};

struct stats {
	/* queue */
	uint64_t packets;		/* queued packets handled */
	uint64_t packets_unparsed;	/* not IP/TCP, or no conntrack info */
	uint64_t queue_overruns;	/* ENOBUFS: notifications lost */
	uint64_t queue_verdict_errors;
	uint64_t queue_kernel_dropped;	/* /proc: queue full, passed uninspected */
	uint64_t queue_user_dropped;	/* /proc: could not be sent to us */
	/* capture = replies (capture.c) */
	uint64_t packets_copied;	/* NFLOG copies read (in packets) */
	uint64_t copies_lost;		/* missing from the copies' sequence */
	uint64_t copies_unrewritable;	/* a copy a NAT needed rewritten */
	/* FTP */
	uint64_t commands_parsed;
	uint64_t replies_parsed;	/* complete replies */
	uint64_t lines_rejected;	/* lines not acted on (parse errors) */
	uint64_t lines_rejected_rule[SESSION_RULE_COUNT];
	uint64_t actions_dropped;
	/* sessions */
	uint64_t loop_slow;		/* main loop rounds over 1 s */
	uint64_t sessions_started;
	uint64_t sessions_synced;	/* committed by another process */
	uint64_t sessions_handed_over;	/* ended in the backup role */
	uint64_t sessions_ended;
	uint64_t sessions_untracked;	/* table full */
	uint64_t sessions_evicted;	/* half-open, evicted when full */
	uint64_t packets_data_connection; /* of data connections (their
					   master's helper): passed */
	uint64_t packets_closing_untracked; /* data on a closing connection
					   not tracked: not picked up */
	uint64_t syn_twins;		/* a SYN resent while the first one
					   was queued: no second session */
	uint64_t resets_ignored;	/* RST not at the next sequence */
	uint64_t packets_wrong_interface; /* on the other direction's
					   interface: not read */
	uint64_t streams_lost;		/* tracking stopped (bounds) */
	uint64_t commands_forgotten;	/* pending-command bound hit */
	uint64_t streams_resynchronized; /* skipped bytes that went past
					   uninspected (queue bypass) */
	uint64_t sessions_encrypted;	/* AUTH answered 234: opaque */
	uint64_t nat_rewrites;		/* lines rewritten for a NAT */
	uint64_t nat_rewrites_resized;	/* of those, the length changed */
	uint64_t nat_rewrites_refused;	/* needed, passed unchanged */
	uint64_t nat_seqadj_missing;	/* a resize the kernel did not adjust */
	/* pinholes */
	uint64_t pinholes_opened;
	uint64_t pinholes_refreshed;	/* same port announced again */
	uint64_t pinholes_failed;	/* approved, kernel refused */
	uint64_t pinholes_removed;	/* ftpgated removed one (session's
					   decision: superseded, done, ...) */
	uint64_t pinholes_closed[PINHOLE_CLOSE_COUNT];	/* used, expired, ... */
	uint64_t refused[POLICY_REASON_COUNT];	/* by reason */
	uint64_t pinholes_adopted;	/* found in the kernel, not opened */
	uint64_t pinholes_unrecorded;	/* open, but the registry was full */
	uint64_t data_trouble[STATS_TROUBLE_COUNT];
	/* kernel events */
	uint64_t conntrack_events;
	uint64_t conntrack_event_overruns;	/* ENOBUFS on the event socket */
	/* audit log */
	uint64_t audit_events;		/* written */
	uint64_t audit_write_errors;
	uint64_t audit_events_lost;	/* could not be written */
	/* control socket */
	uint64_t ctl_requests;
	uint64_t ctl_denied;
	uint64_t ctl_errors;
	/* the ruleset's sets of protected servers (sets.c) */
	uint64_t nft_sets_updates;	/* transactions that replaced them */
	uint64_t nft_sets_problems[STATS_SETS_PROBLEM_COUNT];
	uint64_t nft_sets_managed;	/* gauge: 1 unless nft-table = none */
	uint64_t nft_sets_out_of_sync;	/* gauge: 1 while the kernel's sets
					   do not hold the configured servers */
	/* per-client grants for encrypted sessions (grants.c) */
	uint64_t grants_opened;
	uint64_t grants_closed[GRANT_CLOSE_COUNT];
	uint64_t grants_refused[GRANT_REASON_COUNT];	/* by reason */
	uint64_t grants_restored;	/* re-added after a ruleset reload */
	uint64_t grant_data_connections; /* new connections seen in a grant */
	uint64_t grants_live;		/* gauge */
	uint64_t grants_out_of_sync;	/* gauge: 1 while a grant set cannot
					   be read or restored */
	/* gauges, set by the daemon before rendering */
	uint64_t sessions_tracked;
	uint64_t pinholes_recorded;
	uint64_t heap_in_use;		/* bytes allocated, not freed */
	uint64_t start_time_s;		/* realtime, seconds since the epoch */
};

enum stats_type { STATS_COUNTER, STATS_GAUGE };

/* One number as exported: Prometheus name without the "ftpgate_" prefix,
 * an optional label, help text. */
struct stats_item {
	const char *name;		/* "pinholes_refused_total" */
	const char *help;
	enum stats_type type;
	const char *label;		/* "reason", or NULL */
	const char *label_value;	/* "privileged-port" */
	int64_t value;
};

/* Call fn for every exported number, in a fixed order; items sharing a
 * name (labelled) come together, the first carrying the help text. */
void stats_foreach(const struct stats *s,
		   void (*fn)(const struct stats_item *item, void *data),
		   void *data);

int stats_trouble_index(int reply_code);
const char *stats_sets_problem_name(enum stats_sets_problem p);	/* "missing" */	/* -1 if not counted */
uint64_t stats_refused_total(const struct stats *s);

/* `ftpgatectl stats`: aligned "name{label} value" lines. */
void stats_render_text(const struct stats *s, struct strbuf *out);
/* {"packets_total": 12, "pinholes_refused_total": {"privileged-port": 1}} */
void stats_render_json(const struct stats *s, struct json *j);

#endif
