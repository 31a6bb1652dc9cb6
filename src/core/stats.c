/* stats: the list of exported numbers is written out once, here. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

struct stats_scalar {
	const char *name;
	const char *help;
	enum stats_type type;
	size_t offset;
};

#define STATS_C(field, name, help) \
	{ name, help, STATS_COUNTER, offsetof(struct stats, field) }
#define STATS_G(field, name, help) \
	{ name, help, STATS_GAUGE, offsetof(struct stats, field) }

static const struct stats_scalar stats_head[] = {
	STATS_C(packets, "packets_total", "Packets of FTP control connections the kernel queued to ftpgated (capture = helper), or queued and copied to it (capture = replies)."),
	STATS_C(packets_unparsed, "packets_unparsed_total", "Queued packets that were not IP/TCP or came without conntrack information (passed unexamined)."),
	STATS_C(queue_overruns, "queue_overruns_total", "Times ftpgated's queue receive buffer was full (ENOBUFS): the kernel let packets pass uninspected (fail-open); raise queue-receive-buffer-bytes."),
	STATS_C(queue_verdict_errors, "queue_verdict_errors_total", "Verdicts the kernel refused or that could not be sent."),
	STATS_C(packets_copied, "packets_copied_total", "Of packets_total, the NFLOG copies read under capture = replies (the client's packets and the server's empty segments): seen, not held, no verdict."),
	STATS_C(copies_lost, "copies_lost_total", "NFLOG copies the kernel could not deliver to ftpgated (capture = replies; a gap in their sequence numbers; the socket they share with the queue was full, see queue_overruns_total): the bytes in them went by unread, which fails closed (the stream resynchronizes; a reply to a command not seen is unsolicited). Raise queue-receive-buffer-bytes."),
	STATS_C(copies_unrewritable, "copies_unrewritable_total", "Data segments a NAT may need rewritten (a source-NATed client's, a reply to rewrite) that came as an NFLOG copy, not held (capture = replies with a ruleset that does not hold them): passed unchanged; load ftpgate's current ruleset."),
	STATS_C(queue_kernel_dropped, "queue_kernel_dropped_total", "Packets the kernel dropped because the queue was full (/proc queue_dropped). Stays 0 with ftpgated's fail-open queue: at queue-max-packets the kernel lets packets pass uninspected and counts them nowhere."),
	STATS_C(queue_user_dropped, "queue_user_dropped_total", "Packets the kernel dropped because it could not send them to ftpgated (/proc user_dropped). Stays 0 with ftpgated's fail-open queue: those pass uninspected and show in queue_overruns_total."),
	STATS_C(commands_parsed, "commands_parsed_total", "FTP command lines read from clients."),
	STATS_C(replies_parsed, "replies_parsed_total", "Complete FTP replies read from servers."),
	STATS_C(lines_rejected, "parse_errors_total", "Control lines not acted on: malformed, over-long, or breaking a line rule (see lines_rejected_total)."),
	STATS_C(actions_dropped, "actions_dropped_total", "Line reports (rejected lines, data trouble, unsolicited announcements) not logged because one packet produced more than 16."),
	STATS_C(loop_slow, "loop_slow_total", "Rounds of ftpgated's main loop (kernel events, queued packets, control socket, timers) that took over a second: the packets and ftpgatectl requests behind them waited; the log says which part took the time."),
	STATS_C(sessions_started, "sessions_started_total", "Control connections ftpgated started tracking."),
	STATS_C(sessions_ended, "sessions_ended_total", "Tracked control connections that ended or were forgotten."),
	STATS_C(sessions_untracked, "sessions_untracked_total", "Control connections not tracked because the session table was full."),
	STATS_C(sessions_synced, "sessions_synced_total", "Control connections tracked because another process committed their conntrack with the ftpgate helper (conntrackd, at a failover); counted in sessions_started_total too."),
	STATS_C(sessions_handed_over, "sessions_handed_over_total", "Tracked control connections whose conntrack the kernel removed while this node was the backup of a gateway pair (ftpgatectl role backup: the peer carries them on); counted in sessions_ended_total too."),
	STATS_C(sessions_evicted, "sessions_evicted_total", "Half-open control connections (no data seen yet, e.g. only a SYN) forgotten to make room for a new one when the session table was full."),
	STATS_C(packets_data_connection, "packets_data_connection_total", "Packets of data connections that the kernel queued to ftpgated because they carry their control connection's helper (some kernels, e.g. Debian's 6.1.176, give an expected connection its master's helper); passed, never read as FTP."),
	STATS_C(packets_closing_untracked, "packets_closing_untracked_total", "Packets with data on a closing control connection ftpgated does not track (a retransmission after the RST or the FINs that ended its session); passed, not picked up mid-stream."),
	STATS_C(syn_twins, "syn_twins_total", "Client SYNs resent while the connection's first SYN still waited in ftpgated's queue: the kernel gives such a SYN a second conntrack of its own (the first is not confirmed yet), which it never confirms (it drops that SYN) and never reports destroyed; passed, no second session made for it."),
	STATS_C(resets_ignored, "resets_ignored_total", "RST segments whose sequence number was not exactly the sender's next one (RFC 5961: the receiver ignores them); the session goes on."),
	STATS_C(packets_wrong_interface, "packets_wrong_interface_total", "Packets of one direction of a control connection that came in on the other direction's interface (forged?); not read."),
	STATS_C(streams_lost, "sessions_lost_total", "Control connections whose tracking stopped (buffer bounds)."),
	STATS_C(commands_forgotten, "commands_forgotten_total", "Commands forgotten unanswered because a client had more than 16 waiting for replies; a 227/229 answering one is refused as unsolicited."),
	STATS_C(streams_resynchronized, "streams_resynchronized_total", "Times a control connection's byte stream skipped bytes that had passed ftpgated uninspected (queue full at queue-max-packets, which no counter shows; receive buffer full, see queue_overruns_total; or ftpgated down) and resumed at the next line; announcements in those bytes got no pinhole."),
	STATS_C(sessions_encrypted, "sessions_encrypted_total", "Control connections that switched to TLS (AUTH answered 234); no pinholes for them from then on."),
	STATS_C(pinholes_opened, "pinholes_opened_total", "Pinholes (conntrack expectations) installed."),
	STATS_C(pinholes_refreshed, "pinholes_refreshed_total", "Pinholes whose timeout was renewed by a repeated announcement."),
	STATS_C(pinholes_failed, "pinholes_failed_total", "Approved pinholes the kernel refused to install."),
	STATS_C(pinholes_removed, "pinholes_removed_total", "Pinholes ftpgated removed because the session no longer needed them (superseded, transfer done, ABOR, QUIT, ...)."),
	STATS_C(nat_rewrites, "nat_rewrites_total", "Lines rewritten for a NAT gateway: a DNAT-published server's 227, a masqueraded client's PORT or EPRT (retransmissions not counted)."),
	STATS_C(nat_rewrites_resized, "nat_rewrites_resized_total", "Of nat_rewrites_total, those whose length changed: the kernel adjusts the control connection's sequence numbers (IPv4)."),
	STATS_C(nat_rewrites_refused, "nat_rewrites_refused_total", "Lines a NAT needed rewritten that passed unchanged (split over segments, a length change over IPv6 or after the adjustment was found missing, no free port): the log says why."),
	STATS_C(nat_seqadj_missing, "nat_seqadj_missing_total", "Rewrites that changed a length and that the kernel did not adjust (no seqadj extension: the helper was attached after NAT was set up); that control connection broke, and resizes are refused until ftpgated restarts."),
	STATS_C(pinholes_adopted, "pinholes_adopted_total", "Pinholes ftpgated did not open but found in the kernel: at start-up (an earlier run's) or created by another process (conntrackd's commit at a failover). Not in pinholes_opened_total."),
	STATS_C(pinholes_unrecorded, "pinholes_unrecorded_total", "Pinholes installed while the daemon's pinhole registry was full (their fate is not audited)."),
};

static const struct stats_scalar stats_tail[] = {
	STATS_C(conntrack_events, "conntrack_events_total", "Conntrack and expectation events read from the kernel."),
	STATS_C(conntrack_event_overruns, "conntrack_event_overruns_total", "Times kernel conntrack events were lost (ENOBUFS); pinhole outcomes around then are reported as unknown."),
	STATS_C(audit_events, "audit_events_total", "Audit log events written."),
	STATS_C(audit_write_errors, "audit_write_errors_total", "Failed writes to the audit log."),
	STATS_C(audit_events_lost, "audit_events_lost_total", "Audit events that could not be written."),
	STATS_C(ctl_requests, "control_requests_total", "Requests on the control socket."),
	STATS_C(ctl_denied, "control_denied_total", "Control socket connections refused (credentials), and requests their peer may not make (setting the role: root or ftpgated's user only)."),
	STATS_C(ctl_errors, "control_errors_total", "Control socket requests that failed (bad request, timeout, write error)."),
	STATS_G(sessions_tracked, "sessions", "Control connections tracked now."),
	STATS_G(pinholes_recorded, "pinholes_recorded", "Pinholes in the daemon's registry now (open, or just closed and being classified)."),
	STATS_G(heap_in_use, "heap_bytes", "Heap bytes ftpgated has allocated and not freed (glibc's count). RSS may stay above it: freed memory is kept for reuse. Flat when idle; growth with no sessions tracked is a leak."),
	STATS_G(start_time_s, "start_time_seconds", "When ftpgated started, seconds since the Unix epoch."),
};

static const struct stats_scalar stats_sets[] = {
	STATS_C(nft_sets_updates, "nft_sets_updates_total", "Transactions that put the configured FTP servers into the ruleset's sets (start, reload, a set emptied or changed)."),
	STATS_G(nft_sets_managed, "nft_sets_managed", "1 when ftpgated fills the ruleset's protected-servers sets (nft-table), 0 with nft-table = none."),
	STATS_G(nft_sets_out_of_sync, "nft_sets_out_of_sync", "1 while the ruleset's protected-servers sets do not hold exactly the configured servers (a set missing, or an update refused): unannounced connections to those passive ports are then not dropped by ftpgate's rules."),
};

static const struct stats_scalar stats_grants[] = {
	STATS_C(grants_opened, "grants_opened_total", "Grants opened (tls = client-range): a client admitted to a server's passive range while its encrypted control connection lives."),
	STATS_C(grants_restored, "grants_restored_total", "Grant elements put back into the ruleset's grant sets after they went missing (the ruleset was loaded again)."),
	STATS_C(grant_data_connections, "grant_data_connections_total", "New connections from a granted client into its server's granted range, seen in conntrack events."),
	STATS_G(grants_live, "grants", "Grants live now."),
	STATS_G(grants_out_of_sync, "grants_out_of_sync", "1 while a grant set cannot be read or its lost elements cannot be put back (the ruleset has no grant sets): FTPS data connections under tls = client-range are then dropped."),
};

static const char *const stats_sets_problem_names[STATS_SETS_PROBLEM_COUNT] = {
	"missing", "emptied", "changed", "update-failed",
};

const char *stats_sets_problem_name(enum stats_sets_problem p)
{
	return (unsigned)p < STATS_SETS_PROBLEM_COUNT ? stats_sets_problem_names[p] : "?";
}

static const char *const stats_trouble_names[STATS_TROUBLE_COUNT] = {
	"421", "425", "426",
};

int stats_trouble_index(int reply_code)
{
	switch (reply_code) {
	case 421: return STATS_TROUBLE_421;
	case 425: return STATS_TROUBLE_425;
	case 426: return STATS_TROUBLE_426;
	}
	return -1;
}

uint64_t stats_refused_total(const struct stats *s)
{
	uint64_t n = 0;
	int r;

	for (r = POLICY_ALLOW + 1; r < POLICY_REASON_COUNT; r++)
		n += s->refused[r];
	return n;
}

static void stats_scalars(const struct stats *s,
			  const struct stats_scalar *list, size_t n,
			  void (*fn)(const struct stats_item *, void *),
			  void *data)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *base = (const char *)s + list[i].offset;
		struct stats_item it = {
			.name = list[i].name, .help = list[i].help,
			.type = list[i].type,
		};

		it.value = (int64_t)*(const uint64_t *)(const void *)base;
		fn(&it, data);
	}
}

/* A labelled counter family: one uint64_t array in struct stats, exported
 * from index first to count - 1, each element named by label_value(i). */
