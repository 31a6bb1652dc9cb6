/* grant: per-client port-range grants for encrypted control connections
 * (tls = client-range). Pure: the decision, the registry of live grants
 * and the nftables elements they become; the daemon's grants.c puts them
 * into the kernel.
 *
 * An FTP control connection that turns encrypted (AUTH TLS answered 234,
 * or implicit FTPS) hides its 227s, so no pinhole can be opened for its
 * data connections. Under tls = client-range ftpgate instead admits, while
 * that control connection lives, new TCP connections from its client
 * address to its server address into the server's configured passive
 * range: one grant per control connection. A grant is an element
 * "client . server . LOW-HIGH" of the set ftpgate_grants_ipv4/_ipv6 (type
 * ADDR . ADDR . inet_service, flags interval,timeout) with a timeout of
 * grant-lifetime-seconds as the backstop. Several control connections of
 * one client to one server share one element: the registry keeps a record
 * per control connection and the element lives while any record does. */
#ifndef FTPGATE_GRANT_H
#define FTPGATE_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"
#include "nftelem.h"
#include "policy.h"

#define GRANT_SET_IPV4 "ftpgate_grants_ipv4"
#define GRANT_SET_IPV6 "ftpgate_grants_ipv6"

/* The decision on one control connection that turned encrypted. The
 * names (grant_reason_name) are part of the audit log schema. */
enum grant_reason {
	GRANT_ALLOW = 0,
	GRANT_OPAQUE,			/* tls = opaque: nothing, as before */
	GRANT_REFUSE_NO_RANGE,		/* the server has no [server] section
					   with its own passive-ports */
	GRANT_REFUSE_RANGE_SIZE,	/* its range is over grant-max-ports */
	GRANT_REFUSE_CLIENT_CAP,	/* the client holds max-grants-per-
					   client grants already */
	GRANT_REFUSE_TABLE_FULL,	/* the registry is full */
	GRANT_REFUSE_KERNEL,		/* nftables refused the element */
	GRANT_REASON_COUNT
};

/* Why a grant ended (grant_close_name, audit schema too). */
enum grant_close {
	GRANT_CLOSE_SESSION_ENDED = 0,	/* its control connection ended; the
					   session's own reason is logged */
	GRANT_CLOSE_LIFETIME,		/* grant-lifetime-seconds passed */
	GRANT_CLOSE_RELOAD,		/* a reload changed its server's
					   setting or range */
	GRANT_CLOSE_DAEMON_STOPPED,	/* ftpgated stopped */
	GRANT_CLOSE_COUNT
};

/* Decide for a control connection client -> server whose client holds
 * `client_grants` grants already. GRANT_ALLOW puts the server's passive
 * range in *range. Checked in this order: the tls setting, an explicit
 * passive range, its size, the per-client cap. */
enum grant_reason grant_decide(const struct policy *p,
			       const struct inet_addr *server,
			       unsigned client_grants,
			       struct policy_port_range *range);

const char *grant_reason_name(enum grant_reason r);	/* "range-too-large" */
const char *grant_reason_text(enum grant_reason r);	/* a sentence */
const char *grant_close_name(enum grant_close c);	/* "lifetime" */

/* One control connection's grant. */
struct grant {
	uint64_t id;			/* unique while the daemon runs */
	uint32_t conntrack_id;		/* of the control connection */
	struct inet_addr client, server;
	uint16_t client_port, server_port;	/* the control connection */
	struct policy_port_range range;
	uint64_t opened_ms, expiry_ms;	/* monotonic */
	int64_t opened_wall_ms;
	uint64_t data_connections;	/* admitted under it (events) */
};

/* The live grants: at most `max` records (one per tracked control
 * connection, so max-sessions is enough). Lookups are linear scans:
 * bounded by max, once per encrypted session, per session end and per
 * tick. */
struct grant_table;

struct grant_table *grant_table_new(size_t max);
void grant_table_free(struct grant_table *t);

/* Record a grant (g->id is assigned). Returns the record, or NULL when
 * the table is full. */
struct grant *grant_table_add(struct grant_table *t, const struct grant *g);
/* The record of control connection conntrack_id, or NULL. */
struct grant *grant_table_find_session(struct grant_table *t, uint32_t conntrack_id);
/* Remove a record (a pointer from this table; invalidates pointers to the
 * last record). */
void grant_table_remove(struct grant_table *t, struct grant *g);
size_t grant_table_count(const struct grant_table *t);
/* The i-th record, 0 <= i < count (order changes on removal). */
struct grant *grant_table_at(struct grant_table *t, size_t i);
/* Records of this client address. */
unsigned grant_table_client_count(const struct grant_table *t,
				  const struct inet_addr *client);
/* Records sharing g's element (same client, server and range), g
 * included when it is in the table. */
unsigned grant_table_same_elem(const struct grant_table *t, const struct grant *g);
/* The record with the earliest expiry at or before now_ms, or NULL. */
struct grant *grant_table_expired(struct grant_table *t, uint64_t now_ms);
/* The newest record whose client is `client` (a data connection's
 * source), server is `server` and range holds `port`, or NULL. Records
 * sharing an element cannot tell whose a data connection is: the newest
 * control connection is the likeliest. */
struct grant *grant_table_match(struct grant_table *t, const struct inet_addr *client,
				const struct inet_addr *server, uint16_t port);

/* The set element of a grant with a timeout of timeout_ms (0: none).
 * Returns 0 or -EINVAL (unset or mixed-family addresses). */
int grant_elem(const struct grant *g, uint64_t timeout_ms, struct nftelem *out);

/* "198.51.100.2 . 203.0.113.2 . 40000-40099", nft's syntax. */
const char *grant_format(const struct grant *g, char *buf, size_t len);

#endif
