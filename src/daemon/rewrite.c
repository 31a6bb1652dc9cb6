/* rewrite: the lines a NAT gateway must change on their way (doc/nat.md):
 * a DNAT-published server's 227 names the address the client dialled, a
 * masqueraded client's PORT or EPRT names the client as the server sees
 * it. Same length when the grammar leaves room (ftp_rewrite.h); else the
 * kernel adjusts the connection's sequence numbers (IPv4 only), mirrored
 * in the session (seqadj.h) so that acknowledgements still read right.
 * A line that cannot be rewritten passes unchanged, said why: never a
 * corrupted stream. Part of the daemon (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "daemon.h"
#include "ftp_rewrite.h"
#include "log.h"

/* Remember the rewrite of this packet's line (for its retransmissions).
 * Lines longer than the memo are not remembered (a 227 or a PORT is far
 * shorter). */
static void rewrite_remember(struct session_entry *e, enum session_direction dir,
			     const struct packet_info *pkt,
			     const struct rewrite_job *j)
{
	struct session_rewrite_memo *m = e->rewrite_memo;

	if (j->span.old_len > SESSION_REWRITE_MEMO_MAX ||
	    j->res.len > SESSION_REWRITE_MEMO_MAX)
		return;
	if (m == NULL && (m = e->rewrite_memo = malloc(sizeof(*m))) == NULL)
		return;
	m->packet_seq = pkt->seq;
	m->seq = pkt->seq + (uint32_t)j->span.offset;
	m->old_len = (uint16_t)j->span.old_len;
	m->rep_len = (uint16_t)j->res.len;
	m->direction = (uint8_t)dir;
	memcpy(m->old, pkt->payload + j->span.offset, j->span.old_len);
	memcpy(m->rep, j->out, j->res.len);
}

/* A retransmitted segment holding the line last rewritten, still with its
 * old bytes: rewritten the same way (1), else 0. The session does not
 * read retransmitted bytes again, so nothing else would. A resized line
 * only in a segment that starts where the first one did or before it:
 * the kernel shifts a later start by the whole difference (seqadj.h). */
static int rewrite_again(struct daemon *d, struct session_entry *e,
			 enum session_direction dir,
			 const struct queue_packet *qp,
			 const struct packet_info *pkt)
{
	const struct session_rewrite_memo *m = e->rewrite_memo;
	uint32_t off;

	if (m == NULL || m->direction != dir || pkt->syn || pkt->rst ||
	    pkt->urg)
		return 0;
	if (m->old_len != m->rep_len && (int32_t)(m->packet_seq - pkt->seq) < 0)
		return 0;
	off = m->seq - pkt->seq;
	if (off >= pkt->payload_len || pkt->payload_len - off < m->old_len ||
	    memcmp(pkt->payload + off, m->old, m->old_len) != 0 ||
	    d->kernel->verdict_rewrite(d, qp, off, m->old_len, m->rep,
				       m->rep_len) != 0)
		return 0;
	log_msg(LOG_INFO, "retransmitted segment rewritten again like the first (conntrack %u, sequence number %u)",
		e->conntrack_id, m->seq);
	return 1;
}

/* After a resize, the first packet from the other side that acknowledges
 * the resized segment was sent after the kernel took the verdict, so its
 * conntrack status says whether the kernel recorded the adjustment
 * (IPS_SEQ_ADJUST, set by nf_ct_seqadj_set() only when the conntrack has
 * the seqadj extension, doc/nat.md 5). If it did not, that stream is
 * already off by the difference: said with the fix, and resizing stops
 * for the daemon's life. */
static void rewrite_check_seqadj(struct daemon *d, struct session_entry *e,
				 enum session_direction dir,
				 const struct queue_packet *qp,
				 const struct packet_info *pkt)
{
	if (!e->seqadj_pending || dir == e->seqadj_dir || !pkt->ack_flag ||
	    (int32_t)(pkt->ack - e->seqadj_seq) <= 0 || !qp->has_conntrack)
		return;
	e->seqadj_pending = false;
	if (qp->ct_status & IPS_SEQ_ADJUST)
		return;
	d->resize_refused = true;
	d->stats.nat_seqadj_missing++;
	log_msg(LOG_ERR, "sequence adjustment missing on conntrack %u after a rewrite changed a line's length: that control connection is broken; the helper must be attached before NAT is set up (prerouting, priority -150: after conntrack, before dstnat; rules/ftpgate.nft does this); rewrites that change a length are refused until ftpgated restarts",
		e->conntrack_id);
}