struct stats_family {
	const char *name;
	const char *help;
	const char *label;
	size_t offset;
	int first, count;
	const char *(*label_value)(int i);
};

static const char *stats_close_label(int i) { return pinhole_close_name((enum pinhole_close)i); }
static const char *stats_refused_label(int i) { return policy_reason_name((enum policy_reason)i); }
static const char *stats_rule_label(int i) { return session_line_rule_name((enum session_line_rule)i); }
static const char *stats_trouble_label(int i) { return stats_trouble_names[i]; }
static const char *stats_sets_label(int i) { return stats_sets_problem_names[i]; }
static const char *stats_grant_close_label(int i) { return grant_close_name((enum grant_close)i); }
static const char *stats_grant_refused_label(int i) { return grant_reason_name((enum grant_reason)i); }

#define STATS_F(field, name, help, label, first, count, fn) \
	{ name, help, label, offsetof(struct stats, field), first, count, fn }

static const struct stats_family stats_families[] = {
	STATS_F(pinholes_closed, "pinholes_closed_total", "Pinholes that ended, by outcome: used by a data connection, expired unused, or removed (see doc/audit.md).",
		"outcome", 0, PINHOLE_CLOSE_COUNT, stats_close_label),
	STATS_F(refused, "pinholes_refused_total", "Announcements refused a pinhole, by reason.",
		"reason", POLICY_ALLOW + 1, POLICY_REASON_COUNT, stats_refused_label),
	STATS_F(lines_rejected_rule, "lines_rejected_total", "Control lines not acted on, by rule (see doc/protocol.md).",
		"rule", 0, SESSION_RULE_COUNT, stats_rule_label),
	STATS_F(data_trouble, "data_trouble_replies_total", "Server replies signalling data-connection trouble, by code.",
		"code", 0, STATS_TROUBLE_COUNT, stats_trouble_label),
	STATS_F(nft_sets_problems, "nft_sets_problems_total", "Times the ruleset's protected-servers sets disagreed with the configuration, by problem: missing (no such table or set), emptied (the ruleset was loaded again; refilled), changed (other elements; restored), update-failed.",
		"problem", 0, STATS_SETS_PROBLEM_COUNT, stats_sets_label),
};

