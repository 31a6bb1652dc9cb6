/* nftelem: one element of an nftables set as the kernel stores it, built
 * field by field. Pure: no netlink (nftset sends and reads elements).
 *
 * A set whose type is a concatenation (ipv4_addr . inet_service, or
 * ipv4_addr . ipv4_addr . inet_service for per-client grants) keeps its
 * key as the fields one after the other, each padded with zeros to a
 * multiple of 4 bytes (an nftables register, NFT_REG32_SIZE), in network
 * byte order. An interval set (flags interval) also keeps key_end, the
 * upper bound of every field: a single address is its own bound, a port
 * range LOW-HIGH puts LOW in key and HIGH in key_end. */
#ifndef FTPGATE_NFTELEM_H
#define FTPGATE_NFTELEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

#define NFTELEM_KEY_MAX 64	/* NFT_DATA_VALUE_MAXLEN: 16 registers */

struct nftelem {
	uint8_t key[NFTELEM_KEY_MAX];
	uint8_t key_end[NFTELEM_KEY_MAX];
	uint8_t len;		/* bytes used in key (and key_end) */
	bool interval;		/* key_end is sent: the set has flags interval */
	uint64_t timeout_ms;	/* 0: the set's own timeout, if any */
};

/* An empty element; interval: the set has flags interval. */
void nftelem_init(struct nftelem *e, bool interval);

/* Append an address field (ipv4_addr: 4 bytes, ipv6_addr: 16) to key and
 * key_end. Returns 0, -EAFNOSUPPORT for an unset address, or -ENOSPC when
 * the key would pass NFTELEM_KEY_MAX (e unchanged then). */
int nftelem_put_addr(struct nftelem *e, const struct inet_addr *a);

/* Append an inet_service field: low to key and high to key_end (a single
 * port: low == high). Returns 0, -EINVAL when low > high, or a range on an
 * element without interval, or -ENOSPC (e unchanged then). */
int nftelem_put_port_range(struct nftelem *e, uint16_t low, uint16_t high);

/* Same key (and key_end, for interval elements); timeouts are not
 * compared (the kernel reports the time left, not the one set). */
bool nftelem_equal(const struct nftelem *a, const struct nftelem *b);

/* Byte order of two elements' keys (then key_end), for sorting;
 * negative, 0 or positive like memcmp. */
int nftelem_compare(const struct nftelem *a, const struct nftelem *b);

#endif
