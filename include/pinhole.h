/* pinhole: the daemon's record of the expectations it opened (and of those
 * it found in the kernel at start-up), so that the audit log can say what
 * became of each one: used by a data connection, expired unused, or
 * removed. Pure data structure and decisions; the daemon feeds it kernel
 * events and asks the kernel when a decision needs a fact.
 *
 * Lifecycle: OPEN (installed) -> GONE (the kernel reported the expectation
 * destroyed; wait briefly for the data connection's creation event, which
 * the kernel sends after the destroy) -> closed with a pinhole_close
 * reason, and the entry is freed. An OPEN entry past its expiry is closed
 * as expired once the kernel confirms it no longer lists it. */
#ifndef FTPGATE_PINHOLE_H
#define FTPGATE_PINHOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flow.h"

enum pinhole_state {
	PINHOLE_OPEN,
	PINHOLE_GONE,			/* destroy event seen, reason pending */
};

/* How a pinhole ended. Names (pinhole_close_name) are part of the audit
 * schema: never rename one. */
enum pinhole_close {
	PINHOLE_CLOSE_USED = 0,		/* a data connection was created */
	PINHOLE_CLOSE_EXPIRED,		/* timed out unused */
	PINHOLE_CLOSE_SESSION,		/* its control connection's conntrack
					   is gone, and the kernel removed it
					   with it */
	PINHOLE_CLOSE_FTPGATE,		/* ftpgated removed it */
	PINHOLE_CLOSE_KERNEL,		/* removed before expiry while its
					   control connection lived, and no
					   data connection came of it (conntrack
					   -D/-F, expect-max eviction, or a
					   connection dropped before the
					   kernel confirmed it) */
	PINHOLE_CLOSE_UNKNOWN,		/* kernel events were lost meanwhile */
	PINHOLE_CLOSE_HANDED_OVER,	/* removed from this node's kernel
					   while it was the backup of a
					   gateway pair: the peer carries it
					   on (ftpgatectl role, doc/ha.md) */
	PINHOLE_CLOSE_COUNT
};

#define PINHOLE_TEXT_MAX 128

struct pinhole {
	uint64_t id;			/* daemon-wide sequence, from 1 */
	struct flow expect;	/* the data connection it admits */
	struct flow master;	/* control connection, original dir */
	uint32_t conntrack_id;		/* of the master; 0 if unknown */
	enum pinhole_state state;
	bool adopted;			/* found in the kernel, not opened by
					   this daemon instance */
	bool removing;			/* ftpgated asked the kernel to remove it */
	bool uncertain;			/* kernel events were lost while open */
	bool vanished;			/* OPEN, but the kernel no longer lists
					   it (set by the daemon's check) */
	bool poll;			/* no destroy event can be expected (its
					   master conntrack predates our event
					   subscription, so the kernel gave it
					   no event cache): ask the kernel every
					   PINHOLE_RECHECK_MS instead */
	/* a translated pinhole (NATed control connection, doc/nat.md): the
	 * data connection addressed to expect.dst:expect.dport lands on
	 * nat */
	struct flow_nat nat;
	uint64_t opened_ms;		/* monotonic */
	uint64_t expiry_ms;		/* monotonic; refreshed on re-announce */
	uint64_t gone_ms;		/* when the destroy event was read */
	bool gone_on_backup;		/* this node was a pair's backup then
					   (ftpgatectl role; the daemon's) */
	uint64_t next_check_ms;		/* OPEN past expiry: next kernel check */
	int64_t opened_wall_ms;		/* realtime, for display */
	uint32_t timeout_s;
	unsigned refreshed;		/* re-announcements of the same port */
	int reply_code;
	char command[PINHOLE_TEXT_MAX];
	char reply[PINHOLE_TEXT_MAX];
	char remove_cause[32];		/* why ftpgated removed it, if it did */
	struct pinhole *next;		/* hash chain */
	struct pinhole *client_next;	/* chain of its client's pinholes */
};

struct pinhole_table;

/* max: entries held at once (>= 1). 0 or -ENOMEM. */
int pinhole_table_create(struct pinhole_table **t, unsigned max);
void pinhole_table_destroy(struct pinhole_table *t);
unsigned pinhole_table_count(const struct pinhole_table *t);

/* The entry for this expectation (tuple and master), or NULL. */
struct pinhole *pinhole_find(struct pinhole_table *t,
			     const struct flow *expect,
			     const struct flow *master);