static const struct stats_family stats_grant_families[] = {
	STATS_F(grants_closed, "grants_closed_total", "Grants that ended, by reason: session-ended (its control connection ended), lifetime (grant-lifetime-seconds), reload, daemon-stopped.",
		"reason", 0, GRANT_CLOSE_COUNT, stats_grant_close_label),
	STATS_F(grants_refused, "grants_refused_total", "Encrypted control connections of servers with tls = client-range refused a grant, by reason.",
		"reason", GRANT_OPAQUE + 1, GRANT_REASON_COUNT, stats_grant_refused_label),
};

/* Calls fn once per element of each family in list; the help text goes
 * with the first element only, as the exposition format wants. */
static void stats_labelled(const struct stats *s,
			   const struct stats_family *list, size_t n,
			   void (*fn)(const struct stats_item *, void *),
			   void *data)
{
	for (size_t f = 0; f < n; f++) {
		const uint64_t *v = (const uint64_t *)(const void *)((const char *)s + list[f].offset);
		struct stats_item it = {
			.name = list[f].name, .help = list[f].help,
			.type = STATS_COUNTER, .label = list[f].label,
		};

		for (int i = list[f].first; i < list[f].count; i++) {
			it.label_value = list[f].label_value(i);
			it.value = (int64_t)v[i];
			fn(&it, data);
			it.help = NULL;
		}
	}
}

