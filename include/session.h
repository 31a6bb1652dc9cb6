/* session: the FTP protocol state of one control connection. It takes the
 * packets of both directions, reassembles each byte stream, matches replies
 * to the commands that asked for them and decides, with the policy, which
 * announcements get a pinhole. Pure logic: it never talks to the kernel;
 * the daemon carries out the actions it returns. */
#ifndef FTPGATE_SESSION_H
#define FTPGATE_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "flow.h"
#include "inet_addr.h"
#include "packet.h"
#include "policy.h"
#include "seqadj.h"
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
	SESSION_ACTION_LINE_REJECTED,	/* line not acted on; see rule */
	SESSION_ACTION_STREAM_LOST,	/* buffer bound hit: stream untracked */
	SESSION_ACTION_PINHOLE_REMOVE,	/* delete this expectation: its
					   purpose is over (see cause) */
	SESSION_ACTION_ENCRYPTED,	/* the control channel is TLS from
					   here on: AUTH answered 234, or
					   the client's first bytes are TLS
					   (tls_start says which) */
	SESSION_ACTION_DATA_TROUBLE,	/* the server answered 421, 425 or
					   426: data connections are in
					   trouble (reply_code, reply, and
					   the command it answers) */
	SESSION_ACTION_STREAM_RESYNC,	/* bytes of the stream of `direction`
					   went past ftpgated uninspected
					   (the peer acknowledged them):
					   skipped (count in `skipped`),
					   tracking goes on from the next
					   line; outstanding commands are
					   forgotten */
	SESSION_ACTION_KIND_COUNT	/* not a kind: how many there are
					   (the daemon's table, action.c,
					   has an entry for each) */
};

/* Why a line was not acted on (SESSION_ACTION_LINE_REJECTED). The names
 * (session_line_rule_name) are part of the audit log schema: never rename
 * one. doc/protocol.md describes each rule and the attack it stops. */
enum session_line_rule {
	SESSION_RULE_MALFORMED = 0,	/* does not parse (RFC 959 grammar) */
	SESSION_RULE_NUL,		/* NUL byte in the line */
	SESSION_RULE_BARE_CR,		/* CR not followed by LF */
	SESSION_RULE_TOO_LONG,		/* longer than line-max-bytes */
	SESSION_RULE_EMBEDDED_COMMAND,	/* PORT/EPRT with a valid argument
					   inside a line (PASV/EPSV name no
					   address: not flagged) */
	SESSION_RULE_BEFORE_GREETING,	/* text before the server's 220 */
	SESSION_RULE_COUNT
};

/* Why a pinhole is removed (SESSION_ACTION_PINHOLE_REMOVE). Names
 * (session_remove_cause_name) are part of the audit log schema too. */
enum session_remove_cause {
	SESSION_REMOVE_SUPERSEDED = 0,	/* a newer PASV/EPSV/PORT/EPRT set up
					   another data endpoint */
	SESSION_REMOVE_TRANSFER_DONE,	/* the transfer command finished */
	SESSION_REMOVE_ABORT,		/* ABOR accepted */
	SESSION_REMOVE_REINITIALIZE,	/* REIN accepted */
	SESSION_REMOVE_EPSV_ALL,	/* EPSV ALL accepted */
	SESSION_REMOVE_QUIT,		/* QUIT accepted */
	SESSION_REMOVE_CONTROL_CLOSED,	/* FIN or RST on the control
					   connection */
	SESSION_REMOVE_REFUSED_BY_SERVER, /* active-open = command: the
					   server did not answer the
					   PORT/EPRT that opened it 200 */
	SESSION_REMOVE_NOT_REWRITTEN,	/* active-open = command, masqueraded
					   client: the PORT/EPRT it was opened
					   for could not be sent rewritten
					   (the daemon's, rewrite.c) */
	SESSION_REMOVE_COUNT
};

