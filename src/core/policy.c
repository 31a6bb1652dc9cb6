/* policy: may this passive announcement get a pinhole?
 *
 * The checks run in a fixed order so that the reason logged for a refusal
 * is the most fundamental one (a third-party address is reported as such
 * even if its port is also out of range). */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"

#define POLICY_PORT_MIN 1024

/* ftpgate.conf's defaults are written once, in config.c's key table. */
void policy_init_defaults(struct policy *p)
{
	struct config c;

	config_init_defaults(&c);
	*p = c.policy;
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->servers);
	p->servers = NULL;
	p->server_count = 0;
}

const struct policy_server *policy_server_find(const struct policy *p,
					       const struct inet_addr *server)
{
	size_t i;

	if (p == NULL || server == NULL || p->servers == NULL)
		return NULL;
	for (i = 0; i < p->server_count; i++)
		if (inet_addr_equal(&p->servers[i].addr, server))
			return &p->servers[i];
	return NULL;
}

static bool policy_announce_allowed(const struct policy_server *srv,
				    const struct inet_addr *announced)
{
	unsigned i, n;

	if (srv == NULL)
		return false;
	n = srv->announce_count < POLICY_ANNOUNCE_MAX ? srv->announce_count
						      : POLICY_ANNOUNCE_MAX;
	for (i = 0; i < n; i++)
		if (inet_addr_equal(&srv->announce[i], announced))
			return true;
	return false;
}

enum policy_reason policy_check_passive(const struct policy *p,
					const struct inet_addr *server,
					const struct inet_addr *announced,
					uint16_t port, unsigned live_pinholes)
{
	const struct policy_server *srv;
	struct policy_port_range range;

	/* Nothing to decide on: fail closed. */
	if (p == NULL || server == NULL || announced == NULL ||
	    server->family == 0)
		return POLICY_REFUSE_MALFORMED;
	if (announced->family != server->family)
		return POLICY_REFUSE_FAMILY;
	srv = policy_server_find(p, server);
	/* The FTP bounce class of attacks: a server (or whoever forges its
	 * replies) pointing the client's firewall at a third host. */
	if (!inet_addr_equal(announced, server) &&
	    !policy_announce_allowed(srv, announced))
		return POLICY_REFUSE_THIRD_PARTY;
	/* Never open a pinhole to a privileged port, whatever a config
	 * says: those are services, not FTP data listeners. */
	if (port < POLICY_PORT_MIN)
		return POLICY_REFUSE_PRIVILEGED_PORT;
	/* A server entry without its own passive-ports (low == 0) uses the
	 * global range. */
	range = p->passive_range;
	if (srv != NULL && srv->passive_range.low != 0)
		range = srv->passive_range;
	if (port < range.low || port > range.high)
		return POLICY_REFUSE_PORT_RANGE;
	if (live_pinholes >= p->max_pinholes_per_session)
		return POLICY_REFUSE_SESSION_CAP;
	return POLICY_ALLOW;
}

static bool policy_switch(enum policy_switch v, bool global)
{
	if (v == POLICY_SWITCH_ON)
		return true;
	if (v == POLICY_SWITCH_OFF)
		return false;
	return global;
}

bool policy_active_mode(const struct policy *p, const struct inet_addr *server)
{
	const struct policy_server *srv = policy_server_find(p, server);

	if (p == NULL)
		return false;
	return policy_switch(srv ? srv->active_mode : POLICY_SWITCH_INHERIT,
			     p->active_mode);
}

/* No policy at all means strict: the safe side. */
bool policy_strict(const struct policy *p, const struct inet_addr *server)
{
	const struct policy_server *srv = policy_server_find(p, server);

	if (p == NULL)
		return true;
	return policy_switch(srv ? srv->strict : POLICY_SWITCH_INHERIT,
			     p->strict);
}

enum policy_tls policy_tls(const struct policy *p, const struct inet_addr *server)
{
	const struct policy_server *srv = policy_server_find(p, server);

	if (p == NULL)
		return POLICY_TLS_OPAQUE;
	if (srv != NULL && srv->tls != POLICY_TLS_INHERIT)
		return srv->tls;
	return p->tls == POLICY_TLS_CLIENT_RANGE ? POLICY_TLS_CLIENT_RANGE
						 : POLICY_TLS_OPAQUE;
}

const char *policy_tls_name(enum policy_tls t)
{
	return t == POLICY_TLS_CLIENT_RANGE ? "client-range" : "opaque";
}

uint16_t policy_active_source_port(const struct policy *p,
				   const struct inet_addr *server)
{
	const struct policy_server *srv = policy_server_find(p, server);
	enum policy_source_port v = POLICY_SOURCE_PORT_INHERIT;

	if (p == NULL)
		return 0;
	if (srv != NULL)
		v = srv->active_source_port;
	if (v == POLICY_SOURCE_PORT_INHERIT)
		v = p->active_source_port;
	return v == POLICY_SOURCE_PORT_20 ? 20 : 0;
}

bool policy_active_open_command(const struct policy *p,
				const struct inet_addr *server)
{
	const struct policy_server *srv = policy_server_find(p, server);
	enum policy_active_open v = POLICY_ACTIVE_OPEN_INHERIT;

	if (p == NULL)
		return false;
	if (srv != NULL)
		v = srv->active_open;
	if (v == POLICY_ACTIVE_OPEN_INHERIT)
		v = p->active_open;
	return v == POLICY_ACTIVE_OPEN_COMMAND;
}

