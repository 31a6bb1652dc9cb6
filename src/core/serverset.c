/* serverset: the protected servers' set elements (include/serverset.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "serverset.h"

size_t serverset_entries(const struct policy *p, int family,
			 struct serverset_entry *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < p->server_count && n < max; i++) {
		const struct policy_server *s = &p->servers[i];

		if (s->addr.family != family)
			continue;
		out[n].addr = s->addr;
		out[n].range = s->passive_range.low ? s->passive_range
						    : p->passive_range;
		n++;
	}
	return n;
}

int serverset_elem(const struct serverset_entry *e, struct nftelem *out)
{
	nftelem_init(out, true);
	if (nftelem_put_addr(out, &e->addr) < 0 ||
	    nftelem_put_port_range(out, e->range.low, e->range.high) < 0)
		return -EINVAL;
	return 0;
}

const char *serverset_format(const struct serverset_entry *e, char *buf,
			     size_t len)
{
	char a[INET_ADDR_STRLEN];

	inet_addr_format(&e->addr, a, sizeof(a));
	if (e->range.low == e->range.high)
		snprintf(buf, len, "%s . %u", a, e->range.low);
	else
		snprintf(buf, len, "%s . %u-%u", a, e->range.low, e->range.high);
	return buf;
}

static int serverset_order(const void *a, const void *b)
{
	return nftelem_compare(a, b);
}

/* Is e in the sorted array have[0..n)? */
static bool serverset_has(const struct nftelem *have, size_t n,
			  const struct nftelem *e)
{
	const struct nftelem *hit = bsearch(e, have, n, sizeof(*have),
					    serverset_order);

	return hit != NULL && nftelem_equal(hit, e);
}

bool serverset_compare(const struct serverset_entry *want, size_t n_want,
		       struct nftelem *have, size_t n_have, long *missing,
		       size_t *n_missing, size_t *n_extra)
{
	size_t i, found = 0;

	*missing = -1;
	*n_missing = 0;
	qsort(have, n_have, sizeof(*have), serverset_order);
	for (i = 0; i < n_want; i++) {
		struct nftelem e;

		if (serverset_elem(&want[i], &e) == 0 &&
		    serverset_has(have, n_have, &e)) {
			found++;
			continue;
		}
		if (*missing < 0)
			*missing = (long)i;
		(*n_missing)++;
	}
	/* wanted entries are distinct (one section per address) */
	*n_extra = n_have - found;
	return *n_missing == 0 && *n_extra == 0;
}