/* The log and audit text of SESSION_ACTION_ENCRYPTED (its detail). */
#define SESSION_ENCRYPTED_TEXT \
	"control channel encrypted; ftpgate cannot open data pinholes for it"

#define SESSION_TEXT_MAX 128

/* How a control connection turned encrypted (SESSION_ACTION_ENCRYPTED). */
enum session_tls_start {
	SESSION_TLS_AUTH = 0,		/* AUTH TLS/SSL answered 234 */
	SESSION_TLS_IMPLICIT,		/* the client's first bytes after its
					   SYN are a TLS ClientHello
					   (implicit FTPS, port 990) */
	SESSION_TLS_PICKED_UP,		/* picked up mid-stream, and the
					   client's first bytes seen are a
					   TLS record (a restart of ftpgated
					   under an encrypted session) */
};

struct session_action {
	enum session_action_kind kind;
	enum policy_reason reason;	/* for PINHOLE_REFUSED */
	enum session_line_rule rule;	/* for LINE_REJECTED */
	enum session_remove_cause cause; /* for PINHOLE_REMOVE */
	enum session_direction direction;
	bool active;			/* PINHOLE_*: PORT/EPRT (the server
					   connects to the client) */
	/* PINHOLE_*: the data connection. data.dst:data.dport is the
	 * announced endpoint (PINHOLE_REFUSED: family 0 when none parsed);
	 * for PINHOLE_OPEN and PINHOLE_REMOVE it comes from
	 * data.src[:data.sport] (port 0 = any): the client in passive mode,
	 * the server in active mode. */
	struct flow data;
	int reply_code;			/* the reply acted on, 0 if none */
	char command[SESSION_TEXT_MAX];	/* the command that asked; printable */
	char reply[SESSION_TEXT_MAX];	/* the reply line; printable */
	char detail[SESSION_TEXT_MAX];	/* why a line was rejected, etc. */
	uint32_t skipped;		/* STREAM_RESYNC: sequence numbers
					   (bytes) skipped */
	uint32_t record_id;		/* PINHOLE_OPEN: the session's record
					   of it (session_pinhole_failed) */
	enum session_tls_start tls_start; /* ENCRYPTED */
	/* PINHOLE_OPEN on a NATed control connection (session_set_nat,
	 * doc/nat.md section 2): the expectation carries a NAT, so the data
	 * connection, which arrives at address:port, is translated like its
	 * control connection and lands on nat (the real server's listener,
	 * passive; the real client's, active). nat_dir is the master
	 * direction the data connection's initiator plays (ORIGINAL:
	 * passive, REPLY: active). */
	struct flow_nat nat;
	enum session_direction nat_dir;
	/* PINHOLE_OPEN: the line that announced it names nat.address, which
	 * the client cannot reach; it must reach the client naming
	 * address:port instead (a DNAT-published server's 227). */
	bool rewrite;
};

/* What one packet makes the session say. Actions that only report a
 * line (SESSION_ACTION_LINE_REJECTED, SESSION_ACTION_DATA_TROUBLE, a
 * PINHOLE_REFUSED as unsolicited-reply, and a PINHOLE_REFUSED of a
 * PORT/EPRT decided at the command, active-open = command) can come once
 * per line, so at
 * most SESSION_REPORTS_MAX of them are handed out per packet and the rest
 * are counted in `dropped` (rejected lines also in `lines_rejected`).
 * Every other action always has room: one packet answers at most
 * SESSION_PENDING_MAX commands (each one open or refusal), removes at
 * most the pinholes recorded before it plus those it opened, and
 * resynchronizes, loses or encrypts a stream once; its command lines
 * open at most SESSION_PINHOLES_MAX pinholes at the command (they only
 * add records, never remove one). They are never
 * dropped (`overflow` counts a breach of that bound: a bug). */
#define SESSION_REPORTS_MAX 16
#define SESSION_ACTIONS_MAX 192

