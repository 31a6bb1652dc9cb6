/* inspect: one queued packet of an FTP control connection, from its
 * session to its verdict. The session says what the packet means; the
 * kernel phase installs and removes expectations (and records them in the
 * pinhole registry) before the verdict, so an approved pinhole exists
 * before the reply that announced it leaves the gateway; the reporting
 * phase (counters, log, audit) comes after the verdict, off the packet's
 * path. Part of the daemon (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "daemon.h"
#include "log.h"
#include "packet.h"

/* How long a copy's ACK ahead of the bytes read waits before its hole is
 * skipped (inspect_ack_defer): longer than a segment takes from conntrack
 * (prerouting) to the capture chain's queue (postrouting). */
#define INSPECT_ACK_DEFER_MS 100

static void inspect_expect_request(const struct session_entry *e,
				   const struct session_action *a,
				   struct expect_request *r)
{
	memset(r, 0, sizeof(*r));
	session_control_flow(&e->session, &r->master);
	session_action_flow(a, &r->expect);
	r->helper_name = CONFIG_HELPER_NAME;
	if (a->kind == SESSION_ACTION_PINHOLE_OPEN && a->nat.on) {
		r->nat = a->nat;
		r->nat_dir = a->nat_dir == SESSION_DIR_REPLY ? 1 : 0;
	}
}

/* A passive pinhole on a NATed control connection whose port on the
 * address the client dialled another master's pinhole already expects
 * (one client, two control connections to servers published on one
 * address, announcing the same port; doc/nat.md 2.4): moved to
 * pinhole_free_port's, the reply rewritten to name it (rewrite.c), the
 * landing port unchanged. 0, or -EADDRINUSE when no port is free. */
static int inspect_pinhole_unclash(struct daemon *d, struct session_entry *e,
				   struct session_action *a)
{
	struct flow master, x;
	char was[FLOW_STRLEN];
	uint16_t port;

	if (!a->nat.on || a->nat_dir != SESSION_DIR_ORIGINAL)
		return 0;
	session_control_flow(&e->session, &master);
	session_action_flow(a, &x);
	port = pinhole_free_port(d->pinholes, &x, &master);
	if (port == 0)
		return -EADDRINUSE;
	if (port == x.dport)
		return 0;
	flow_endpoint_format(&x.dst, x.dport, was, sizeof(was));
	log_msg(LOG_NOTICE, "%s is expected for another control connection of this client already, port %u announced instead (conntrack %u)",
		was, port, e->conntrack_id);
	a->data.dport = port;
	a->rewrite = true;
	session_pinhole_moved(&e->session, a, port);
	return 0;
}

/* Kernel phase: install the pinhole and record it. */
static void inspect_pinhole_install(struct daemon *d, struct session_entry *e,
				    struct session_action *a,
				    struct inspect_outcome *o)
{
	struct expect_request r;

	if (inspect_pinhole_unclash(d, e, a) < 0) {
		snprintf(o->err, sizeof(o->err), "every port tried on the address the client dialled is expected for another control connection already");
		o->ret = -EADDRINUSE;
		o->timeout_s = 0;
		session_pinhole_failed(&e->session, a);
		return;
	}
	inspect_expect_request(e, a, &r);
	r.timeout_s = d->config.policy.expect_timeout_s;
	o->timeout_s = r.timeout_s;
	o->err[0] = '\0';
	o->ret = d->kernel->expect_install(d, &r, o->err, sizeof(o->err));
	if (o->ret < 0)
		session_pinhole_failed(&e->session, a);
	else
		pinholes_record(d, e, a, r.timeout_s, &o->opened);
}

/* Kernel phase: a pinhole whose purpose is over (superseded, transfer
 * done, ABOR, ...). Marked as ours to remove before any later kernel
 * event about it is read. */
void inspect_pinhole_remove(struct daemon *d, struct session_entry *e,
			    struct session_action *a, struct inspect_outcome *o)
{
	struct expect_request r;

	inspect_expect_request(e, a, &r);
	o->err[0] = '\0';
	o->ret = d->kernel->expect_remove(d, &r, o->err, sizeof(o->err));
	if (o->ret == 0)
		pinholes_removing(d, e, a);
}

