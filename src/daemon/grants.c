/* grants: per-client grants for encrypted control connections in the
 * ruleset's sets ftpgate_grants_ipv4/_ipv6 (tls = client-range; the
 * decision and the registry are src/core/grant.c).
 *
 * A control connection that turns encrypted gets, before the packet that
 * showed it (the 234, or the client's ClientHello) is released, an element
 * "client . server . LOW-HIGH" with a timeout of grant-lifetime-seconds;
 * the ruleset accepts new connections matching it. The element is deleted
 * when the last control connection sharing it ends (FIN, RST, conntrack
 * DESTROY, idle, eviction: every path that ends a session calls
 * grants_session_ended through auditlog_session_ended), when its lifetime
 * passes, on a reload that no longer allows it, and when ftpgated stops.
 * Once a second the sets are compared with the registry: an element the
 * kernel lost (the ruleset was loaded again) is put back with its
 * remaining lifetime, one nobody holds is deleted; a set that cannot be
 * read or written is said loudly, once, and counted. Elements are changed
 * through nftset (libnftnl on libmnl, include/nftset.h says why). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon.h"
#include "log.h"

#define GRANTS_CHECK_MS 1000
#define GRANTS_LIST_MAX 4096		/* elements read back per set */

static const char *const grants_names[SETS_FAMILIES] = { GRANT_SET_IPV4, GRANT_SET_IPV6 };

static struct nftset_ref grants_ref(const struct daemon *d, int family)
{
	struct nftset_ref r = { NFTSET_FAMILY_INET, d->config.nft_table,
				grants_names[family == AF_INET6 ? SETS_IPV6 : SETS_IPV4] };

	return r;
}

static void grants_control(const struct grant *g, struct audit_control *c)
{
	memset(c, 0, sizeof(*c));
	c->client = g->client;
	c->server = g->server;
	c->client_port = g->client_port;
	c->server_port = g->server_port;
	c->conntrack_id = g->conntrack_id;
}

/* The fields every grant event carries. */
static void grants_put(struct audit_line *l, const struct grant *g)
{
	struct audit_control c;
	char range[16];

	grants_control(g, &c);
	json_kv_uint(&l->json, "grant_id", g->id);
	audit_put_address(&l->json, "client", &g->client);
	audit_put_address(&l->json, "server", &g->server);
	snprintf(range, sizeof(range), "%u-%u", g->range.low, g->range.high);
	json_kv_str(&l->json, "ports", range);
	audit_put_control(&l->json, &c);
}

/* Stage adding g's element with a timeout of what is left of g's
 * lifetime. An element already there (another control connection of the
 * same client to the same server) is kept as it is, timeout included
 * (nftables' create without excl): should it time out while a later
 * record still lives, the once-a-second check puts it back with that
 * record's remaining lifetime (grants_check_family). */
static int grants_stage_put(struct daemon *d, const struct grant *g, uint64_t now_ms)
{
	struct nftset_ref ref = grants_ref(d, g->client.family);
	struct nftelem e;

	if (grant_elem(g, g->expiry_ms > now_ms ? g->expiry_ms - now_ms : 1000, &e) < 0)
		return -EINVAL;
	return nftset_add(d->sets.nft, &ref, &e, 1);
}

