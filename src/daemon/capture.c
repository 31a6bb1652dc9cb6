/* capture: which packets of FTP control connections reach ftpgated, and
 * in what order (doc/config.md "Capture").
 *
 * capture = helper: the helper queues every packet of a control
 * connection to queue-number; each waits in the kernel for its verdict.
 *
 * capture = replies: the helper is registered disabled (it queues
 * nothing; expectations still need it on the master). The ruleset's
 * capture chain holds on capture-queue-number only the segments that can
 * lead to a pinhole or need rewriting: the server's segments that carry
 * data, and a source-NATed client's (PORT/EPRT rewrites, doc/nat.md). It
 * copies every other packet to NFLOG group capture-log-group, which
 * ftpgated reads without holding anything.
 *
 * Order: the NFLOG group is bound on the queue's own socket, and every
 * copy is unicast to it from its packet's own path, before the packet goes
 * on (copies.c). So copies and held packets arrive in one receive queue
 * in the order the kernel sent them, and queue_receive() hands them to
 * inspect_packet in that order: each command before the reply it caused.
 * Copies can overtake held packets (the server's FIN after a held reply,
 * a pipelined command): those carry nothing the held packet depends on,
 * the streams order bytes by sequence number, and a copy's ACK ahead of
 * the bytes read is kept until the queue is empty (inspect.c). A lost
 * copy leaves a gap that fails closed (the stream resynchronizes at the
 * next line; a reply to a command not seen is unsolicited). */
#include <errno.h>
#include <string.h>

#include "copies.h"
#include "daemon.h"
#include "log.h"

/* Repeat the warning about lost copies at most this often. */
#define CAPTURE_LOST_REPEAT_MS 10000

uint16_t capture_queue_number(const struct daemon *d)
{
	return d->config.capture_replies ? d->config.capture_queue_number
					 : d->config.queue_number;
}

/* Said at start: under capture = replies a client's PORT or EPRT is a
 * copy, already on its way to the server, so active-open = command's
 * promise (the pinhole exists before the command is released,
 * doc/protocol.md) does not hold. */
static void capture_active_open_note(const struct daemon *d)
{
	const struct policy *p = &d->config.policy;
	bool command = p->active_open == POLICY_ACTIVE_OPEN_COMMAND;
	size_t i;

	for (i = 0; i < p->server_count; i++)
		command |= p->servers[i].active_open == POLICY_ACTIVE_OPEN_COMMAND;
	if (command)
		log_msg(LOG_WARNING, "active-open = command with capture = replies: the client's PORT or EPRT is not held, so its pinhole may come after the server's first connection attempt (that SYN is dropped and resent); use capture = helper where active-open = command matters");
}

int capture_open(struct daemon *d, char *err, size_t errlen)
{
	if (!d->config.capture_replies)
		return 0;
	capture_active_open_note(d);
	return copies_open(&d->copies, d->queue, d->config.capture_log_group,
			   inspect_packet, d, err, errlen);
}

/* Copies went missing since the last look: said once per burst, with the
 * fix, and audited. */
static void capture_lost_check(struct daemon *d)
{
	unsigned long lost = copies_lost(d->copies);
	uint64_t now;

	if (lost == d->copies_lost_said)
		return;
	now = daemon_now_ms();
	if (d->copies_lost_warned_ms != 0 &&
	    now - d->copies_lost_warned_ms < CAPTURE_LOST_REPEAT_MS)
		return;
	d->copies_lost_warned_ms = now;
	d->copies_lost_said = lost;
	log_msg(LOG_WARNING, "NFLOG group %u: %lu copies of control connection packets lost so far (copies_lost_total): the kernel could not deliver them, so their bytes went by unread and the sessions skip them (no pinhole for what they asked); raise queue-receive-buffer-bytes (a restart applies it) or find what slows ftpgated down",
		d->config.capture_log_group, lost);
	auditlog_events_lost(d, "copies", lost);
}

void capture_round_end(struct daemon *d, int held)
{
	if (d->copies == NULL)
		return;
	capture_lost_check(d);
	if (held >= 0 && held < QUEUE_RECEIVE_MAX)
		inspect_acks_deferred(d, daemon_now_ms());
}

void capture_refresh_stats(struct daemon *d)
{
	d->stats.copies_lost = copies_lost(d->copies);
}

void capture_close(struct daemon *d)
{
	copies_close(d->copies);
	d->copies = NULL;
}