/* The per-client cap, which no single session can see: count the
 * client's live pinholes in the registry and turn an approved
 * announcement into a refusal when the client is at the cap. Only at the
 * cap is the kernel's news read first, so that pinholes already used do
 * not count; below it the main loop reads it in its next round. */
static bool inspect_client_capped(struct daemon *d, struct session_entry *e,
				  struct session_action *a)
{
	const struct inet_addr *client = &e->session.client;
	unsigned n;

	n = pinhole_client_open_count(d->pinholes, client);
	if (policy_check_client(&d->config.policy, n) == POLICY_ALLOW)
		return false;
	pinholes_drain_events(d);
	n = pinhole_client_open_count(d->pinholes, client);
	if (policy_check_client(&d->config.policy, n) == POLICY_ALLOW)
		return false;
	session_pinhole_failed(&e->session, a);
	a->kind = SESSION_ACTION_PINHOLE_REFUSED;
	a->reason = POLICY_REFUSE_CLIENT_CAP;
	snprintf(a->detail, sizeof(a->detail), "%u pinholes open", n);
	return true;
}

void inspect_pinhole_open(struct daemon *d, struct session_entry *e,
			  struct session_action *a, struct inspect_outcome *o)
{
	if (!inspect_client_capped(d, e, a))
		inspect_pinhole_install(d, e, a, o);
}

/* Kernel phase, before the verdict: every expectation the packet's
 * actions install or remove, in order, and the pinhole registry's record
 * of them (action.c has each kind's step). Nothing of this packet is
 * logged or audited here (only the outcome of earlier pinholes whose
 * kernel events are read on the way). */
static void inspect_actions_kernel(struct daemon *d, struct session_entry *e,
				   struct session_actions *actions,
				   struct inspect_outcome *outcome)
{
	unsigned i;

	for (i = 0; i < actions->count; i++)
		action_kernel(d, e, &actions->item[i], &outcome[i]);
}

/* What the session could not hand out: line reports past its per-packet
 * bound (the lines are counted all the same), and, were the bound in
 * session.h ever wrong, actions it could not hand out at all. */
static void inspect_actions_unreported(struct daemon *d, const struct session *s,
				       const struct session_actions *actions)
{
	char control_client[64], control_server[64];

	d->stats.lines_rejected += actions->lines_rejected;
	d->stats.actions_dropped += actions->dropped + actions->overflow;
	if (!actions->dropped && !actions->overflow)
		return;
	flow_endpoint_format(&s->client, s->client_port, control_client, sizeof(control_client));
	flow_endpoint_format(&s->server, s->server_port, control_server, sizeof(control_server));
	if (actions->dropped)
		log_msg(LOG_WARNING, "%u line reports of control connection %s -> %s not logged (more than %d in one packet); the lines are counted in parse_errors_total",
			actions->dropped, control_client, control_server,
			SESSION_REPORTS_MAX);
	if (actions->overflow)
		log_msg(LOG_ERR, "%u actions of control connection %s -> %s not carried out: more than %d in one packet, a bug in ftpgated (please report it)",
			actions->overflow, control_client, control_server,
			SESSION_ACTIONS_MAX);
}

/* Reporting phase, after the verdict: counters, log lines and audit
 * events of every action, in order (action.c). */
static void inspect_actions_report(struct daemon *d, struct session_entry *e,
				   const struct session_actions *actions,
				   const struct inspect_outcome *outcome)
{
	unsigned i;

	for (i = 0; i < actions->count; i++)
		action_report(d, e, &actions->item[i], &outcome[i]);
	inspect_actions_unreported(d, &e->session, actions);
}

static bool inspect_session_matches(const struct session *s,
				    const struct queue_packet *qp)
{
	struct flow control;

	session_control_flow(s, &control);
	return flow_equal(&control, &qp->orig);
}

/* A new table entry; when the table is full, the oldest half-open
 * session (no data yet: a SYN flood's) makes room. NULL with errno. */
