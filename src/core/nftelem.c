/* nftelem: set elements in the kernel's layout (see include/nftelem.h).
 *
 * Layout relied on (nftables 1.0.6 src/datatype.c, src/netlink.c
 * netlink_gen_concat_key(); Debian's linux-source-6.1
 * net/netfilter/nft_set_pipapo.c): each field of a concatenation takes
 * round_up(field length, NFT_REG32_SIZE) bytes, zero padded after the
 * value; inet_service is 2 bytes in network byte order; ipv4_addr 4,
 * ipv6_addr 16. The set's key length is the sum (8 for ipv4_addr .
 * inet_service, 20 for ipv6_addr . inet_service). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "nftelem.h"

#define NFTELEM_REG 4		/* NFT_REG32_SIZE */

void nftelem_init(struct nftelem *e, bool interval)
{
	memset(e, 0, sizeof(*e));
	e->interval = interval;
}

/* Append one field: lo to key, hi to key_end, each padded. */
static int nftelem_put(struct nftelem *e, const void *lo, const void *hi,
		       size_t len)
{
	size_t padded = (len + NFTELEM_REG - 1) / NFTELEM_REG * NFTELEM_REG;

	if (e->len + padded > NFTELEM_KEY_MAX)
		return -ENOSPC;
	memcpy(e->key + e->len, lo, len);
	memcpy(e->key_end + e->len, hi, len);
	e->len = (uint8_t)(e->len + padded);
	return 0;
}

int nftelem_put_addr(struct nftelem *e, const struct inet_addr *a)
{
	switch (a->family) {
	case AF_INET:
		return nftelem_put(e, &a->v4, &a->v4, sizeof(a->v4));
	case AF_INET6:
		return nftelem_put(e, &a->v6, &a->v6, sizeof(a->v6));
	default:
		return -EAFNOSUPPORT;
	}
}

int nftelem_put_port_range(struct nftelem *e, uint16_t low, uint16_t high)
{
	uint16_t lo = htons(low), hi = htons(high);

	if (low > high || (low != high && !e->interval))
		return -EINVAL;
	return nftelem_put(e, &lo, &hi, sizeof(lo));
}

int nftelem_compare(const struct nftelem *a, const struct nftelem *b)
{
	int c;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	c = memcmp(a->key, b->key, a->len);
	if (c != 0 || !a->interval || !b->interval)
		return c;
	return memcmp(a->key_end, b->key_end, a->len);
}

bool nftelem_equal(const struct nftelem *a, const struct nftelem *b)
{
	return a->interval == b->interval && nftelem_compare(a, b) == 0;
}
