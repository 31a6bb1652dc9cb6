/* session: the FTP protocol state of one control connection. It takes the
 * packets of both directions, reassembles each byte stream, matches replies
 * to the commands that asked for them and decides, with the policy, which
 * announcements get a pinhole. Pure logic: it never talks to the kernel;
 * the daemon carries out the actions it returns. */
#ifndef FTPGATE_SESSION_H
#define FTPGATE_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "inet_addr.h"
#include "packet.h"
#include "policy.h"
#include "stream.h"
#include "ftp_parse.h"

enum session_direction {
	SESSION_DIR_ORIGINAL = 0,	/* client -> server (commands) */
	SESSION_DIR_REPLY = 1,		/* server -> client (replies) */
};

enum session_action_kind {
	SESSION_ACTION_PINHOLE_OPEN,	/* install this expectation before
					   releasing the packet */
	SESSION_ACTION_PINHOLE_REFUSED,	/* announcement seen, policy said no */
	SESSION_ACTION_LINE_REJECTED,	/* malformed line, skipped */
	SESSION_ACTION_STREAM_LOST,	/* buffer bound hit: stream untracked */
};

#define SESSION_ACTIONS_MAX 16
#define SESSION_TEXT_MAX 128

struct session_action {
	enum session_action_kind kind;
	enum policy_reason reason;	/* for PINHOLE_REFUSED */
	enum session_direction direction;
	struct inet_addr address;	/* announced data address */
	uint16_t port;			/* announced data port */
	/* PINHOLE_OPEN: the data connection comes from here (source port 0 =
	 * any) and goes to address:port. Passive mode: the client. */
	struct inet_addr expect_source;
	uint16_t expect_source_port;
	int reply_code;			/* 227 or 229, 0 if none */
	char command[SESSION_TEXT_MAX];	/* the command that asked; printable */
	char reply[SESSION_TEXT_MAX];	/* the reply line; printable */
	char detail[SESSION_TEXT_MAX];	/* why a line was rejected, etc. */
};

struct session_actions {
	struct session_action item[SESSION_ACTIONS_MAX];
	unsigned count;
	unsigned dropped;		/* actions beyond SESSION_ACTIONS_MAX */
};

#define SESSION_PENDING_MAX 16		/* pipelined commands awaiting reply */
#define SESSION_PINHOLES_MAX 64		/* hard ceiling of the per-session cap */

struct session {
	struct inet_addr client, server;
	uint16_t client_port, server_port;
	struct stream stream[2];	/* by enum session_direction */
	/* outstanding commands in order, oldest first */
	enum ftp_command_verb pending[SESSION_PENDING_MAX];
	char pending_text[SESSION_PENDING_MAX][SESSION_TEXT_MAX];
	unsigned pending_count;
	int multiline_code;		/* code of the multi-line reply being
					   read ("NNN-" seen), 0 outside one */
	bool lost;			/* gave up tracking (bounds, or the
					   control connection went TLS) */
	/* expiry times (ms) of pinholes opened and not known gone */
	uint64_t pinhole_expiry[SESSION_PINHOLES_MAX];
	unsigned pinhole_count;
	uint64_t last_seen_ms;
};

struct session_limits {
	size_t buffer_max;		/* per direction, bytes */
	size_t line_max;
};

void session_init(struct session *s, const struct inet_addr *client,
		  uint16_t client_port, const struct inet_addr *server,
		  uint16_t server_port, const struct session_limits *lim);
void session_free(struct session *s);

/* Feed one packet of this control connection. Appends to `out` what the
 * daemon must do, in order. Never fails: trouble becomes an action.
 * `now_ms` is a monotonic clock, used for pinhole expiry accounting. */
void session_packet(struct session *s, const struct policy *p,
		    enum session_direction dir, const struct packet_info *pkt,
		    uint64_t now_ms, struct session_actions *out);

/* The daemon could not install a pinhole the session approved: forget it
 * so it does not count against the cap. */
void session_pinhole_failed(struct session *s);

/* Bytes of heap held by this session (for the global bound). */
size_t session_memory(const struct session *s);

#endif