struct session_actions {
	struct session_action item[SESSION_ACTIONS_MAX];
	unsigned count;
	unsigned reports;		/* report-only actions in item */
	unsigned dropped;		/* report-only actions beyond
					   SESSION_REPORTS_MAX */
	unsigned overflow;		/* other actions that found no room:
					   0 unless the bound above is wrong */
	unsigned lines_rejected;	/* LINE_REJECTED, handed out or not */
	unsigned commands, replies;	/* complete lines parsed (counters) */
	unsigned commands_forgotten;	/* oldest pending commands dropped
					   (more than SESSION_PENDING_MAX);
					   their replies answer nothing */
};

#define SESSION_PENDING_MAX 16		/* pipelined commands awaiting reply */
/* Forgotten commands still owed a reply: beyond this the session is lost
 * (no FTP client runs that far ahead of its server). */
#define SESSION_FORGOTTEN_MAX 65536
#define SESSION_PINHOLES_MAX 64		/* hard ceiling of the per-session cap */

_Static_assert(SESSION_ACTIONS_MAX >= SESSION_REPORTS_MAX +
	       SESSION_PENDING_MAX + SESSION_PINHOLES_MAX +
	       SESSION_PENDING_MAX + SESSION_PINHOLES_MAX + 3,
	       "room for every action one packet can make (session_actions)");

/* A command waiting for its reply. */
struct session_command {
	enum ftp_command_verb verb;
	char text[SESSION_TEXT_MAX];	/* printable, passwords hidden */
	/* PORT/EPRT: the endpoint its argument names; family 0 when the
	 * argument did not parse, and why says why (static string) */
	struct inet_addr announced;
	uint16_t announced_port;
	const char *why;
	/* a masqueraded client's PORT/EPRT reached the server rewritten to
	 * name nat_client:nat_port (session_command_rewritten) */
	bool rewritten;
	uint16_t nat_port;
	/* active-open = command: decided when the command was read (the
	 * reply only keeps or removes), and the record of the pinhole
	 * opened then (0: none, or refused) */
	bool at_command;
	uint32_t pinhole_id;
};

/* A pinhole the session opened and does not know gone. */
struct session_pinhole {
	struct flow data;		/* the data connection it admits
					   (source port 0: any) */
	bool active;			/* PORT/EPRT */
	uint64_t expiry_ms;
	uint32_t id;			/* unique in the session, never 0 */
};

struct session {
	struct inet_addr client, server;
	uint16_t client_port, server_port;
	/* The conntrack's reply tuple (session_set_nat): the real server
	 * (its source) and the client as the server sees it (its
	 * destination). Equal to server and client unless the gateway
	 * translates them; policy judges real_server. */
	bool nat;
	struct inet_addr real_server, nat_client;
	uint16_t real_server_port, nat_client_port;
	struct stream stream[2];	/* by enum session_direction */
	/* what the kernel adjusts in each direction after a resized
	 * rewrite (session_seqadj_add) */
	struct seqadj seqadj[2];	/* by enum session_direction */
	/* outstanding commands in order, oldest first */
	struct session_command pending[SESSION_PENDING_MAX];
	unsigned pending_count;
	int multiline_code;		/* code of the multi-line reply being
					   read ("NNN-" seen), 0 outside one */
	bool started;			/* a packet was seen */
	bool greeted;			/* the server's greeting was seen, or
					   the connection was picked up
					   mid-stream while that is trusted
					   (session_picked_up): commands may
					   be acted on */
	bool epsv_all;			/* EPSV ALL accepted (RFC 2428) */
	bool lost;			/* gave up tracking (bounds) */
	bool encrypted;			/* AUTH answered 234, or the client
					   spoke TLS first: opaque, nothing
					   is parsed any more */
	/* pinholes opened and not known gone, oldest first: owned, grown
	 * on demand up to SESSION_PINHOLES_MAX (a session rarely holds more
	 * than one: each PASV supersedes the one before) */
	struct session_pinhole *pinhole;
	unsigned pinhole_count, pinhole_capacity;
	uint32_t pinhole_last_id;	/* the id of the newest record */
	uint64_t last_seen_ms;
	unsigned commands_forgotten;	/* by session_push, all time */
	/* commands dropped at SESSION_PENDING_MAX whose replies are still
	 * owed: they were the oldest, so the next this many final replies
	 * answer them (and answer nothing we act on) */
	unsigned pending_forgotten;
	/* session_command_rewrite_next: the one PORT/EPRT of the packet
	 * being read that reaches the server rewritten; cleared at the end
	 * of every session_packet */
	struct {
		bool on;
		uint16_t port, nat_port;
	} rewrite_next;
};