static struct session_entry *inspect_session_add(struct daemon *d, uint32_t id,
						 uint64_t now)
{
	struct session_entry *e = session_table_add(d->sessions, id), *old;

	if (e != NULL || errno != ENOSPC)
		return e;
	old = session_table_oldest_half_open(d->sessions);
	if (old == NULL || old == d->inspecting) {
		errno = ENOSPC;
		return NULL;
	}
	d->stats.sessions_evicted++;
	auditlog_session_ended(d, old, "evicted-half-open", now);
	session_table_remove(d->sessions, old);
	if (now - d->last_evict_warning_ms >= 10000 || !d->last_evict_warning_ms) {
		d->last_evict_warning_ms = now;
		log_msg(LOG_WARNING, "session table full (max-sessions %u): forgot the oldest half-open control connection (no data seen) to track a new one; %llu so far (sessions_evicted_total): a SYN flood to the FTP port? raise max-sessions if these are real",
			d->config.max_sessions, (unsigned long long)d->stats.sessions_evicted);
	}
	return session_table_add(d->sessions, id);
}

/* A new table entry becomes the session of the control connection orig
 * (NATed: reply is its conntrack's reply tuple, else NULL), indexed, and
 * started now. */
static void inspect_session_setup(struct daemon *d, struct session_entry *e,
				  const struct flow *orig, const struct flow *reply,
				  uint64_t now)
{
	struct session_limits limits = {
		.buffer_max = d->config.session_buffer_max,
		.line_max = d->config.line_max,
	};

	session_init(&e->session, &orig->src, orig->sport, &orig->dst, orig->dport,
		     &limits);
	if (reply != NULL)
		session_set_nat(&e->session, reply);
	session_table_index(d->sessions, e);
	e->started_ms = now;
}

/* Whether a session picked up mid-stream may take its greeting as seen:
 * in relaxed mode, or in strict mode right after ftpgated started (the
 * sessions of a restart; doc/protocol.md "Pickup"). */
static bool inspect_pickup_greeted(const struct daemon *d,
				   const struct session *s, uint64_t now)
{
	return !policy_strict(&d->config.policy, &s->real_server) ||
	       now - d->start_ms < DAEMON_PICKUP_TRUST_MS;
}

/* Whether this client SYN is a resend of the SYN that started a half-open
 * session of the same connection under another conntrack ID.
 * Kernel facts: the helper runs at conntrack confirmation, so while the
 * first SYN waits in the queue its conntrack is unconfirmed, and a resent
 * SYN (the client's 1 s retransmission on a slow gateway) finds none and
 * gets a twin. TCP does not resolve the clash: at its verdict the kernel
 * drops the twin's SYN and frees the twin unconfirmed, with no DESTROY
 * event. A session made for it would never end (suite-soak under load:
 * sessions_started 2009 for 2008 connections, one session left). The same
 * initial sequence number tells a resend from a new connection reusing
 * the ports. */
static bool inspect_syn_twin(struct daemon *d, const struct queue_packet *qp,
			     const struct packet_info *pkt)
{
	struct session_entry *o;
	const struct stream *st;

	if (!pkt->syn || qp->reply_direction)
		return false;
	o = session_table_find_control(d->sessions, &qp->orig.src, qp->orig.sport,
				       &qp->orig.dst, qp->orig.dport, NULL);
	if (o == NULL || !o->half_open)
		return false;
	st = &o->session.stream[SESSION_DIR_ORIGINAL];
	return st->synchronized && st->next_seq == pkt->seq + 1;
}

/* Find the session of this packet's control connection, creating it for a
 * packet that can start one (a SYN, or data after a restart). */
static struct session_entry *inspect_session(struct daemon *d,
					     const struct queue_packet *qp,
					     const struct packet_info *pkt,
					     uint64_t now)
{
	struct session_entry *e = session_table_find(d->sessions, qp->conntrack_id);

	/* conntrack IDs are reused once a conntrack is gone */
	if (e && !inspect_session_matches(&e->session, qp)) {
		auditlog_session_ended(d, e, "replaced", now);
		session_table_remove(d->sessions, e);
		e = NULL;
	}
	if (e || pkt->rst || pkt->fin || (!pkt->syn && pkt->payload_len == 0))
		return e;
	/* Data on a connection past ESTABLISHED that we do not track: a
	 * retransmission after the RST or FINs that ended its session
	 * (suite-soak saw a server's 227 resent after the client's RST).
	 * Picked up, it would be a session with no end but the conntrack's. */
	if (!pkt->syn && qp->closing) {
		d->stats.packets_closing_untracked++;
		return NULL;
	}
	if (inspect_syn_twin(d, qp, pkt)) {
		d->stats.syn_twins++;
		return NULL;
	}
	e = inspect_session_add(d, qp->conntrack_id, now);
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
		auditlog_session_untracked(d, qp, full ? "session-table-full" : "out-of-memory");
		if (now - d->last_full_warning_ms >= 10000 || !d->last_full_warning_ms) {
			d->last_full_warning_ms = now;
			log_msg(LOG_WARNING, "not tracking a new control connection: %s (%u tracked, max-sessions %u); its traffic passes without pinholes; raise max-sessions",
				full ? "session table full" : "out of memory",
				session_table_count(d->sessions), d->config.max_sessions);
		}
		return NULL;
	}
	inspect_session_setup(d, e, &qp->orig,
			      qp->has_reply && (qp->ct_status & IPS_NAT_MASK) ? &qp->reply : NULL,
			      now);
	e->midstream = !pkt->syn;
	if (e->midstream)
		session_picked_up(&e->session,
				  inspect_pickup_greeted(d, &e->session, now));
	auditlog_session_started(d, e, pkt->syn ? "new-connection" : "picked-up-mid-stream");
	return e;
}