/* Why a resize cannot be asked for, or NULL. */
static const char *rewrite_resize_refused(const struct daemon *d,
					  const struct session_entry *e)
{
	if (e->session.client.family == AF_INET6)
		return "changing its length needs the kernel's sequence adjustment, which is wrong for IPv6 (nf_ct_tcp_seqadj_set reads an IPv4 header length)";
	/* Kernel facts (read in 6.1's nf_conntrack_core.c and
	 * nfnetlink_queue.c; measured in the lab, suite-nat under capture =
	 * replies: every resized rewrite broke its control connection): a
	 * packet of a connection with a userspace helper that comes back
	 * from any queue gets the sequence adjustment in
	 * nf_conntrack_update() -> nf_confirm_cthelper(). The helper's own
	 * queue runs inside nf_confirm(), whose adjustment the packet then
	 * skips; the capture chain's queue runs before nf_confirm(), which
	 * adjusts it a second time. */
	if (d->config.capture_replies)
		return "changing its length needs the kernel's sequence adjustment, which under capture = replies would shift every later held segment twice (the queue's reinjection and conntrack's confirm hook both adjust it); use capture = helper on a NAT gateway whose addresses differ in length";
	if (d->resize_refused)
		return "changing its length needs the kernel's sequence adjustment, found missing earlier (see the error logged then)";
	return NULL;
}

/* Why j's line cannot be sent rewritten in this packet, or NULL. Never
 * a segment with urgent data (nor in rewrite_again): its pointer would
 * name another byte. */
static const char *rewrite_refusal(const struct daemon *d,
				   const struct session_entry *e,
				   const struct packet_info *pkt,
				   const struct rewrite_job *j)
{
	if (pkt->urg)
		return "the segment carries urgent data: the urgent pointer counts from the segment's start and does not follow a rewrite, and a receiver without SO_OOBINLINE takes that byte out of the line";
	if (j->res.len != j->span.old_len)
		return rewrite_resize_refused(d, e);
	return NULL;
}

/* Release the packet with j's line rewritten. 0, or negative errno with
 * the reason logged by the caller in *why. */
static int rewrite_send(struct daemon *d, struct session_entry *e,
			enum session_direction dir,
			const struct queue_packet *qp,
			const struct packet_info *pkt,
			const struct rewrite_job *j, const char **why)
{
	int32_t diff = (int32_t)j->res.len - (int32_t)j->span.old_len;
	int rc;

	if ((*why = rewrite_refusal(d, e, pkt, j)) != NULL)
		return -EOPNOTSUPP;
	rc = d->kernel->verdict_rewrite(d, qp, j->span.offset, j->span.old_len,
					j->out, j->res.len);
	if (rc < 0) {
		*why = strerror(-rc);
		return rc;
	}
	d->stats.nat_rewrites++;
	if (diff != 0) {
		d->stats.nat_rewrites_resized++;
		session_seqadj_add(&e->session, dir, pkt->seq, diff);
		e->seqadj_pending = true;
		e->seqadj_dir = (uint8_t)dir;
		e->seqadj_seq = pkt->seq;
		log_msg(LOG_INFO, "%s rewritten from %s to %s (length %+d, sequence adjusted; conntrack %u)",
			j->what, j->from, j->to, (int)diff, e->conntrack_id);
	} else {
		log_msg(LOG_INFO, "%s rewritten from %s to %s (same length; conntrack %u)",
			j->what, j->from, j->to, e->conntrack_id);
	}
	rewrite_remember(e, dir, pkt, j);
	return 0;
}

/* A 227 or 229 whose installed pinhole asks for a rewrite: a 227 naming
 * a DNAT-published server's own address, rewritten to name the address
 * the client dialled (doc/nat.md 2.1), or a reply whose port was moved
 * after a clash (2.4; a 229 then too). It names nat.address:nat.port
 * and becomes data.dst:data.dport. 1 when released rewritten, else 0
 * (said why). */
