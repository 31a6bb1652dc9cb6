/* sets: the FTP servers ftpgate protects, in the ruleset's sets.
 *
 * The ruleset (rules/ftpgate.nft, or rules/ftpgate-include.nft inside the
 * administrator's own table) drops a new forwarded connection only when
 * its destination address and port are an element of ftpgate_servers_ipv4
 * or _ipv6 and no ftpgate pinhole admitted it. ftpgated owns those sets:
 * it puts one element per [server] section ("ADDRESS . LOW-HIGH", the
 * server's passive range) into them at start and on reload, and once a
 * second compares them with the configuration: a set that is missing is
 * said once, with the fix; one that is empty although servers are
 * configured (the ruleset was loaded after ftpgated, or loaded again) is
 * filled; one that holds other elements is restored and said. Every
 * disagreement is counted (nft_sets_problems_total) and shown while it
 * lasts (nft_sets_out_of_sync), for ftpgatectl stats and doctor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon.h"
#include "log.h"

#define SETS_CHECK_MS 1000
#define SETS_SAID_NONE (-1)

static const char *const sets_names[SETS_FAMILIES] = { SERVERSET_IPV4, SERVERSET_IPV6 };
static const int sets_af[SETS_FAMILIES] = { AF_INET, AF_INET6 };

static struct nftset_ref sets_ref(const struct daemon *d, enum sets_family f)
{
	struct nftset_ref r = { NFTSET_FAMILY_INET, d->config.nft_table, sets_names[f] };

	return r;
}

/* What one family's set looks like in the kernel. */
struct sets_state {
	int error;			/* nftset_list's, 0 when read */
	size_t n_want, total;
	bool equal;
	long missing;			/* first wanted entry not there */
	size_t n_missing, n_extra;
	char err[DAEMON_ERR_MAX];
};

static void sets_read(struct daemon *d, enum sets_family f, struct sets_state *st)
{
	struct nftset_ref ref = sets_ref(d, f);
	size_t count = 0;

	memset(st, 0, sizeof(*st));
	st->n_want = serverset_entries(&d->config.policy, sets_af[f],
				       d->sets.want, SERVERSET_MAX);
	st->error = nftset_list(d->sets.nft, &ref, d->sets.have, SERVERSET_MAX + 1,
				&count, &st->total, st->err, sizeof(st->err));
	if (st->error < 0)
		return;
	st->equal = serverset_compare(d->sets.want, st->n_want, d->sets.have, count,
				      &st->missing, &st->n_missing, &st->n_extra) &&
		    st->total == count;
	st->n_extra += st->total - count;
}

/* Stage "flush set; add element" for one family (the entries in
 * d->sets.want, st->n_want of them). */
static int sets_stage(struct daemon *d, enum sets_family f, size_t n_want)
{
	struct nftset_ref ref = sets_ref(d, f);
	size_t i;

	for (i = 0; i < n_want; i++)
		if (serverset_elem(&d->sets.want[i], &d->sets.have[i]) < 0)
			return -EINVAL;
	/* nft: flush set inet ftpgate ftpgate_servers_ipv4
	 *      add element inet ftpgate ftpgate_servers_ipv4 { 203.0.113.2 . 40000-40099, ... }
	 * for the rules
	 *   ct state related ct helper "ftpgate" accept
	 *   ct state new ip daddr . tcp dport @ftpgate_servers_ipv4 drop
	 * (ip6 daddr and _ipv6 alike): the flush and the adds, of both
	 * families, are one transaction, so no packet sees the set empty. */
	if (nftset_flush(d->sets.nft, &ref) < 0)
		return -ENOMEM;
	if (n_want > 0 && nftset_add(d->sets.nft, &ref, d->sets.have, n_want) < 0)
		return -ENOMEM;
	return 0;
}

/* Put the configured servers into the sets of the families in `which`
 * (bit per enum sets_family), one transaction. */
