/* grant: the decision and registry of per-client grants (include/grant.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "grant.h"

enum grant_reason grant_decide(const struct policy *p,
			       const struct inet_addr *server,
			       unsigned client_grants,
			       struct policy_port_range *range)
{
	const struct policy_server *srv;
	unsigned ports;

	if (p == NULL || server == NULL || policy_tls(p, server) != POLICY_TLS_CLIENT_RANGE)
		return GRANT_OPAQUE;
	/* Only a range the administrator wrote for this server: the global
	 * default (1024-65535) would admit the client to every high port. */
	srv = policy_server_find(p, server);
	if (srv == NULL || srv->passive_range.low == 0)
		return GRANT_REFUSE_NO_RANGE;
	ports = (unsigned)srv->passive_range.high - srv->passive_range.low + 1;
	if (ports > p->grant_max_ports)
		return GRANT_REFUSE_RANGE_SIZE;
	if (client_grants >= p->max_grants_per_client)
		return GRANT_REFUSE_CLIENT_CAP;
	*range = srv->passive_range;
	return GRANT_ALLOW;
}

const char *grant_reason_name(enum grant_reason r)
{
	switch (r) {
	case GRANT_ALLOW:		return "allowed";
	case GRANT_OPAQUE:		return "tls-opaque";
	case GRANT_REFUSE_NO_RANGE:	return "no-passive-range";
	case GRANT_REFUSE_RANGE_SIZE:	return "range-too-large";
	case GRANT_REFUSE_CLIENT_CAP:	return "client-grant-cap";
	case GRANT_REFUSE_TABLE_FULL:	return "grant-table-full";
	case GRANT_REFUSE_KERNEL:	return "nftables-error";
	case GRANT_REASON_COUNT:	break;
	}
	return "unknown";
}

const char *grant_reason_text(enum grant_reason r)
{
	switch (r) {
	case GRANT_ALLOW:
		return "The client may reach the server's passive range while the control connection lives.";
	case GRANT_OPAQUE:
		return "tls = opaque for this server: no data connection is admitted.";
	case GRANT_REFUSE_NO_RANGE:
		return "The server has no [server] section with its own passive-ports; ftpgate grants only a range written for the server.";
	case GRANT_REFUSE_RANGE_SIZE:
		return "The server's passive range is larger than grant-max-ports.";
	case GRANT_REFUSE_CLIENT_CAP:
		return "The client address holds max-grants-per-client grants already.";
	case GRANT_REFUSE_TABLE_FULL:
		return "ftpgated records no more grants (one per tracked control connection).";
	case GRANT_REFUSE_KERNEL:
		return "nftables refused the grant's element.";
	case GRANT_REASON_COUNT:
		break;
	}
	return "Unknown reason.";
}

const char *grant_close_name(enum grant_close c)
{
	switch (c) {
	case GRANT_CLOSE_SESSION_ENDED:	return "session-ended";
	case GRANT_CLOSE_LIFETIME:	return "lifetime";
	case GRANT_CLOSE_RELOAD:	return "reload";
	case GRANT_CLOSE_DAEMON_STOPPED: return "daemon-stopped";
	case GRANT_CLOSE_COUNT:		break;
	}
	return "unknown";
}

struct grant_table {
	struct grant *g;
	size_t count, max;
	uint64_t last_id;
};

struct grant_table *grant_table_new(size_t max)
{
	struct grant_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->g = calloc(max ? max : 1, sizeof(*t->g));
	if (t->g == NULL) {
		free(t);
		return NULL;
	}
	t->max = max;
	return t;
}

void grant_table_free(struct grant_table *t)
{
	if (t == NULL)
		return;
	free(t->g);
	free(t);
}

struct grant *grant_table_add(struct grant_table *t, const struct grant *g)
{
	struct grant *r;

	if (t->count >= t->max)
		return NULL;
	r = &t->g[t->count++];
	*r = *g;
	r->id = ++t->last_id;
	return r;
}

struct grant *grant_table_find_session(struct grant_table *t, uint32_t conntrack_id)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (t->g[i].conntrack_id == conntrack_id)
			return &t->g[i];
	return NULL;
}

void grant_table_remove(struct grant_table *t, struct grant *g)
{
	size_t i = (size_t)(g - t->g);

	if (i >= t->count)
		return;
	t->g[i] = t->g[--t->count];
}

size_t grant_table_count(const struct grant_table *t)
{
	return t ? t->count : 0;
}

struct grant *grant_table_at(struct grant_table *t, size_t i)
{
	return i < t->count ? &t->g[i] : NULL;
}

unsigned grant_table_client_count(const struct grant_table *t,
				  const struct inet_addr *client)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < t->count; i++)
		if (inet_addr_equal(&t->g[i].client, client))
			n++;
	return n;
}

static bool grant_same_elem(const struct grant *a, const struct grant *b)
{
	return inet_addr_equal(&a->client, &b->client) &&
	       inet_addr_equal(&a->server, &b->server) &&
	       a->range.low == b->range.low && a->range.high == b->range.high;
}

unsigned grant_table_same_elem(const struct grant_table *t, const struct grant *g)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < t->count; i++)
		if (grant_same_elem(&t->g[i], g))
			n++;
	return n;
}

struct grant *grant_table_expired(struct grant_table *t, uint64_t now_ms)
{
	struct grant *first = NULL;
	size_t i;

	for (i = 0; i < t->count; i++)
		if (t->g[i].expiry_ms <= now_ms &&
		    (first == NULL || t->g[i].expiry_ms < first->expiry_ms))
			first = &t->g[i];
	return first;
}

struct grant *grant_table_match(struct grant_table *t, const struct inet_addr *client,
				const struct inet_addr *server, uint16_t port)
{
	struct grant *best = NULL;
	size_t i;

	for (i = 0; i < t->count; i++) {
		struct grant *g = &t->g[i];

		if (inet_addr_equal(&g->client, client) &&
		    inet_addr_equal(&g->server, server) &&
		    port >= g->range.low && port <= g->range.high &&
		    (best == NULL || g->id > best->id))
			best = g;
	}
	return best;
}

int grant_elem(const struct grant *g, uint64_t timeout_ms, struct nftelem *out)
{
	nftelem_init(out, true);
	if (g->client.family != g->server.family ||
	    nftelem_put_addr(out, &g->client) < 0 ||
	    nftelem_put_addr(out, &g->server) < 0 ||
	    nftelem_put_port_range(out, g->range.low, g->range.high) < 0)
		return -EINVAL;
	out->timeout_ms = timeout_ms;
	return 0;
}

const char *grant_format(const struct grant *g, char *buf, size_t len)
{
	char c[INET_ADDR_STRLEN], s[INET_ADDR_STRLEN];

	inet_addr_format(&g->client, c, sizeof(c));
	inet_addr_format(&g->server, s, sizeof(s));
	snprintf(buf, len, "%s . %s . %u-%u", c, s, g->range.low, g->range.high);
	return buf;
}