static int rewrite_reply(struct daemon *d, struct session_entry *e,
			 enum session_direction dir,
			 const struct queue_packet *qp,
			 const struct packet_info *pkt, bool in_order,
			 bool line_start, const struct session_action *a)
{
	bool epsv = strncmp(a->reply, "229", 3) == 0;
	struct rewrite_job j = { .what = epsv ? "229" : "227" };
	const char *why = NULL;
	int rc = -EALREADY;

	flow_endpoint_format(&a->nat.address, a->nat.port, j.from, sizeof(j.from));
	flow_endpoint_format(&a->data.dst, a->data.dport, j.to, sizeof(j.to));
	if (in_order)
		rc = ftp_rewrite_find_reply(epsv ? FTP_REWRITE_229 : FTP_REWRITE_227,
					    pkt->payload, pkt->payload_len,
					    line_start, &a->nat.address,
					    a->nat.port, &a->data.dst,
					    a->data.dport, j.out, sizeof(j.out),
					    &j.span, &j.res);
	if (rc == 0 && rewrite_send(d, e, dir, qp, pkt, &j, &why) == 0)
		return 1;
	if (rc == -EALREADY)
		why = "the segment is not the next in order (a retransmission: lines in it were taken, and rewritten or passed, before)";
	else if (rc == -ENOENT)
		why = "the line is not whole in one segment";
	else if (rc < 0)
		why = j.res.reason != NULL ? j.res.reason : strerror(-rc);
	d->stats.nat_rewrites_refused++;
	if (epsv)
		log_msg(LOG_WARNING, "229 naming port %u passed unchanged (conntrack %u): %s; the client will connect to that port, which is expected for another client: that transfer fails",
			a->nat.port, e->conntrack_id, why);
	else
		log_msg(LOG_WARNING, "227 naming %s passed unchanged (conntrack %u): %s; clients that ignore the 227's address (curl, python ftplib by default) still connect to %s; or have the server announce %s itself (vsftpd pasv_address) and list it in announce-address",
			j.from, e->conntrack_id, why, j.to, j.to);
	return 0;
}

/* The port the gateway announces for a masqueraded client's port q: q
 * itself, unless another master's pinhole already expects the server at
 * nat_client:q (two clients behind one address naming the same port,
 * doc/nat.md 2.4); then pinhole_free_port's. 0 when none is free. */
static uint16_t rewrite_public_port(struct daemon *d,
				    const struct session_entry *e, uint16_t q)
{
	struct flow x = { e->session.real_server, e->session.nat_client, 0, q };
	struct flow master;

	session_control_flow(&e->session, &master);
	return pinhole_free_port(d->pinholes, &x, &master);
}

/* What the server is told by a PORT/EPRT passed unchanged. */
#define REWRITE_LEFT_REPLY "its pinhole, if the server accepts it, is for that address, which the server may not reach: use passive mode through this gateway"
#define REWRITE_LEFT_COMMAND "the pinhole opened at the command is for that address, which the server may not reach: use passive mode through this gateway"
#define REWRITE_LEFT_REMOVED "the pinhole opened at the command for the rewritten address is removed: use passive mode through this gateway"

/* Whether a packet of dir may hold a masqueraded client's PORT/EPRT to
 * rewrite. Not in order: a retransmission (its lines were rewritten, or
 * passed, when first seen; rewriting one again would ask the kernel for
 * a second adjustment) or a segment held for later. Replies likewise
 * (rewrite_reply). */
static bool rewrite_command_wanted(const struct session *s,
				   enum session_direction dir,
				   const struct packet_info *pkt, bool in_order)
{
	return dir == SESSION_DIR_ORIGINAL && s->nat && in_order &&
	       pkt->payload_len > 0 &&
	       !inet_addr_equal(&s->client, &s->nat_client);
}

/* The rewrite of the first complete PORT or EPRT of this payload naming
 * the client's own address: to name the client as the server sees it,
 * same port unless another client's pinhole has it (rewrite_public_port).
 * 1 with j ready to send, *port the client's and *pub the public one;
 * 0 when the payload holds no such line; -1 when it cannot be rewritten
 * (*why; j's from and to set). */