/* Whether a conntrack NEW event is of a control connection of our helper
 * that a process committed (see inspect_session_synced). */
static bool inspect_ct_synced(const struct ctnl_msg *m)
{
	return m->kind == CTNL_CT_NEW && !m->has_master &&
	       m->proto == IPPROTO_TCP && (m->status & IPS_SEEN_REPLY) &&
	       strcmp(m->helper, CONFIG_HELPER_NAME) == 0;
}

void inspect_session_synced(struct daemon *d, const struct ctnl_msg *m,
			    uint64_t now)
{
	struct session_entry *e;
	char control[FLOW_STRLEN];

	if (!inspect_ct_synced(m) || session_table_find(d->sessions, m->id) != NULL)
		return;
	e = inspect_session_add(d, m->id, now);
	if (e == NULL) {
		log_msg(LOG_WARNING, "not tracking control connection %s committed by another process (conntrackd?): %s; its first packet picks it up ungreeted",
			flow_format(&m->tuple, control, sizeof(control)), strerror(errno));
		return;
	}
	inspect_session_setup(d, e, &m->tuple,
			      m->has_reply && (m->status & IPS_NAT_MASK) ? &m->reply : NULL,
			      now);
	e->midstream = true;
	session_picked_up(&e->session, true);
	d->stats.sessions_synced++;
	auditlog_session_started(d, e, "synced");
}

/* Whether the packet turns back out of the interface it came in on (a
 * hairpin): every packet does on a one-armed gateway; on one that routes
 * between interfaces only a forged one does (a client speaking for the
 * server comes in on the client's side and is routed back to it). */
static bool inspect_hairpin(const struct queue_packet *qp)
{
	return qp->indev != 0 && qp->indev == qp->outdev;
}

/* Counts a packet that is not read for its interface, warning once per
 * session. */
static void inspect_interface_refuse(struct daemon *d, struct session_entry *e,
				     enum session_direction dir,
				     const struct queue_packet *qp)
{
	d->stats.packets_wrong_interface++;
	if (e->wrong_interface_logged)
		return;
	e->wrong_interface_logged = true;
	log_msg(LOG_WARNING, "control connection conntrack %u: a %s packet came in on interface %u, the %s's side (%s): forged? not read; further ones are only counted (packets_wrong_interface_total); add anti-spoofing (rp_filter, nft fib saddr) on the gateway",
		e->conntrack_id, dir == SESSION_DIR_ORIGINAL ? "client" : "server",
		qp->indev, dir == SESSION_DIR_ORIGINAL ? "server" : "client",
		inspect_hairpin(qp) ? "routed back out of it, where this connection's packets are routed through" :
		"its packets come in there");
}

/* Each direction comes in on the interface its first packet came in on; a
 * packet of one direction on the other's interface is forged (a client
 * speaking for the server on a gateway without anti-spoofing) and is not
 * read. So is a hairpin once the connection was seen routed: that closes
 * the race where the forged packet comes first and would be learnt.
 * Nothing to tell when the kernel does not name the interfaces. */