/* An OPEN entry of another master whose tuple the kernel would take as
 * the same as `expect` (kernel facts: expect_clash() compares the tuples
 * under both masks, so a source port counts only when both name one):
 * the same source address, destination address and port. The entry of
 * `master` itself is not a clash (the kernel replaces it). NULL if
 * none. One hash chain is walked. */
struct pinhole *pinhole_find_clash(struct pinhole_table *t,
				   const struct flow *expect,
				   const struct flow *master);

/* Ports tried after a clash (doc/nat.md 2.4); nf_nat_ftp tries up to
 * 65535, a bound keeps a crafted flood of PORTs linear. */
#define PINHOLE_CLASH_TRIES 32

/* The port for `expect` that clashes with no other master's pinhole
 * (pinhole_find_clash): expect->dport itself when free, else the next
 * free one, unprivileged ports only (past 65535 back to 1024), at most
 * PINHOLE_CLASH_TRIES tried. 0 when every one tried clashes. A
 * privileged expect->dport is returned as it is (policy judges it). */
uint16_t pinhole_free_port(struct pinhole_table *t, const struct flow *expect,
			   const struct flow *master);

/* Record an expectation: a new entry (id assigned, OPEN), or, when one for
 * the same tuple and master exists, that entry (refreshed, back to OPEN).
 * *is_new says which. NULL with errno ENOSPC when the table is full. The
 * caller fills in the text fields and times it knows. */
struct pinhole *pinhole_add(struct pinhole_table *t,
			    const struct flow *expect,
			    const struct flow *master,
			    bool *is_new);

/* Does a connection with original tuple `conn` (TCP) match what `p`
 * expects? Addresses and destination port exactly; the source port only
 * when the expectation names one. */
bool pinhole_admits(const struct pinhole *p, const struct flow *conn);

/* The entry a new data connection came from: master equal and
 * pinhole_admits(). GONE entries are preferred (the kernel destroyed the
 * expectation when the connection used it). NULL if none. */
struct pinhole *pinhole_match_connection(struct pinhole_table *t,
					 const struct flow *conn,
					 const struct flow *master);

void pinhole_remove(struct pinhole_table *t, struct pinhole *p);

/* Pinholes of one client (the master's source address, i.e. the client of
 * the control connection, in passive and active mode alike) that may
 * still admit a connection: OPEN, not being removed by ftpgated and not
 * found missing from the kernel. The cost is the length of that client's
 * chain, never the whole table. */
unsigned pinhole_client_open_count(const struct pinhole_table *t,
				   const struct inet_addr *client);

/* Kernel events were lost: mark every entry uncertain, and polled (its
 * destroy event may have been among the lost ones, so the kernel is asked
 * every PINHOLE_RECHECK_MS rather than at the expiry). */
void pinhole_mark_uncertain(struct pinhole_table *t);

void pinhole_foreach(struct pinhole_table *t,
		     void (*fn)(struct pinhole *p, void *data), void *data);

/* Grace after a destroy event before deciding it was not a use: the
 * kernel sends the data connection's creation event right after (same
 * packet), so one second of slack covers our own reading delay. */
#define PINHOLE_GONE_GRACE_MS 1000
/* Check an OPEN pinhole this long after its expiry (clock skew between
 * our timer and the kernel's jiffies), and again this often if the kernel
 * still lists it. */
#define PINHOLE_EXPIRY_SLACK_MS 500
#define PINHOLE_RECHECK_MS 1000

/* What the daemon must do about an entry at `now_ms`. */
enum pinhole_due {
	PINHOLE_DUE_NOTHING,
	PINHOLE_DUE_CHECK_KERNEL,	/* OPEN past expiry (or polled): ask
					   whether the kernel still lists it */
	PINHOLE_DUE_DECIDE,		/* GONE past the grace: call
					   pinhole_gone_reason() */
};
enum pinhole_due pinhole_due(const struct pinhole *p, uint64_t now_ms);

/* Why a GONE pinhole (no data connection matched) ended, given whether
 * its master conntrack still exists. */
enum pinhole_close pinhole_gone_reason(const struct pinhole *p,
				       bool master_alive);

/* Why an OPEN pinhole ended that the kernel no longer lists and for which
 * no destroy event was read: expired (or unknown when events were lost). */
enum pinhole_close pinhole_vanished_reason(const struct pinhole *p);

const char *pinhole_close_name(enum pinhole_close c);	/* "used", ... */
/* The audit event for a close: "pinhole-used", "pinhole-expired" or
 * "pinhole-removed". */
const char *pinhole_close_event(enum pinhole_close c);

#endif