static int rewrite_command_decide(struct daemon *d, struct session_entry *e,
				  const struct packet_info *pkt, bool line_start,
				  struct rewrite_job *j, uint16_t *port,
				  uint16_t *pub, const char **why)
{
	const struct session *s = &e->session;
	struct ftp_rewrite_found f = { FTP_REWRITE_PORT, 0 };
	int rc;

	j->what = "PORT";
	if (ftp_rewrite_scan_command(pkt->payload, pkt->payload_len, line_start,
				     &s->client, &j->span, &f) < 0)
		return 0;
	j->what = ftp_rewrite_kind_name(f.kind);
	*port = f.port;
	flow_endpoint_format(&s->client, f.port, j->from, sizeof(j->from));
	flow_endpoint_format(&s->nat_client, f.port, j->to, sizeof(j->to));
	*pub = rewrite_public_port(d, e, f.port);
	if (*pub == 0) {
		*why = "every port tried on the gateway's address is expected for another client already";
		return -1;
	}
	if (*pub != f.port)
		log_msg(LOG_NOTICE, "%s naming %s: %s is expected for another client already, port %u announced instead (conntrack %u)",
			j->what, j->from, j->to, *pub, e->conntrack_id);
	flow_endpoint_format(&s->nat_client, *pub, j->to, sizeof(j->to));
	rc = ftp_rewrite_line(f.kind, (const char *)pkt->payload + j->span.offset,
			      j->span.old_len, &s->nat_client, *pub, j->out,
			      sizeof(j->out), &j->res);
	if (rc < 0) {
		*why = j->res.reason != NULL ? j->res.reason : strerror(-rc);
		return -1;
	}
	return 1;
}

/* A PORT/EPRT passed unchanged: counted and said why, and what becomes
 * of its pinhole (`left`). */
static void rewrite_command_refused(struct daemon *d,
				    const struct session_entry *e,
				    const struct rewrite_job *j,
				    const char *why, const char *left)
{
	d->stats.nat_rewrites_refused++;
	log_msg(LOG_WARNING, "%s naming %s passed unchanged (conntrack %u): %s; %s",
		j->what, j->from, e->conntrack_id, why, left);
}

/* A masqueraded client's PORT or EPRT naming its own address: rewritten
 * in this packet to name the client as the server sees it, same port
 * (doc/nat.md 2.2); the pinhole follows the server's 200
 * (session_active_nat). 1 when released rewritten, else 0 (a line that
 * is not there is not said; one that cannot be rewritten is). */
static int rewrite_command(struct daemon *d, struct session_entry *e,
			   enum session_direction dir,
			   const struct queue_packet *qp,
			   const struct packet_info *pkt, bool line_start)
{
	struct rewrite_job j = { .what = "PORT" };
	const char *why = NULL;
	uint16_t port = 0, pub = 0;
	int r;

	r = rewrite_command_decide(d, e, pkt, line_start, &j, &port, &pub, &why);
	if (r == 0)
		return 0;
	if (r > 0 && rewrite_send(d, e, dir, qp, pkt, &j, &why) == 0) {
		session_command_rewritten(&e->session, port, pub);
		return 1;
	}
	rewrite_command_refused(d, e, &j, why, REWRITE_LEFT_REPLY);
	return 0;
}

void rewrite_plan_decide(struct daemon *d, struct session_entry *e,
			 enum session_direction dir, const struct packet_info *pkt,
			 bool in_order, bool line_start)
{
	struct rewrite_plan *pl = &d->rewrite_plan;
	const char *why = NULL;
	int r;

	pl->decided = pl->on = false;
	if (!rewrite_command_wanted(&e->session, dir, pkt, in_order) ||
	    !policy_active_open_command(&d->config.policy,
					&e->session.real_server))
		return;
	pl->decided = true;
	memset(&pl->job, 0, sizeof(pl->job));
	r = rewrite_command_decide(d, e, pkt, line_start, &pl->job, &pl->port,
				   &pl->pub, &why);
	if (r > 0 && (why = rewrite_refusal(d, e, pkt, &pl->job)) != NULL)
		r = -1;
	if (r < 0)
		rewrite_command_refused(d, e, &pl->job, why, REWRITE_LEFT_COMMAND);
	if (r <= 0)
		return;
	pl->on = true;
	session_command_rewrite_next(&e->session, pl->port, pl->pub);
}

/* Remove the pinhole `open` this packet installed: a PINHOLE_REMOVE for
 * SESSION_REMOVE_NOT_REWRITTEN appended to actions (reported with the
 * rest; when there is no room, removed all the same, unreported), and
 * the session's record of it forgotten. */