struct session_limits {
	size_t buffer_max;		/* per direction, bytes */
	size_t line_max;
};

void session_init(struct session *s, const struct inet_addr *client,
		  uint16_t client_port, const struct inet_addr *server,
		  uint16_t server_port, const struct session_limits *lim);
void session_free(struct session *s);

/* The control connection is NATed (its conntrack has IPS_SRC_NAT or
 * IPS_DST_NAT): `reply` is its reply tuple, from the real server to the
 * client as the server sees it. From then on policy judges announcements
 * against the real server (its [server] section, its own address for a
 * 227), and pinholes carry the NAT (session_action nat*, doc/nat.md
 * section 2). Call before the first session_packet; ignored when reply's
 * family differs from the control connection's. */
void session_set_nat(struct session *s, const struct flow *reply);

/* The packet of direction dir starting at sequence number seq was
 * released diff bytes longer (negative: shorter) with a sequence
 * adjustment asked of the kernel (include/seqadj.h): the other side's
 * acknowledgements of dir are read through it from then on. */
void session_seqadj_add(struct session *s, enum session_direction dir,
			uint32_t seq, int32_t diff);

/* The client's pending PORT or EPRT naming its own address and `port`
 * (the newest such) reached the server rewritten to name
 * nat_client:nat_port (a masqueraded client, doc/nat.md 2.2; nat_port
 * differs from port after a clash, 2.4): its pinhole is for
 * nat_client:nat_port, translated to the client's port. One that was not
 * rewritten (a line split over segments, a resize refused) gets a plain
 * pinhole for what the server was told. */
void session_command_rewritten(struct session *s, uint16_t port,
			       uint16_t nat_port);

/* For the next session_packet only (active-open = command, a
 * masqueraded client, doc/nat.md 2.2): its first complete PORT or EPRT
 * naming the client's own address and `port` will reach the server
 * rewritten to name nat_client:nat_port (the daemon decided that before
 * the packet: rewrite.c), so the pinhole it opens at the command is for
 * nat_client:nat_port, translated to the client's port, as
 * session_command_rewritten makes it at the 200 in reply mode. Forgotten
 * when that packet has no such line. */
void session_command_rewrite_next(struct session *s, uint16_t port,
				  uint16_t nat_port);

/* Feed one packet of this control connection. Appends to `out` what the
 * daemon must do, in order. Never fails: trouble becomes an action.
 * `now_ms` is a monotonic clock, used for pinhole expiry accounting.
 * The acknowledgement a packet carries (ACK set, not RST) is about the
 * other direction's stream and is applied first: when it shows that bytes
 * of that stream went past uninspected (see stream_peer_acked), that
 * stream resynchronizes at its next line end, the outstanding commands are
 * forgotten (a later reply to a command from before is then unsolicited:
 * fail closed), a multi-line reply under way is forgotten (reply stream),
 * SESSION_ACTION_STREAM_RESYNC is reported and the lines after the hole are
 * handled, all before this packet's own data. A lost or encrypted session
 * is not resynchronized. The payload of a SYN is ignored (stream_segment).
 * URG marks the urgent byte (stream_urgent): the line holding it counts for
 * matching but is not acted on; an urgent byte that ends a line stops
 * tracking (SESSION_ACTION_STREAM_LOST), before the lines that came with
 * it. An over-long reply line counts for matching by its code and
 * separator only. */
