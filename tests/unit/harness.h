/* harness: the daemon's real packet path (inspect_packet, action,
 * auditlog, pinholes) on the
 * host, in front of a fake kernel (kernel_ops) that records which
 * expectations would be installed and removed, answers lookups from what
 * it holds, and delivers the conntrack events a test queues. One control
 * connection per harness, driven with crafted IPv4 or IPv6 TCP segments
 * (tcp_build.h) in both directions. Used by test_inspect and fuzz_inspect. */
#ifndef FTPGATE_HARNESS_H
#define FTPGATE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../src/daemon/daemon.h"

#define FAKE_EXPECT_MAX 256
#define FAKE_OPS_MAX 512
#define FAKE_EVENTS_MAX 256

/* One expectation the fake kernel holds. */
struct fake_expect {
	struct expect_request r;	/* helper_name not kept */
	uint32_t id;
	bool live;
};

/* What the packet path asked of the kernel, in order. */
struct fake_op {
	char op;			/* 'I' install, 'R' remove */
	struct expect_request r;
	int ret;
};

struct fake_kernel {
	struct fake_expect expect[FAKE_EXPECT_MAX];
	unsigned expect_count;		/* slots used (live or not) */
	struct fake_op op[FAKE_OPS_MAX];
	unsigned op_count;		/* stops growing at FAKE_OPS_MAX */
	struct ctnl_msg event[FAKE_EVENTS_MAX];
	unsigned event_count;		/* queued, not yet received */
	unsigned verdicts;		/* of any kind */
	unsigned copy_verdicts;		/* of those, for an NFLOG copy (a bug) */
	unsigned verdicts_now;		/* of those, sent at once (queue_accept_now) */
	unsigned rewrites;		/* verdicts with a new payload */
	/* the TCP payload of the last rewritten packet, as released */
	char rewritten[2048];
	size_t rewritten_len;
	/* the sum of the length changes the kernel was asked to adjust
	 * sequence numbers for (rewrites whose length changed) */
	int seqadj_diff;
	/* the conntrack has no seqadj extension (the helper was attached
	 * after NAT was set up): a resize is not recorded in its status */
	bool no_seqadj_ext;
	/* nonzero: every rewritten verdict fails with this errno */
	int rewrite_error;
	uint32_t next_id;
	bool master_gone;		/* harness_conntrack_destroy ran */
	/* the control connection's conntrack has no event cache (created
	 * while nobody listened to ctnetlink events): the kernel sends no
	 * events for it or its expectations. Default false: its NEW event
	 * follows the client's SYN, as when ftpgated listens. */
	bool master_no_events;
};

#define HARNESS_CLIENT 0		/* SESSION_DIR_ORIGINAL */
#define HARNESS_SERVER 1		/* SESSION_DIR_REPLY */

struct harness {
	struct daemon d;
	struct fake_kernel k;
	struct inet_addr client, server;
	uint16_t client_port, server_port;
	uint32_t conntrack_id;
	uint32_t next_seq[2];		/* by sender (HARNESS_CLIENT/SERVER) */
	uint32_t ifindex[2];		/* ingress interface of each sender */
	uint32_t packet_id;
	uint16_t urg_ptr;		/* of segments sent with TCP_BUILD_URG */
	/* what the kernel says of the conntrack with every packet
	 * (queue_packet): admitted by an expectation; past ESTABLISHED */
	bool ct_expected, ct_closing;
	/* Under capture = replies (the daemon's config), which packets come
	 * as NFLOG copies (queue_packet.copy: no packet ID, no verdict),
	 * as the shipped capture chains decide: a segment with data is held
	 * when it is the server's, or the client's when client_held (a
	 * source-NATed client); every other one is a copy. (The chains let
	 * empty acknowledgements pass unseen; here they come as copies,
	 * which the session reads the same.) */
	bool client_held;
	/* harness_nat: the conntrack is NATed, with this reply tuple (real
	 * server -> client as the server sees it); segments still carry the
	 * addresses of client and server (the packet as queued, after NAT) */
	bool nat;
	struct flow reply;
	char audit_path[64];		/* the audit log, a temporary file */
};

/* Fuzzing: harness_init writes no audit log (harness_audit_count says 0)
 * and makes small tables (HARNESS_LIGHT_SESSIONS sessions,
 * HARNESS_LIGHT_PINHOLES recorded pinholes). Default false: an audit log
 * in a temporary file, the daemon's own bounds. */
#define HARNESS_LIGHT_SESSIONS 64
#define HARNESS_LIGHT_PINHOLES 1024
extern bool harness_light;

