/* policy: whether an announced data endpoint may get a pinhole. Pure logic,
 * no netlink. */
#ifndef FTPGATE_POLICY_H
#define FTPGATE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "inet_addr.h"

#define POLICY_ANNOUNCE_MAX 8	/* extra announce addresses per server */
#define POLICY_SERVERS_MAX 1024

struct policy_port_range {
	uint16_t low, high;		/* inclusive; low >= 1024 always */
};

/* A per-server switch; zero (a calloc'ed entry) means "not set here". */
enum policy_switch {
	POLICY_SWITCH_INHERIT = 0,	/* use the global setting */
	POLICY_SWITCH_OFF,
	POLICY_SWITCH_ON,
};

/* Where an active-mode data connection may come from on the server. */
enum policy_source_port {
	POLICY_SOURCE_PORT_INHERIT = 0,	/* per server: the global setting */
	POLICY_SOURCE_PORT_ANY,		/* any port */
	POLICY_SOURCE_PORT_20,		/* exactly port 20 (RFC 959 L-1) */
};

/* When an active-mode (PORT/EPRT) pinhole opens (doc/protocol.md
 * "Active mode"). */
enum policy_active_open {
	POLICY_ACTIVE_OPEN_INHERIT = 0,	/* per server: the global setting */
	POLICY_ACTIVE_OPEN_REPLY,	/* at the server's 200 (default) */
	POLICY_ACTIVE_OPEN_COMMAND,	/* at the client's command, removed
					   again unless the server answers
					   200 (servers that connect before
					   they answer: pyftpdlib) */
};

/* What ftpgate does with a control connection that turns encrypted (AUTH
 * TLS answered 234, or implicit FTPS): it cannot read the 227 any more. */
enum policy_tls {
	POLICY_TLS_INHERIT = 0,		/* per server: the global setting */
	POLICY_TLS_OPAQUE,		/* open nothing (default) */
	POLICY_TLS_CLIENT_RANGE,	/* grant that client that server's
					   passive range while the control
					   connection lives (doc/protocol.md
					   "Encrypted control connections") */
};

/* Settings for one FTP server address; anything not set falls back to the
 * global defaults in struct policy. */
struct policy_server {
	struct inet_addr addr;
	struct policy_port_range passive_range;	/* low == 0: not set, use
						   the global range */
	struct inet_addr announce[POLICY_ANNOUNCE_MAX];	/* multi-homed */
	unsigned announce_count;
	enum policy_switch active_mode;
	struct policy_port_range active_client_range;	/* low == 0: global */
	enum policy_source_port active_source_port;
	enum policy_active_open active_open;
	enum policy_switch strict;
	enum policy_tls tls;
};

/* The global settings; their defaults are ftpgate.conf's
 * (policy_init_defaults). */
struct policy {
	struct policy_port_range passive_range;
	unsigned max_pinholes_per_session;
	unsigned max_pinholes_per_client;		/* checked by the
							   daemon, which sees
							   every session */
	unsigned expect_timeout_s;
	bool active_mode;
	struct policy_port_range active_client_range;
	enum policy_source_port active_source_port;
	enum policy_active_open active_open;
	bool strict;
	enum policy_tls tls;
	unsigned max_grants_per_client;
	unsigned grant_lifetime_s;			/* ceiling */
	unsigned grant_max_ports;			/* largest range
							   granted */
	struct policy_server *servers;			/* owned, may be NULL */
	size_t server_count;
};

/* Stable machine-readable names (policy_reason_name) are part of the audit
 * log schema: never rename one. */
enum policy_reason {
	POLICY_ALLOW = 0,
	POLICY_REFUSE_UNSOLICITED,	/* no PASV/EPSV outstanding */
	POLICY_REFUSE_THIRD_PARTY,	/* 227 names another address */
	POLICY_REFUSE_FAMILY,		/* address family differs from control */
	POLICY_REFUSE_PRIVILEGED_PORT,	/* port < 1024 */
	POLICY_REFUSE_PORT_RANGE,	/* outside the server's passive range */
	POLICY_REFUSE_SESSION_CAP,	/* too many live pinholes */
	POLICY_REFUSE_MALFORMED,	/* reply could not be parsed strictly */
	POLICY_REFUSE_ACTIVE_DISABLED,	/* PORT/EPRT while active-mode is off */
	POLICY_REFUSE_NOT_ACCEPTED,	/* server did not answer PORT/EPRT 200 */
	POLICY_REFUSE_EPSV_ALL,		/* PORT/EPRT/PASV after EPSV ALL */
	POLICY_REFUSE_MALFORMED_COMMAND, /* PORT/EPRT argument did not parse */
	POLICY_REFUSE_CLIENT_CAP,	/* the client address has too many
					   live pinholes over all its sessions */
	POLICY_REASON_COUNT
};

/* The defaults of ftpgate.conf's policy keys (config_init_defaults, from
 * the key table in config.c), no [server] sections. */
void policy_init_defaults(struct policy *p);
void policy_free(struct policy *p);

/* Find the per-server entry for addr, or NULL. */
const struct policy_server *policy_server_find(const struct policy *p,
					       const struct inet_addr *server);

/* Decide a passive (227/229) announcement on a control connection whose
 * server end is `server`. `live_pinholes` counts this session's pinholes
 * that may still be open. */
enum policy_reason policy_check_passive(const struct policy *p,
					const struct inet_addr *server,
					const struct inet_addr *announced,
					uint16_t port, unsigned live_pinholes);

/* Decide an active (PORT/EPRT) announcement on a control connection from
 * `client` to `server`: the data connection would go from the server to
 * announced:port. Checked in this order: active mode on for the server,
 * family, announced == client, port >= 1024, the active-client-ports
 * range, the cap. */
enum policy_reason policy_check_active(const struct policy *p,
				       const struct inet_addr *server,
				       const struct inet_addr *client,
				       const struct inet_addr *announced,
				       uint16_t port, unsigned live_pinholes);

/* The per-client cap: may a client with `client_pinholes` live pinholes
 * (over all its control connections) get one more? POLICY_ALLOW or
 * POLICY_REFUSE_CLIENT_CAP. A session sees only itself, so the daemon asks
 * this after the session approved an announcement. */
enum policy_reason policy_check_client(const struct policy *p,
				       unsigned client_pinholes);

/* The effective per-server settings (the server's own, else the global). */
bool policy_active_mode(const struct policy *p, const struct inet_addr *server);
bool policy_strict(const struct policy *p, const struct inet_addr *server);
/* Source port of an active-mode data connection: 20, or 0 for any. */
uint16_t policy_active_source_port(const struct policy *p,
				   const struct inet_addr *server);

/* Whether a PORT/EPRT to `server` is decided at the command
 * (active-open = command) rather than at the server's 200; false
 * without a policy. */
bool policy_active_open_command(const struct policy *p,
				const struct inet_addr *server);

/* The effective tls setting of a server (never POLICY_TLS_INHERIT). */
enum policy_tls policy_tls(const struct policy *p, const struct inet_addr *server);
/* "opaque" or "client-range". */
const char *policy_tls_name(enum policy_tls t);

const char *policy_reason_name(enum policy_reason r);	/* "third-party-address" */
const char *policy_reason_text(enum policy_reason r);	/* a sentence for logs */

#endif