static int sets_replace(struct daemon *d, unsigned which, char *err, size_t errlen)
{
	enum sets_family f;
	int ret;

	nftset_begin(d->sets.nft);
	for (f = SETS_IPV4; f < SETS_FAMILIES; f++) {
		size_t n;

		if (!(which & (1u << f)))
			continue;
		n = serverset_entries(&d->config.policy, sets_af[f], d->sets.want,
				      SERVERSET_MAX);
		if (sets_stage(d, f, n) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	ret = nftset_commit(d->sets.nft, err, errlen);
	if (ret == 0)
		d->stats.nft_sets_updates++;
	return ret;
}

/* Say a problem of one family's set once (until it changes), count it. */
static void sets_say(struct daemon *d, enum sets_family f, enum stats_sets_problem p,
		     const struct sets_state *st)
{
	char set[NFTSET_NAME_MAX * 2 + 16], first[128] = "";
	struct nftset_ref ref = sets_ref(d, f);
	bool again = d->sets.said[f] == (int)p;

	nftset_ref_format(&ref, set, sizeof(set));
	if (st->missing >= 0)
		serverset_format(&d->sets.want[st->missing], first, sizeof(first));
	if (p == STATS_SETS_MISSING && !again)
		log_msg(LOG_WARNING, "nftables set %s does not exist, so ftpgate's rules protect no FTP server's passive ports (%zu configured); load rules/ftpgate.nft (after ftpgated), or include rules/ftpgate-include.nft in table inet %s, or set nft-table to the table that includes it (nft-table = none: ftpgated leaves nftables alone)",
			set, st->n_want, d->config.nft_table);
	else if (p == STATS_SETS_EMPTIED)
		log_msg(LOG_NOTICE, "nftables set %s was empty (the ruleset was loaded); filled with the %zu configured servers",
			set, st->n_want);
	else if (p == STATS_SETS_CHANGED)
		log_msg(LOG_WARNING, "nftables set %s did not hold the configured servers (%zu missing%s%s, %zu not configured); restored it: ftpgated owns this set, list FTP servers in [server] sections of ftpgate.conf and reload",
			set, st->n_missing, first[0] ? ", first " : "", first,
			st->n_extra);
	if (p == STATS_SETS_MISSING && again)
		return;
	d->stats.nft_sets_problems[p]++;
	d->sets.said[f] = (int)p;
}

static void sets_failed(struct daemon *d, const char *when, const char *err)
{
	d->stats.nft_sets_problems[STATS_SETS_UPDATE_FAILED]++;
	d->stats.nft_sets_out_of_sync = 1;
	log_msg(LOG_ERR, "%s: cannot put the configured FTP servers into table inet %s: %s; fix the ruleset or nft-table, ftpgated retries every second",
		when, d->config.nft_table, err);
}

/* Compare both sets with the configuration; fill or restore what differs. */
static void sets_check(struct daemon *d, const char *when)
{
	struct sets_state st[SETS_FAMILIES];
	char err[DAEMON_ERR_MAX] = "";
	unsigned redo = 0, out = 0;
	enum sets_family f;

	for (f = SETS_IPV4; f < SETS_FAMILIES; f++) {
		sets_read(d, f, &st[f]);
		if (st[f].error == -ENOENT) {
			sets_say(d, f, STATS_SETS_MISSING, &st[f]);
			out = 1;
		} else if (st[f].error < 0) {
			sets_failed(d, when, st[f].err);
			return;
		} else if (!st[f].equal) {
			sets_say(d, f, st[f].total == 0 ? STATS_SETS_EMPTIED
							: STATS_SETS_CHANGED, &st[f]);
			redo |= 1u << f;
		} else if (d->sets.said[f] == STATS_SETS_MISSING) {
			log_msg(LOG_NOTICE, "nftables set inet %s %s exists again and holds the configured servers",
				d->config.nft_table, sets_names[f]);
			d->sets.said[f] = SETS_SAID_NONE;
		}
	}
	if (redo && sets_replace(d, redo, err, sizeof(err)) < 0) {
		sets_failed(d, when, err);
		return;
	}
	for (f = SETS_IPV4; f < SETS_FAMILIES; f++)
		if ((redo & (1u << f)) && d->sets.said[f] != STATS_SETS_MISSING)
			d->sets.said[f] = SETS_SAID_NONE;
	d->stats.nft_sets_out_of_sync = out;
}

/* The configured servers, as one line for the log. */
static void sets_log_servers(struct daemon *d, const char *when)
{
	size_t n4 = serverset_entries(&d->config.policy, AF_INET, d->sets.want, SERVERSET_MAX);
	size_t n6 = serverset_entries(&d->config.policy, AF_INET6, d->sets.want, SERVERSET_MAX);

	log_msg(LOG_INFO, "%s: protecting the passive ports of %zu IPv4 and %zu IPv6 FTP servers in table inet %s",
		when, n4, n6, d->config.nft_table);
}

static int sets_open(struct daemon *d)
{
	char err[DAEMON_ERR_MAX] = "";
	enum sets_family f;

	for (f = SETS_IPV4; f < SETS_FAMILIES; f++)
		d->sets.said[f] = SETS_SAID_NONE;
	d->stats.nft_sets_managed = d->config.nft_table[0] != '\0';
	d->stats.nft_sets_out_of_sync = 0;
	if (!d->stats.nft_sets_managed)
		return 0;
	if (d->sets.want == NULL)
		d->sets.want = calloc(SERVERSET_MAX, sizeof(*d->sets.want));
	if (d->sets.have == NULL)
		d->sets.have = calloc(SERVERSET_MAX + 1, sizeof(*d->sets.have));
	if (d->sets.want == NULL || d->sets.have == NULL ||
	    (d->sets.nft == NULL && nftset_open(&d->sets.nft, err, sizeof(err)) < 0)) {
		log_msg(LOG_ERR, "cannot manage the nftables sets of table inet %s: %s",
			d->config.nft_table, err[0] ? err : "out of memory");
		d->stats.nft_sets_out_of_sync = 1;
		return -1;
	}
	return 0;
}

void sets_start(struct daemon *d)
{
	if (sets_open(d) < 0 || d->sets.nft == NULL || !d->stats.nft_sets_managed)
		return;
	sets_log_servers(d, "start");
	sets_check(d, "start");
}

void sets_reload(struct daemon *d)
{
	char err[DAEMON_ERR_MAX] = "";
	int ret;

	if (sets_open(d) < 0 || !d->stats.nft_sets_managed)
		return;
	sets_log_servers(d, "reload");
	/* Replace both sets whatever they hold: the new servers arrive in
	 * one transaction. A missing set fails it; sets_check then says
	 * which one and fills the other. */
	ret = sets_replace(d, (1u << SETS_IPV4) | (1u << SETS_IPV6), err, sizeof(err));
	if (ret < 0 && ret != -ENOENT)
		sets_failed(d, "reload", err);
	sets_check(d, "reload");
}

void sets_tick(struct daemon *d, uint64_t now_ms)
{
	if (d->sets.nft == NULL || !d->stats.nft_sets_managed ||
	    now_ms - d->sets.checked_ms < SETS_CHECK_MS)
		return;
	d->sets.checked_ms = now_ms;
	sets_check(d, "check");
}

void sets_close(struct daemon *d)
{
	nftset_close(d->sets.nft);
	free(d->sets.want);
	free(d->sets.have);
	memset(&d->sets, 0, sizeof(d->sets));
}