/* Set up a daemon on the built-in defaults plus `config` (ftpgate.conf
 * text, or NULL) for one control connection client:50000 -> server:21,
 * conntrack ID 1000, the client on interface 2 and the server on 3, and
 * the daemon started `started_ago_ms` before now. Aborts on failure. */
void harness_init(struct harness *h, const char *client, const char *server,
		  const char *config, uint64_t started_ago_ms);
void harness_fini(struct harness *h);

/* One segment from `from` with everything chosen by the caller; the
 * packet goes through inspect_packet like a queued one. */
void harness_segment(struct harness *h, int from, uint8_t flags, uint32_t seq,
		     uint32_t ack, const void *payload, size_t len,
		     uint32_t ifindex);
/* SYN, SYN-ACK, ACK; the sequence numbers start at 1000 and 5000. */
void harness_handshake(struct harness *h);
/* The gateway translates this control connection (before its first
 * packet): `server` given to harness_init is the address the client
 * dialled, `real_server` ("203.0.113.2") the server behind the DNAT, and
 * the server sees the client as nat_client:nat_client_port (the client's
 * own address and port when only DNAT is in place). */
void harness_nat(struct harness *h, const char *real_server,
		 const char *nat_client, uint16_t nat_client_port);
/* text (e.g. "PASV\r\n") from `from`, in order, ACK set, acknowledging
 * everything the other side sent; advances next_seq. */
void harness_send(struct harness *h, int from, const char *text);
/* The same with the sequence number the stream of `from` would have
 * and on the given interface (a forged segment), not advancing next_seq. */
void harness_forge(struct harness *h, int from, const char *text,
		   uint32_t ifindex);
/* Handshake, the 220 greeting and a login. */
void harness_login(struct harness *h);

/* Another process (conntrackd, at a failover) commits the control
 * connection's conntrack into the kernel: its NEW event, born
 * ASSURED|SEEN_REPLY with our helper (and NATed after harness_nat), read
 * as the main loop would. Send no handshake after it: the connection is
 * in progress. */
void harness_synced(struct harness *h);
/* Another process commits an expectation of our helper on the control
 * connection: the client to addr ("203.0.113.2") port `port`, from any
 * port. Its NEW event is read as the main loop would. */
void harness_synced_expect(struct harness *h, const char *addr, uint16_t port);

/* Another process replaces the live expectation for addr:port with one
 * for the same tuple and master (its DESTROY event, then the new one's
 * NEW event, with another ID), read as the main loop would. */
void harness_expect_replace(struct harness *h, const char *addr, uint16_t port);
/* A data connection uses the live expectation for addr:port (its
 * DESTROY event, then the new connection's NEW event carrying the master);
 * read as the main loop would. Aborts when there is none. */
void harness_data_connection(struct harness *h, const char *addr, uint16_t port);
/* The same, its events (EXP_DESTROY, NEW) left for ftpgated to read. */
void harness_data_connection_unread(struct harness *h, const char *addr, uint16_t port);

/* The kernel destroys the control connection's conntrack: its
 * expectations go (EXP_DELETE events), then the conntrack (CT_DELETE),
 * and the daemon reads the events as its main loop would. */
void harness_conntrack_destroy(struct harness *h);

/* conntrack -F expect: every expectation leaves the kernel's table
 * (EXP_DELETE events, unless k.master_no_events), and the daemon reads
 * the events as its main loop would. */
void harness_expect_flush(struct harness *h);

/* Whether the fake kernel holds a live expectation for a data connection
 * to addr:port ("203.0.113.2"); and how many it holds. */
bool harness_pinhole(const struct harness *h, const char *addr, uint16_t port);
unsigned harness_pinholes(const struct harness *h);
/* The live expectation for a data connection to addr:port, as the packet
 * path asked for it (its NAT part included), or NULL. */
const struct expect_request *harness_expect(const struct harness *h,
					    const char *addr, uint16_t port);
/* How many installs the packet path asked for so far. */
unsigned harness_installs(const struct harness *h);
/* Whether the daemon tracks the control connection now. */
bool harness_tracked(struct harness *h);
/* How many audit lines so far contain `needle`. */
unsigned harness_audit_count(const struct harness *h, const char *needle);
/* The last audit line of `event` ("pinhole-opened") without its newline,
 * every timestamp in it ("2026-12-05T01:02:03.456Z") written as "TIME",
 * into buf; "" when there is none. Returns buf. */
const char *harness_audit_last(const struct harness *h, const char *event,
			       char *buf, size_t len);

#endif
