/* serverset: the FTP servers ftpgate protects, as the elements of the
 * ruleset's sets ftpgate_servers_ipv4 (ipv4_addr . inet_service, flags
 * interval) and ftpgate_servers_ipv6 (ipv6_addr . inet_service): one
 * element per [server ADDRESS] section, "ADDRESS . LOW-HIGH" with the
 * server's passive range (its own passive-ports, else the global one).
 * The ruleset drops new connections into exactly those ports of exactly
 * those hosts unless an ftpgate pinhole admits them; nothing else. Pure:
 * building and comparing; the daemon's sets.c talks to the kernel. */
#ifndef FTPGATE_SERVERSET_H
#define FTPGATE_SERVERSET_H

#include <stdbool.h>
#include <stddef.h>
#include "nftelem.h"
#include "policy.h"

#define SERVERSET_IPV4 "ftpgate_servers_ipv4"
#define SERVERSET_IPV6 "ftpgate_servers_ipv6"
#define SERVERSET_MAX POLICY_SERVERS_MAX	/* elements per family */

struct serverset_entry {
	struct inet_addr addr;
	struct policy_port_range range;
};

/* The entries of one family (AF_INET, AF_INET6) in the policy's section
 * order, at most `max`. Returns how many. */
size_t serverset_entries(const struct policy *p, int family,
			 struct serverset_entry *out, size_t max);

/* The set element of an entry. Returns 0 or -EINVAL (unset address). */
int serverset_elem(const struct serverset_entry *e, struct nftelem *out);

/* "203.0.113.2 . 40000-40099", nft's syntax for the element. */
const char *serverset_format(const struct serverset_entry *e, char *buf,
			     size_t len);

/* How the kernel's elements (have[0..n_have)) differ from the wanted
 * entries (want[0..n_want)): the index of the first wanted entry missing
 * from have in *missing (-1: none), how many are missing in *n_missing,
 * and how many of have are not wanted in *n_extra. Sorts `have` in place;
 * O((n_have + n_want) log n_have). Returns true when they are equal. */
bool serverset_compare(const struct serverset_entry *want, size_t n_want,
		       struct nftelem *have, size_t n_have, long *missing,
		       size_t *n_missing, size_t *n_extra);

#endif