void session_packet(struct session *s, const struct policy *p,
		    enum session_direction dir, const struct packet_info *pkt,
		    uint64_t now_ms, struct session_actions *out);

/* An acknowledgement of stream `peer` that session_packet was told to
 * leave for later (packet_info.ack_deferred): applied now, as
 * session_packet would have (a hole it proves delivered is skipped, with
 * SESSION_ACTION_STREAM_RESYNC). Nothing on a lost or encrypted session. */
void session_peer_acked(struct session *s, const struct policy *p,
			enum session_direction peer, uint32_t ack,
			uint64_t now_ms, struct session_actions *out);

/* Whether ack (as on the wire) acknowledges bytes of stream `peer` past
 * the next one the session expects. */
bool session_acks_ahead(const struct session *s, enum session_direction peer,
			uint32_t ack);

/* The daemon picked this connection up mid-stream (its first packet was
 * not a SYN): call before its first session_packet. greeted says whether
 * its greeting counts as seen (the daemon trusts that only in relaxed mode
 * or right after its own start, doc/protocol.md "Pickup"). Without this
 * call a session whose first packet is not a SYN counts as greeted. */
void session_picked_up(struct session *s, bool greeted);

/* The stream of `dir` starts unseen (its first data comes without a SYN
 * before it): its first line is cut, never acted on (stream_pickup).
 * Call before the packet that brings that data. */
void session_stream_unseen(struct session *s, enum session_direction dir);

/* The daemon moved the data port of the pinhole `open` announced to
 * `port` before installing it (a clash on the address the client dialled,
 * doc/nat.md 2.4; the reply is rewritten to name it): the session's
 * record follows. */
void session_pinhole_moved(struct session *s,
			   const struct session_action *open, uint16_t port);

/* The daemon did not install the pinhole of `open` (a PINHOLE_OPEN this
 * session handed out): forget the session's record of it, so that it does
 * not count against the cap. The records of other pinholes, opened by the
 * same packet or before, stay. Nothing happens when the record is gone
 * already (a later action of the packet removed it). */
void session_pinhole_failed(struct session *s,
			    const struct session_action *open);

/* Whether bytes p[0..n) start a TLS record (RFC 8446 5.1: content type
 * 20-23, legacy version 3.x, a length of at most 2^14 + 2048); with
 * hello, a handshake record carrying a ClientHello. Needs 6 bytes. */
bool session_tls_record(const uint8_t *p, size_t n, bool hello);

/* "auth-tls", "implicit-tls", "tls-picked-up" (audit schema). */
const char *session_tls_start_name(enum session_tls_start t);

/* Stable names of line rules and removal causes ("bare-cr",
 * "superseded"); "unknown" for a value out of range. */
const char *session_line_rule_name(enum session_line_rule r);
const char *session_remove_cause_name(enum session_remove_cause c);

/* Why a pinhole of that cause goes, as log lines and the audit's detail
 * say it ("the server did not accept the command that opened it");
 * "unknown" for a value outside the enum. */
const char *session_remove_cause_text(enum session_remove_cause c);
/* Rules whose breach is an attack signature, not a broken peer. */
bool session_line_rule_is_attack(enum session_line_rule r);

/* Bytes of heap the two streams hold (reassembly and line buffers, the
 * part bounded by session-buffer-bytes); 0 once the session is lost or
 * encrypted. The pinhole records (at most SESSION_PINHOLES_MAX, kept
 * until the control connection ends) are not counted. */
size_t session_memory(const struct session *s);

/* The control connection, original direction: client -> server. */
void session_control_flow(const struct session *s, struct flow *f);

/* The data connection action a opens or removes: a->data. */
void session_action_flow(const struct session_action *a, struct flow *f);

#endif