static bool inspect_interface_ok(struct daemon *d, struct session_entry *e,
				 enum session_direction dir,
				 const struct queue_packet *qp)
{
	bool hairpin = inspect_hairpin(qp);
	bool others = e->ifindex[dir] != 0 && qp->indev != e->ifindex[dir] &&
		      qp->indev == e->ifindex[!dir];

	if (qp->indev == 0)
		return true;
	if (hairpin ? e->routed : others) {
		inspect_interface_refuse(d, e, dir, qp);
		return false;
	}
	if (e->ifindex[dir] == 0)
		e->ifindex[dir] = qp->indev;
	if (qp->outdev != 0 && !hairpin)
		e->routed = true;
	return true;
}

/* A RST ends the session only when a receiver that follows RFC 5961
 * would act on it: its sequence number is exactly the next one of its
 * direction; a RST from a side that has sent nothing yet must acknowledge
 * exactly what the other side sent (RFC 793, SYN-SENT). Others are
 * ignored, as the receiver ignores them; conntrack's DESTROY event or the
 * idle timeout ends the session if the connection is really gone. */
static bool inspect_reset_exact(const struct session *s,
				enum session_direction dir,
				const struct packet_info *pkt)
{
	const struct stream *own = &s->stream[dir], *peer = &s->stream[!dir];

	if (own->synchronized)
		return stream_reset_exact(own, pkt->seq);
	return pkt->ack_flag && peer->synchronized && !peer->data_seen &&
	       pkt->ack == peer->next_seq;
}

/* Whether this packet of e's connection is read at all. */
static bool inspect_admitted(struct daemon *d, struct session_entry *e,
			     enum session_direction dir,
			     const struct queue_packet *qp,
			     const struct packet_info *pkt)
{
	if (!inspect_interface_ok(d, e, dir, qp))
		return false;
	if (pkt->rst && !inspect_reset_exact(&e->session, dir, pkt)) {
		d->stats.resets_ignored++;
		log_msg(LOG_INFO, "control connection conntrack %u: RST from the %s with sequence number %u, not the next one expected: ignored (RFC 5961), the session goes on",
			e->conntrack_id, dir == SESSION_DIR_ORIGINAL ? "client" : "server",
			pkt->seq);
		return false;
	}
	return true;
}

/* A data segment: the session is no longer half-open, and a stream
 * whose start went by unseen (picked up mid-stream, or its SYN passed
 * uninspected) cannot say whether this data starts a line. */
static void inspect_data_seen(struct daemon *d, struct session_entry *e,
			      enum session_direction dir)
{
	if (e->half_open)
		session_table_established(d->sessions, e);
	if (!e->session.stream[dir].synchronized)
		session_stream_unseen(&e->session, dir);
}

/* After the packet: the session ends with its connection (an exact RST,
 * FIN both ways, or the kernel destroyed its conntrack meanwhile). */
static void inspect_session_end(struct daemon *d, struct session_entry *e,
				enum session_direction dir,
				const struct packet_info *pkt, uint64_t now)
{
	if (pkt->fin)
		e->fin_seen[dir] = true;
	if (e->ct_destroyed)
		role_session_ended(d, e, now);
	else if (pkt->rst || (e->fin_seen[0] && e->fin_seen[1]))
		auditlog_session_ended(d, e, pkt->rst ? "reset" : "closed", now);
	else
		return;
	session_table_remove(d->sessions, e);
}

/* Said once per daemon: the kernel queues data connections to us. */
static void inspect_data_connection_note(struct daemon *d)
{
	if (d->stats.packets_data_connection != 1)
		return;
	log_msg(LOG_NOTICE, "this kernel gives data connections their control connection's helper, so their packets are queued to ftpgated too: passed unread, counted in packets_data_connection_total (they cost a round trip through ftpgated each; Debian's 6.1.176 does this, 6.1.192 and 6.12 do not: update the kernel)");
}

/* Whether this segment of `dir` starts at the next byte the session
 * expects, so that the session takes all of its bytes now and none of
 * them before (read before the session takes the segment). */
static bool inspect_in_order(const struct session *s,
			     enum session_direction dir,
			     const struct packet_info *pkt)
{
	const struct stream *st = &s->stream[dir];

	return st->synchronized && pkt->seq == st->next_seq;
}

/* Whether the payload's first byte of this in-order segment of `dir`
 * starts a line (read before the session takes the segment). */
static bool inspect_line_start(const struct session *s,
			       enum session_direction dir,
			       const struct packet_info *pkt)
{
	const struct stream *st = &s->stream[dir];

	return inspect_in_order(s, dir, pkt) && st->line_len == 0 &&
	       !st->discarding && !st->cut;
}

