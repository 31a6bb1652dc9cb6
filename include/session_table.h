/* session_table: the tracked control connections, keyed by conntrack ID,
 * bounded in count. Pure data structure, no netlink. */
#ifndef FTPGATE_SESSION_TABLE_H
#define FTPGATE_SESSION_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "session.h"

/* The last line rewritten in a packet of a connection (rewrite.c), so
 * that a retransmission of its segment is rewritten byte for byte the
 * same way. Allocated on the first rewrite, freed with the entry. */
#define SESSION_REWRITE_MEMO_MAX 128
struct session_rewrite_memo {
	uint32_t packet_seq;		/* the rewritten packet's first byte */
	uint32_t seq;			/* the line's first byte */
	uint16_t old_len, rep_len;
	uint8_t direction;		/* enum session_direction */
	char old[SESSION_REWRITE_MEMO_MAX];
	char rep[SESSION_REWRITE_MEMO_MAX];
};

struct session_entry {
	uint32_t conntrack_id;
	bool fin_seen[2];		/* by enum session_direction */
	/* for the audit log and ftpgatectl sessions */
	uint64_t started_ms;		/* monotonic */
	bool midstream;			/* picked up without its SYN: its
					   conntrack may predate ftpgated */
	bool ct_events;			/* its conntrack's NEW event was read:
					   the kernel gave it an event cache,
					   so its expectations' destroy
					   events will come */
	uint64_t packets;
	uint64_t pinholes_opened, pinholes_refused;
	/* the interface each direction's packets come in on (learnt from
	 * its first packet; 0: not yet), and whether a packet on the
	 * wrong one was logged */
	uint32_t ifindex[2];
	bool wrong_interface_logged;
	/* a packet of it came in on one interface and left on another:
	 * the gateway routes it, so one that turns back out of the
	 * interface it came in on is forged (inspect.c) */
	bool routed;
	bool ct_destroyed;		/* DESTROY event read while a packet
					   of it was being handled */
	bool half_open;			/* no data seen yet (in the table's
					   half-open list) */
	struct session session;
	struct session_rewrite_memo *rewrite_memo;	/* owned, or NULL */
	/* a resize whose sequence adjustment is still to be seen in the
	 * conntrack status (rewrite.c): its direction and packet */
	bool seqadj_pending;
	uint8_t seqadj_dir;
	uint32_t seqadj_seq;
	/* capture = replies: a copy acknowledged bytes of stream
	 * ack_ahead_peer past what the session has read; they may still be
	 * held in the queue, so the hole is skipped only if it is still
	 * there once the queue is empty (inspect_acks_deferred) */
	bool ack_ahead;
	uint8_t ack_ahead_peer;
	uint32_t ack_ahead_seq;
	uint64_t ack_ahead_ms;
	struct session_entry *next;	/* hash chain by conntrack ID */
	struct session_entry *half_prev, *half_next;	/* half-open list */
	struct session_entry *control_next; /* hash chain by control
					   connection (session_table_index) */
	bool indexed;			/* in that chain */
};

struct session_table;

/* Returns 0 or -ENOMEM. max_sessions >= 1. */
int session_table_create(struct session_table **t, unsigned max_sessions);
void session_table_destroy(struct session_table *t);

struct session_entry *session_table_find(struct session_table *t,
					 uint32_t conntrack_id);

/* A zeroed entry for conntrack_id (the caller runs session_init on it), or
 * NULL with errno ENOSPC when the table holds max_sessions already, ENOMEM
 * when allocation fails. The ID must not be in the table. The entry starts
 * half-open (no data seen) until session_table_established(). */
struct session_entry *session_table_add(struct session_table *t,
					uint32_t conntrack_id);

/* Index e by its control connection (the client, client port, server
 * and server port session_init gave e->session) for
 * session_table_find_control. Call once, after session_init; an entry not
 * indexed is found by conntrack ID only. */
void session_table_index(struct session_table *t, struct session_entry *e);

/* The indexed entry whose control connection is client:client_port ->
 * server:server_port (the newest, should two have it), or NULL. Costs one
 * hash chain, never a walk of the table: the hash has a random key, so
 * peers cannot aim their connections at one chain. `examined` (when not
 * NULL) is set to the entries looked at, for tests. */
struct session_entry *session_table_find_control(struct session_table *t,
						 const struct inet_addr *client,
						 uint16_t client_port,
						 const struct inet_addr *server,
						 uint16_t server_port,
						 unsigned *examined);

/* The entry's connection carried data: it is no longer half-open. */
void session_table_established(struct session_table *t, struct session_entry *e);
/* The half-open entry added first of those still half-open, or NULL: what
 * to evict when the table is full (a SYN flood must not hold every slot). */
struct session_entry *session_table_oldest_half_open(struct session_table *t);

/* session_free()s the entry's session and releases the entry. */
void session_table_remove(struct session_table *t, struct session_entry *e);

/* Remove every session not seen since now_ms - idle_ms. Returns how many. */
unsigned session_table_expire(struct session_table *t, uint64_t now_ms,
			      uint64_t idle_ms);
/* The same, calling fn (when not NULL) for each entry just before it is
 * removed. */
unsigned session_table_expire_each(struct session_table *t, uint64_t now_ms,
				   uint64_t idle_ms,
				   void (*fn)(struct session_entry *e, void *data),
				   void *data);

unsigned session_table_count(const struct session_table *t);
/* Change the bound (a reload). Sessions already tracked stay, even above a
 * lowered bound; new ones are refused until the count is below it. The
 * hash keeps the size chosen at creation, so a much higher bound costs
 * longer chains, not a rehash on the packet path. */
void session_table_set_max(struct session_table *t, unsigned max_sessions);

/* Call fn for every entry (fn must not add or remove entries). */
void session_table_foreach(struct session_table *t,
			   void (*fn)(struct session_entry *e, void *data),
			   void *data);

#endif