enum policy_reason policy_check_active(const struct policy *p,
				       const struct inet_addr *server,
				       const struct inet_addr *client,
				       const struct inet_addr *announced,
				       uint16_t port, unsigned live_pinholes)
{
	const struct policy_server *srv;
	struct policy_port_range range;

	if (p == NULL || server == NULL || client == NULL ||
	    announced == NULL || server->family == 0 || client->family == 0)
		return POLICY_REFUSE_MALFORMED_COMMAND;
	/* Active mode lets the outside open connections to inside hosts;
	 * that is only ever on where someone asked for it. */
	if (!policy_active_mode(p, server))
		return POLICY_REFUSE_ACTIVE_DISABLED;
	if (announced->family != client->family)
		return POLICY_REFUSE_FAMILY;
	/* The FTP bounce attack (RFC 2577), and NAT slipstreaming: a PORT
	 * naming any host but the client itself, or one forged so the
	 * server reaches a service on another inside host. No
	 * announce-address exception here: a client that is not where its
	 * control connection comes from is not one we can vouch for. */
	if (!inet_addr_equal(announced, client))
		return POLICY_REFUSE_THIRD_PARTY;
	if (port < POLICY_PORT_MIN)
		return POLICY_REFUSE_PRIVILEGED_PORT;
	srv = policy_server_find(p, server);
	range = p->active_client_range;
	if (srv != NULL && srv->active_client_range.low != 0)
		range = srv->active_client_range;
	if (port < range.low || port > range.high)
		return POLICY_REFUSE_PORT_RANGE;
	if (live_pinholes >= p->max_pinholes_per_session)
		return POLICY_REFUSE_SESSION_CAP;
	return POLICY_ALLOW;
}

enum policy_reason policy_check_client(const struct policy *p,
				       unsigned client_pinholes)
{
	/* One client address must not be able to hold the gateway's
	 * expectation table (nf_conntrack_expect_max, shared by every
	 * helper) by opening many control connections. */
	if (p == NULL || client_pinholes >= p->max_pinholes_per_client)
		return POLICY_REFUSE_CLIENT_CAP;
	return POLICY_ALLOW;
}

const char *policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_ALLOW:			return "allowed";
	case POLICY_REFUSE_UNSOLICITED:		return "unsolicited-reply";
	case POLICY_REFUSE_THIRD_PARTY:		return "third-party-address";
	case POLICY_REFUSE_FAMILY:		return "address-family-mismatch";
	case POLICY_REFUSE_PRIVILEGED_PORT:	return "privileged-port";
	case POLICY_REFUSE_PORT_RANGE:		return "port-out-of-range";
	case POLICY_REFUSE_SESSION_CAP:		return "session-pinhole-cap";
	case POLICY_REFUSE_MALFORMED:		return "malformed-reply";
	case POLICY_REFUSE_ACTIVE_DISABLED:	return "active-mode-disabled";
	case POLICY_REFUSE_NOT_ACCEPTED:	return "not-accepted";
	case POLICY_REFUSE_EPSV_ALL:		return "epsv-all";
	case POLICY_REFUSE_MALFORMED_COMMAND:	return "malformed-command";
	case POLICY_REFUSE_CLIENT_CAP:		return "client-pinhole-cap";
	case POLICY_REASON_COUNT:		break;
	}
	return "unknown";
}

const char *policy_reason_text(enum policy_reason r)
{
	switch (r) {
	case POLICY_ALLOW:
		return "The announcement passed every check.";
	case POLICY_REFUSE_UNSOLICITED:
		return "The server announced a data endpoint that no PASV or EPSV command asked for.";
	case POLICY_REFUSE_THIRD_PARTY:
		return "The announced address is not that end's own address on the control connection (the server's, or an announce-address, for PASV/EPSV; the client's for PORT/EPRT).";
	case POLICY_REFUSE_FAMILY:
		return "The announced address family differs from the control connection's.";
	case POLICY_REFUSE_PRIVILEGED_PORT:
		return "The announced port is below 1024.";
	case POLICY_REFUSE_PORT_RANGE:
		return "The announced port is outside the configured range (passive-ports for PASV/EPSV, active-client-ports for PORT/EPRT).";
	case POLICY_REFUSE_SESSION_CAP:
		return "The session already has max-pinholes-per-session pinholes open.";
	case POLICY_REFUSE_MALFORMED:
		return "The reply could not be parsed strictly.";
	case POLICY_REFUSE_ACTIVE_DISABLED:
		return "Active mode (PORT/EPRT) is off for this server; set active-mode = on to allow it.";
	case POLICY_REFUSE_NOT_ACCEPTED:
		return "The server did not accept the PORT/EPRT command (no 200 reply).";
	case POLICY_REFUSE_EPSV_ALL:
		return "The client sent EPSV ALL, after which only EPSV may set up data connections (RFC 2428).";
	case POLICY_REFUSE_MALFORMED_COMMAND:
		return "The PORT/EPRT argument could not be parsed strictly.";
	case POLICY_REFUSE_CLIENT_CAP:
		return "The client address already has max-pinholes-per-client pinholes open over all its control connections.";
	case POLICY_REASON_COUNT:
		break;
	}
	return "Unknown policy reason.";
}