static void rewrite_remove_open(struct daemon *d, struct session_entry *e,
				const struct session_action *open,
				struct session_actions *actions,
				struct inspect_outcome *outcome)
{
	struct session_action spare, *r = &spare;
	struct inspect_outcome spare_o, *o = &spare_o;

	if (actions->count < SESSION_ACTIONS_MAX) {
		r = &actions->item[actions->count];
		o = &outcome[actions->count++];
	}
	*r = *open;
	r->kind = SESSION_ACTION_PINHOLE_REMOVE;
	r->cause = SESSION_REMOVE_NOT_REWRITTEN;
	r->record_id = 0;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 session_remove_cause_text(SESSION_REMOVE_NOT_REWRITTEN));
	inspect_pinhole_remove(d, e, r, o);
	session_pinhole_failed(&e->session, open);
}

/* The planned PORT/EPRT could not be sent rewritten: the server is told
 * the client's own address, so the pinhole opened at the command for
 * the public one (nat_client:pub, landing on the client's port) goes. */
static void rewrite_unplan(struct daemon *d, struct session_entry *e,
			   struct session_actions *actions,
			   struct inspect_outcome *outcome)
{
	const struct rewrite_plan *pl = &d->rewrite_plan;
	unsigned i, n = actions->count;

	for (i = 0; i < n; i++) {
		const struct session_action *a = &actions->item[i];

		if (a->kind == SESSION_ACTION_PINHOLE_OPEN && a->active &&
		    a->nat.on && a->nat_dir == SESSION_DIR_REPLY &&
		    a->data.dport == pl->pub && a->nat.port == pl->port &&
		    inet_addr_equal(&a->data.dst, &e->session.nat_client) &&
		    outcome[i].ret == 0)
			rewrite_remove_open(d, e, a, actions, outcome);
	}
}

/* The PORT/EPRT rewrite_plan_decide decided: sent, 1, or its pinhole removed
 * (said why), 0. */
static int rewrite_plan_send(struct daemon *d, struct session_entry *e,
			     enum session_direction dir,
			     const struct queue_packet *qp,
			     const struct packet_info *pkt,
			     struct session_actions *actions,
			     struct inspect_outcome *outcome)
{
	const char *why = NULL;

	if (rewrite_send(d, e, dir, qp, pkt, &d->rewrite_plan.job, &why) == 0)
		return 1;
	rewrite_command_refused(d, e, &d->rewrite_plan.job, why,
				REWRITE_LEFT_REMOVED);
	rewrite_unplan(d, e, actions, outcome);
	return 0;
}

bool rewrite_wanted(const struct daemon *d, const struct session_entry *e,
		    enum session_direction dir, const struct packet_info *pkt,
		    bool in_order, const struct session_actions *actions,
		    const struct inspect_outcome *outcome)
{
	unsigned i;

	for (i = 0; i < actions->count; i++)
		if (actions->item[i].kind == SESSION_ACTION_PINHOLE_OPEN &&
		    actions->item[i].rewrite && outcome[i].ret == 0)
			return true;
	if (d->rewrite_plan.decided)
		return d->rewrite_plan.on;
	return rewrite_command_wanted(&e->session, dir, pkt, in_order);
}

int rewrite_verdict(struct daemon *d, struct session_entry *e,
		    enum session_direction dir, const struct queue_packet *qp,
		    const struct packet_info *pkt, bool in_order, bool line_start,
		    struct session_actions *actions,
		    struct inspect_outcome *outcome)
{
	unsigned i;

	rewrite_check_seqadj(d, e, dir, qp, pkt);
	for (i = 0; i < actions->count; i++) {
		const struct session_action *a = &actions->item[i];

		if (a->kind == SESSION_ACTION_PINHOLE_OPEN && a->rewrite &&
		    outcome[i].ret == 0 &&
		    rewrite_reply(d, e, dir, qp, pkt, in_order, line_start,
				  a) == 1)
			return 1;
	}
	if (d->rewrite_plan.decided) {
		if (d->rewrite_plan.on &&
		    rewrite_plan_send(d, e, dir, qp, pkt, actions, outcome) == 1)
			return 1;
	} else if (rewrite_command_wanted(&e->session, dir, pkt, in_order) &&
		   rewrite_command(d, e, dir, qp, pkt, line_start) == 1) {
		return 1;
	}
	return rewrite_again(d, e, dir, qp, pkt);
}
