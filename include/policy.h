/* policy: whether an announced data endpoint may get a pinhole. Pure logic,
 * no netlink. */
#ifndef FTPGATE_POLICY_H
#define FTPGATE_POLICY_H

#include <stdint.h>
#include <stddef.h>
#include "inet_addr.h"

#define POLICY_ANNOUNCE_MAX 8	/* extra announce addresses per server */
#define POLICY_SERVERS_MAX 1024

struct policy_port_range {
	uint16_t low, high;		/* inclusive; low >= 1024 always */
};

/* Settings for one FTP server address; anything not set falls back to the
 * global defaults in struct policy. */
struct policy_server {
	struct inet_addr addr;
	struct policy_port_range passive_range;	/* low == 0: not set, use
						   the global range */
	struct inet_addr announce[POLICY_ANNOUNCE_MAX];	/* multi-homed */
	unsigned announce_count;
};

struct policy {
	struct policy_port_range passive_range;		/* default 1024-65535 */
	unsigned max_pinholes_per_session;		/* default 8 */
	unsigned expect_timeout_s;			/* default 30 */
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
	POLICY_REASON_COUNT
};

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

const char *policy_reason_name(enum policy_reason r);	/* "third-party-address" */
const char *policy_reason_text(enum policy_reason r);	/* a sentence for logs */

#endif