/* A copy (capture = replies) that a NAT may need rewritten (rewrite_wanted:
 * any data of a source-NATed client, a reply to rewrite): the ruleset
 * copied what it should have held. Counted; said once. */
static void inspect_copy_unrewritable(struct daemon *d,
				      const struct session_entry *e)
{
	d->stats.copies_unrewritable++;
	if (d->copies_unrewritable_said)
		return;
	d->copies_unrewritable_said = true;
	log_msg(LOG_ERR, "control connection conntrack %u: a data segment a NAT may need rewritten (a source-NATed client's, or a reply to rewrite) came as an NFLOG copy, which cannot be rewritten: the capture chain must hold the server's data segments and a source-NATed client's; load ftpgate's current ruleset (said once; copies_unrewritable_total counts them)",
		e->conntrack_id);
}

/* Whether the packet's actions installed a pinhole: its verdict then goes
 * out at once (queue_accept_now), since the client waits for this reply
 * to open its data connection, and the expectation request has just cost
 * a system call of its own anyway. */
static bool inspect_verdict_now(const struct session_actions *actions,
				const struct inspect_outcome *outcome)
{
	for (unsigned i = 0; i < actions->count; i++)
		if (actions->item[i].kind == SESSION_ACTION_PINHOLE_OPEN &&
		    outcome[i].ret == 0)
			return true;
	return false;
}

/* The packet's verdict: rewritten when a NAT asks for it (rewrite.c),
 * else unchanged. A copy has none. */
static int inspect_verdict(struct daemon *d, struct session_entry *e,
			   enum session_direction dir,
			   const struct queue_packet *qp,
			   const struct packet_info *pkt, bool in_order,
			   bool line_start,
			   struct session_actions *actions,
			   struct inspect_outcome *outcome)
{
	if (qp->copy) {
		if (e != NULL && rewrite_wanted(d, e, dir, pkt, in_order, actions,
						outcome))
			inspect_copy_unrewritable(d, e);
		return 0;
	}
	if (e != NULL && rewrite_verdict(d, e, dir, qp, pkt, in_order,
					 line_start, actions, outcome) == 1)
		return 0;
	return d->kernel->verdict_accept(d, qp->packet_id,
					 inspect_verdict_now(actions, outcome));
}

/* Static, not on the stack (about 170 KB with room for every action of a
 * packet): the daemon handles one packet at a time. Not zeroed whole:
 * session_packet() clears each item it adds and reads no item it did not
 * write, so the header fields are all that need a value. Likewise
 * outcome[i] is written by the kernel phase for each action that reads
 * it. */
static struct session_actions inspect_actions_buf;
static struct inspect_outcome inspect_outcome_buf[SESSION_ACTIONS_MAX];

static void inspect_actions_clear(struct session_actions *a)
{
	a->count = a->dropped = a->reports = 0;
	a->overflow = a->lines_rejected = 0;
	a->commands = a->replies = a->commands_forgotten = 0;
}

/* A copy's ACK (capture = replies) may overtake the peer's segments still
 * held in the queue, and a client that sends one ahead of a held reply
 * would choose where the reply stream resynchronizes (a line inside a
 * multi-line reply read as a final 227). So it is never applied at once:
 * one that acknowledges bytes the session has not read is kept, and
 * applied by inspect_acks_deferred once the queue is empty. */
static void inspect_ack_defer(struct daemon *d, struct session_entry *e,
			      enum session_direction dir,
			      struct packet_info *pkt, uint64_t now)
{
	enum session_direction peer = dir == SESSION_DIR_ORIGINAL ? SESSION_DIR_REPLY
								 : SESSION_DIR_ORIGINAL;

	if (!pkt->ack_flag || pkt->rst)
		return;
	pkt->ack_deferred = true;
	if (!session_acks_ahead(&e->session, peer, pkt->ack))
		return;
	if (e->ack_ahead && e->ack_ahead_peer == peer &&
	    (int32_t)(pkt->ack - e->ack_ahead_seq) <= 0)
		return;
	if (!e->ack_ahead || e->ack_ahead_peer != peer)
		e->ack_ahead_ms = now;
	e->ack_ahead = true;
	e->ack_ahead_peer = (uint8_t)peer;
	e->ack_ahead_seq = pkt->ack;
	d->acks_deferred = true;
}