static int grants_put_elem(struct daemon *d, const struct grant *g,
			   uint64_t now_ms, char *err, size_t errlen)
{
	nftset_begin(d->sets.nft);
	if (grants_stage_put(d, g, now_ms) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return nftset_commit(d->sets.nft, err, errlen);
}

static int grants_delete_elem(struct daemon *d, const struct grant *g,
			      char *err, size_t errlen)
{
	struct nftset_ref ref = grants_ref(d, g->client.family);
	struct nftelem e;

	if (grant_elem(g, 0, &e) < 0)
		return -EINVAL;
	nftset_begin(d->sets.nft);
	if (nftset_delete(d->sets.nft, &ref, &e, 1) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return nftset_commit(d->sets.nft, err, errlen);
}

/* ---- opening ---------------------------------------------------------- */

static enum grant_reason grants_open(struct daemon *d, struct session_entry *e,
				     uint64_t now_ms)
{
	struct daemon_grants *gs = &d->grants;
	const struct session *s = &e->session;
	struct grant g, *rec;
	unsigned n = grant_table_client_count(gs->table, &s->client);
	enum grant_reason r = grant_decide(&d->config.policy, &s->server, n, &g.range);

	if (r != GRANT_ALLOW)
		return r;
	if (d->sets.nft == NULL) {
		snprintf(gs->last_err, sizeof(gs->last_err), "ftpgated manages no nftables table (nft-table = none, or its netlink socket failed); set nft-table to the table holding %s/%s",
			 GRANT_SET_IPV4, GRANT_SET_IPV6);
		return GRANT_REFUSE_KERNEL;
	}
	g.conntrack_id = e->conntrack_id;
	g.client = s->client;
	g.server = s->server;
	g.client_port = s->client_port;
	g.server_port = s->server_port;
	g.opened_ms = now_ms;
	g.expiry_ms = now_ms + (uint64_t)d->config.policy.grant_lifetime_s * 1000;
	g.opened_wall_ms = audit_wall_ms();
	g.data_connections = 0;
	rec = grant_table_add(gs->table, &g);
	if (rec == NULL)
		return GRANT_REFUSE_TABLE_FULL;
	gs->last_shared = grant_table_same_elem(gs->table, rec) > 1;
	if (grants_put_elem(d, rec, now_ms, gs->last_err, sizeof(gs->last_err)) < 0) {
		grant_table_remove(gs->table, rec);
		return GRANT_REFUSE_KERNEL;
	}
	gs->last = *rec;
	return GRANT_ALLOW;
}

/* Kernel phase of SESSION_ACTION_ENCRYPTED, before the verdict. */
static void grants_encrypted(struct daemon *d, struct session_entry *e,
			     const struct session_action *a)
{
	(void)a;
	d->grants.last_err[0] = '\0';
	d->grants.last_reason = grants_open(d, e, daemon_now_ms());
}

/* Reporting phase: log, count and audit the decision. */
static void grants_report(struct daemon *d, struct session_entry *e,
			  const struct session_action *a)
{
	struct daemon_grants *gs = &d->grants;
	enum grant_reason r = gs->last_reason;
	struct audit_control c;
	struct audit_line l;
	char text[160], client[INET_ADDR_STRLEN], server[INET_ADDR_STRLEN];

	if (r == GRANT_OPAQUE)
		return;		/* tls = opaque: session-encrypted says it */
	if (r == GRANT_ALLOW) {
		d->stats.grants_opened++;
		log_msg(LOG_NOTICE, "grant opened: %s tcp, while control connection conntrack %u lives (at most %us; %s)",
			grant_format(&gs->last, text, sizeof(text)), e->conntrack_id,
			d->config.policy.grant_lifetime_s, session_tls_start_name(a->tls_start));
		audit_begin(&l, "grant-opened", gs->last.opened_wall_ms);
		grants_put(&l, &gs->last);
		json_kv_str(&l.json, "tls", session_tls_start_name(a->tls_start));
		json_kv_bool(&l.json, "shared", gs->last_shared);
		audit_format_time(gs->last.opened_wall_ms +
				  (int64_t)d->config.policy.grant_lifetime_s * 1000,
				  text, sizeof(text));
		json_kv_str(&l.json, "expires", text);
		audit_end(&l);
		auditlog_write(d, &l);
		return;
	}
	if ((unsigned)r < GRANT_REASON_COUNT)
		d->stats.grants_refused[r]++;
	inet_addr_format(&e->session.client, client, sizeof(client));
	inet_addr_format(&e->session.server, server, sizeof(server));
	log_msg(LOG_NOTICE, "grant refused (%s): %s%s%s (control %s -> %s, conntrack %u)",
		grant_reason_name(r), grant_reason_text(r), gs->last_err[0] ? " " : "",
		gs->last_err, client, server, e->conntrack_id);
	memset(&c, 0, sizeof(c));
	c.client = e->session.client;
	c.server = e->session.server;
	c.client_port = e->session.client_port;
	c.server_port = e->session.server_port;
	c.conntrack_id = e->conntrack_id;
	audit_begin(&l, "grant-refused", audit_wall_ms());
	json_kv_str(&l.json, "reason", grant_reason_name(r));
	audit_put_address(&l.json, "client", &c.client);
	audit_put_address(&l.json, "server", &c.server);
	audit_put_control(&l.json, &c);
	json_kv_str(&l.json, "tls", session_tls_start_name(a->tls_start));
	json_kv_str(&l.json, "detail", gs->last_err[0] ? gs->last_err : grant_reason_text(r));
	audit_end(&l);
	auditlog_write(d, &l);
}

/* ---- closing ---------------------------------------------------------- */

/* Close one record: delete its element when no other record shares it
 * (or put it back with the others' latest expiry when this one had the
 * latest), then audit. */
static void grants_close(struct daemon *d, struct grant *g, enum grant_close how,
			 const char *reason, uint64_t now_ms)
{
	struct grant copy = *g;
	char err[DAEMON_ERR_MAX] = "", text[160];
	struct audit_line l;
	int ret = 0;

	grant_table_remove(d->grants.table, g);
	if (d->sets.nft != NULL && grant_table_same_elem(d->grants.table, &copy) == 0)
		ret = grants_delete_elem(d, &copy, err, sizeof(err));
	if (ret < 0 && ret != -ENOENT)
		log_msg(LOG_ERR, "grant %s not removed from the ruleset: %s; it expires by its timeout (grant-lifetime-seconds) at the latest",
			grant_format(&copy, text, sizeof(text)), err);
	if ((unsigned)how < GRANT_CLOSE_COUNT)
		d->stats.grants_closed[how]++;
	log_msg(LOG_NOTICE, "grant closed (%s): %s tcp, %llu data connections (conntrack %u)",
		reason, grant_format(&copy, text, sizeof(text)),
		(unsigned long long)copy.data_connections, copy.conntrack_id);
	audit_begin(&l, "grant-closed", audit_wall_ms());
	grants_put(&l, &copy);
	json_kv_str(&l.json, "reason", reason);
	json_kv_uint(&l.json, "data_connections", copy.data_connections);
	json_kv_uint(&l.json, "duration_ms", now_ms - copy.opened_ms);
	json_kv_bool(&l.json, "removed_from_ruleset", ret == 0);
	audit_end(&l);
	auditlog_write(d, &l);
}

static void grants_session_ended(struct daemon *d, struct session_entry *e,
				 const char *reason, uint64_t now_ms)
{
	struct grant *g;

	if (d->grants.table == NULL)
		return;
	g = grant_table_find_session(d->grants.table, e->conntrack_id);
	if (g == NULL || !inet_addr_equal(&g->client, &e->session.client) ||
	    !inet_addr_equal(&g->server, &e->session.server) ||
	    g->client_port != e->session.client_port)
		return;
	grants_close(d, g, GRANT_CLOSE_SESSION_ENDED, reason, now_ms);
}

/* A new connection (conntrack event): count it under the grant whose
 * client, server and range it matches. */
static void grants_connection_new(struct daemon *d, const struct ctnl_msg *m)
{
	struct grant *g;

	if (d->grants.table == NULL || m->proto != IPPROTO_TCP)
		return;
	g = grant_table_match(d->grants.table, &m->tuple.src, &m->tuple.dst,
			      m->tuple.dport);
	if (g == NULL)
		return;
	g->data_connections++;
	d->stats.grant_data_connections++;
}

const struct grant_hooks grants_hooks = {
	.encrypted = grants_encrypted,
	.report = grants_report,
	.session_ended = grants_session_ended,
	.connection_new = grants_connection_new,
};

/* ---- keeping the sets in line ---------------------------------------- */

static int grants_order(const void *a, const void *b)
{
	return nftelem_compare(a, b);
}

static bool grants_listed(const struct nftelem *sorted, size_t n, const struct nftelem *k)
{
	const struct nftelem *hit = bsearch(k, sorted, n, sizeof(*sorted), grants_order);

	return hit != NULL && nftelem_equal(hit, k);
}

/* The registry's elements of one family into want[], sorted, one per
 * key with the latest remaining lifetime of the records sharing it. */
static size_t grants_wanted(struct daemon *d, int family, uint64_t now_ms)
{
	struct daemon_grants *gs = &d->grants;
	size_t i, n = 0, out = 0, total = grant_table_count(gs->table);

	for (i = 0; i < total; i++) {
		const struct grant *g = grant_table_at(gs->table, i);
		uint64_t left = g->expiry_ms > now_ms ? g->expiry_ms - now_ms : 1000;

		if (g->client.family == family && grant_elem(g, left, &gs->want[n]) == 0)
			n++;
	}
	qsort(gs->want, n, sizeof(*gs->want), grants_order);
	for (i = 0; i < n; i++) {
		if (out > 0 && nftelem_equal(&gs->want[out - 1], &gs->want[i])) {
			if (gs->want[i].timeout_ms > gs->want[out - 1].timeout_ms)
				gs->want[out - 1].timeout_ms = gs->want[i].timeout_ms;
			continue;
		}
		gs->want[out++] = gs->want[i];
	}
	return out;
}

/* Say once that a family's grant set cannot be read or written. */
static void grants_unsynced(struct daemon *d, enum sets_family f, const char *name,
			    size_t n_want, const char *what, const char *err)
{
	d->stats.grants_out_of_sync = 1;
	if (!d->grants.said[f])
		log_msg(LOG_ERR, "cannot %s nftables set %s, so %zu live grants may be missing from the ruleset: %s; load rules/ftpgate.nft (or include rules/ftpgate-include.nft, which has the grant sets) or fix nft-table; FTPS data connections under tls = client-range are dropped until then (ftpgated retries every second)",
			what, name, n_want, err);
	d->grants.said[f] = true;
}

/* One family: put back what the registry holds and the set lost; delete
 * what the set holds and no record does. O((n + m) log(n + m)). */
static void grants_check_family(struct daemon *d, enum sets_family f, uint64_t now_ms)
{
	struct daemon_grants *gs = &d->grants;
	int family = f == SETS_IPV4 ? AF_INET : AF_INET6;
	struct nftset_ref ref = grants_ref(d, family);
	size_t count = 0, total = 0, i, lost = 0, extra = 0;
	size_t n_want = grants_wanted(d, family, now_ms);
	char err[DAEMON_ERR_MAX] = "", name[NFTSET_NAME_MAX * 2 + 16];

	nftset_ref_format(&ref, name, sizeof(name));
	if (nftset_list(d->sets.nft, &ref, gs->have, GRANTS_LIST_MAX, &count, &total,
			err, sizeof(err)) < 0) {
		if (n_want > 0)
			grants_unsynced(d, f, name, n_want, "read", err);
		return;
	}
	qsort(gs->have, count, sizeof(*gs->have), grants_order);
	nftset_begin(d->sets.nft);
	for (i = 0; i < n_want; i++)
		if (!grants_listed(gs->have, count, &gs->want[i]) &&
		    nftset_add(d->sets.nft, &ref, &gs->want[i], 1) == 0)
			lost++;
	for (i = 0; i < count; i++)
		if (!grants_listed(gs->want, n_want, &gs->have[i]) &&
		    nftset_delete(d->sets.nft, &ref, &gs->have[i], 1) == 0)
			extra++;
	if (lost == 0 && extra == 0) {
		if (gs->said[f])
			log_msg(LOG_NOTICE, "nftables set %s holds the live grants again", name);
		gs->said[f] = false;
		return;
	}
	if (nftset_commit(d->sets.nft, err, sizeof(err)) < 0) {
		grants_unsynced(d, f, name, n_want, "restore the grants in", err);
		return;
	}
	d->stats.grants_restored += lost;
	log_msg(LOG_WARNING, "nftables set %s had lost %zu of its %zu grant elements (the ruleset was loaded again?) and held %zu that no live grant holds: put back with their remaining lifetime, and removed",
		name, lost, n_want, extra);
	gs->said[f] = false;
}

static void grants_check(struct daemon *d, uint64_t now_ms)
{
	d->stats.grants_out_of_sync = 0;
	grants_check_family(d, SETS_IPV4, now_ms);
	grants_check_family(d, SETS_IPV6, now_ms);
}

void grants_tick(struct daemon *d, uint64_t now_ms)
{
	struct grant *g;

	if (d->grants.table == NULL)
		return;
	while ((g = grant_table_expired(d->grants.table, now_ms)) != NULL)
		grants_close(d, g, GRANT_CLOSE_LIFETIME, "lifetime", now_ms);
	d->stats.grants_live = grant_table_count(d->grants.table);
	if (d->sets.nft == NULL || now_ms - d->grants.checked_ms < GRANTS_CHECK_MS)
		return;
	d->grants.checked_ms = now_ms;
	grants_check(d, now_ms);
}

/* ---- start, reload, stop ----------------------------------------------- */

void grants_start(struct daemon *d)
{
	char err[DAEMON_ERR_MAX] = "";
	size_t removed = 0, count, total;
	enum sets_family f;

	d->grant_hooks = &grants_hooks;
	d->grants.table = grant_table_new(d->config.max_sessions);
	d->grants.have = calloc(GRANTS_LIST_MAX, sizeof(*d->grants.have));
	d->grants.want = calloc(d->config.max_sessions, sizeof(*d->grants.want));
	if (d->grants.table == NULL || d->grants.have == NULL || d->grants.want == NULL) {
		log_msg(LOG_ERR, "out of memory for the grant registry; no grants (tls = client-range) will open");
		grant_table_free(d->grants.table);
		d->grants.table = NULL;
		return;
	}
	if (d->sets.nft == NULL)
		return;
	/* Grants left by an ftpgated that did not stop cleanly: their
	 * sessions are granted again at their next client packet. */
	nftset_begin(d->sets.nft);
	for (f = SETS_IPV4; f < SETS_FAMILIES; f++) {
		struct nftset_ref ref = grants_ref(d, f == SETS_IPV4 ? AF_INET : AF_INET6);

		if (nftset_list(d->sets.nft, &ref, d->grants.have, GRANTS_LIST_MAX,
				&count, &total, err, sizeof(err)) < 0 || total == 0)
			continue;
		removed += total;
		nftset_flush(d->sets.nft, &ref);
	}
	if (removed > 0 && nftset_commit(d->sets.nft, err, sizeof(err)) == 0)
		log_msg(LOG_NOTICE, "removed %zu grants left in the ruleset by an earlier ftpgated; encrypted sessions still going are granted again at their client's next packet",
			removed);
	else if (removed > 0)
		log_msg(LOG_ERR, "cannot remove %zu grants left in the ruleset by an earlier ftpgated: %s; they end by their timeout",
			removed, err);
}

/* After a reload: a grant the new settings would not give (tls, range,
 * size) ends; the per-client cap applies to new grants only. */
void grants_reload(struct daemon *d)
{
	uint64_t now = daemon_now_ms();
	size_t i = 0;

	if (d->grants.table == NULL)
		return;
	while (i < grant_table_count(d->grants.table)) {
		struct grant *g = grant_table_at(d->grants.table, i);
		struct policy_port_range r;

		if (grant_decide(&d->config.policy, &g->server, 0, &r) == GRANT_ALLOW &&
		    r.low == g->range.low && r.high == g->range.high) {
			i++;
			continue;
		}
		grants_close(d, g, GRANT_CLOSE_RELOAD, "reload", now);
	}
}

void grants_stop(struct daemon *d)
{
	uint64_t now = daemon_now_ms();

	while (d->grants.table != NULL && grant_table_count(d->grants.table) > 0)
		grants_close(d, grant_table_at(d->grants.table, 0),
			     GRANT_CLOSE_DAEMON_STOPPED, "daemon-stopped", now);
}

void grants_free(struct daemon *d)
{
	grant_table_free(d->grants.table);
	free(d->grants.have);
	free(d->grants.want);
	memset(&d->grants, 0, sizeof(d->grants));
	d->grant_hooks = NULL;
}