#define STATS_N(a) (sizeof(a) / sizeof((a)[0]))

void stats_foreach(const struct stats *s,
		   void (*fn)(const struct stats_item *item, void *data),
		   void *data)
{
	stats_scalars(s, stats_head, STATS_N(stats_head), fn, data);
	stats_labelled(s, stats_families, STATS_N(stats_families), fn, data);
	stats_scalars(s, stats_sets, STATS_N(stats_sets), fn, data);
	stats_scalars(s, stats_grants, STATS_N(stats_grants), fn, data);
	stats_labelled(s, stats_grant_families, STATS_N(stats_grant_families), fn, data);
	stats_scalars(s, stats_tail, STATS_N(stats_tail), fn, data);
}

static void stats_text_item(const struct stats_item *it, void *data)
{
	struct strbuf *out = data;
	char name[96];

	if (it->label)
		snprintf(name, sizeof(name), "%s{%s=\"%s\"}", it->name,
			 it->label, it->label_value);
	else
		snprintf(name, sizeof(name), "%s", it->name);
	strbuf_printf(out, "%-52s %lld\n", name, (long long)it->value);
}

void stats_render_text(const struct stats *s, struct strbuf *out)
{
	stats_foreach(s, stats_text_item, out);
}

struct stats_json_ctx {
	struct json *j;
	const char *open;		/* labelled object being written */
};

static void stats_json_item(const struct stats_item *it, void *data)
{
	struct stats_json_ctx *c = data;

	if (c->open != NULL && (it->label == NULL || strcmp(c->open, it->name) != 0)) {
		json_object_end(c->j);
		c->open = NULL;
	}
	if (it->label == NULL) {
		json_kv_int(c->j, it->name, it->value);
		return;
	}
	if (c->open == NULL) {
		json_key(c->j, it->name);
		json_object_begin(c->j);
		c->open = it->name;
	}
	json_kv_int(c->j, it->label_value, it->value);
}

void stats_render_json(const struct stats *s, struct json *j)
{
	struct stats_json_ctx c = { j, NULL };

	json_object_begin(j);
	stats_foreach(s, stats_json_item, &c);
	if (c.open != NULL)
		json_object_end(j);
	json_object_end(j);
}