struct inspect_ack_sweep {
	struct daemon *d;
	uint64_t now;
	bool pending;
};

static void inspect_ack_apply(struct session_entry *e, void *data)
{
	struct inspect_ack_sweep *w = data;
	struct session_actions *actions = &inspect_actions_buf;

	if (!e->ack_ahead)
		return;
	if (w->now - e->ack_ahead_ms < INSPECT_ACK_DEFER_MS) {
		w->pending = true;
		return;
	}
	e->ack_ahead = false;
	inspect_actions_clear(actions);
	session_peer_acked(&e->session, &w->d->config.policy, e->ack_ahead_peer,
			   e->ack_ahead_seq, w->now, actions);
	inspect_actions_kernel(w->d, e, actions, inspect_outcome_buf);
	inspect_actions_report(w->d, e, actions, inspect_outcome_buf);
}

void inspect_acks_deferred(struct daemon *d, uint64_t now)
{
	struct inspect_ack_sweep w = { .d = d, .now = now };

	if (!d->acks_deferred)
		return;
	session_table_foreach(d->sessions, inspect_ack_apply, &w);
	d->acks_deferred = w.pending;
}

void inspect_packet(const struct queue_packet *qp, void *data)
{
	struct daemon *d = data;
	struct session_actions *actions = &inspect_actions_buf;
	struct inspect_outcome *outcome = inspect_outcome_buf;
	struct packet_info pkt;
	struct session_entry *e = NULL;
	enum session_direction dir = SESSION_DIR_ORIGINAL;
	uint64_t now = daemon_now_ms();
	bool in_order = false, line_start = false;

	inspect_actions_clear(actions);
	d->rewrite_plan.decided = false;
	d->stats.packets++;
	if (qp->copy)
		d->stats.packets_copied++;
	pkt.ack_deferred = false;
	if (!qp->has_conntrack || qp->l4proto != IPPROTO_TCP ||
	    packet_parse(qp->data, qp->len, &pkt) < 0) {
		d->stats.packets_unparsed++;
		goto verdict;
	}
	/* A data connection that inherited its master's helper (kernel
	 * facts: queue.h): its bytes are a file, never FTP commands. */
	if (qp->expected) {
		d->stats.packets_data_connection++;
		inspect_data_connection_note(d);
		goto verdict;
	}
	e = inspect_session(d, qp, &pkt, now);
	if (!e)
		goto verdict;
	dir = qp->reply_direction ? SESSION_DIR_REPLY : SESSION_DIR_ORIGINAL;
	if (!inspect_admitted(d, e, dir, qp, &pkt)) {
		e = NULL;
		goto verdict;
	}
	/* The receiver ignores what a RST carries. */
	if (pkt.rst)
		pkt.payload_len = 0;
	if (pkt.payload_len > 0 && !pkt.syn)
		inspect_data_seen(d, e, dir);
	d->inspecting = e;
	e->session.last_seen_ms = now;
	e->packets++;
	in_order = inspect_in_order(&e->session, dir, &pkt);
	line_start = inspect_line_start(&e->session, dir, &pkt);
	/* active-open = command: a PORT's rewrite is decided before its
	 * pinhole is (doc/nat.md 2.2) */
	if (qp->copy)
		inspect_ack_defer(d, e, dir, &pkt, now);
	else
		rewrite_plan_decide(d, e, dir, &pkt, in_order, line_start);
	session_packet(&e->session, &d->config.policy, dir, &pkt, now, actions);
	d->stats.commands_parsed += actions->commands;
	d->stats.commands_forgotten += actions->commands_forgotten;
	d->stats.replies_parsed += actions->replies;
	inspect_actions_kernel(d, e, actions, outcome);
verdict:
	/* Always after the kernel phase: an approved pinhole exists before
	 * the reply that announced it leaves the gateway. */
	if (inspect_verdict(d, e, dir, qp, &pkt, in_order, line_start, actions,
			    outcome) < 0)
		log_msg(LOG_WARNING, "verdict for packet %u failed", qp->packet_id);
	if (!e)
		return;
	/* The log and the audit trail, off the packet's path. */
	inspect_actions_report(d, e, actions, outcome);
	d->inspecting = NULL;
	inspect_session_end(d, e, dir, &pkt, now);
}
