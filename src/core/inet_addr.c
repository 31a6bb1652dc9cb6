/* inet_addr: one representation of an IPv4 or IPv6 address, so that policy,
 * config and logs agree on what "the same address" means. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "inet_addr.h"

/* Two unset addresses are equal; an unset address never equals a set one.
 * Comparison is by value only: an IPv4-mapped IPv6 address is not the IPv4
 * address, because the kernel's conntrack does not treat them alike either. */
bool inet_addr_equal(const struct inet_addr *a, const struct inet_addr *b)
{
	if (a == NULL || b == NULL || a->family != b->family)
		return false;
	switch (a->family) {
	case AF_INET:
		return a->v4.s_addr == b->v4.s_addr;
	case AF_INET6:
		return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
	case 0:
		return true;
	default:
		return false;
	}
}

/* inet_pton is strict enough: no hostnames, no surrounding space, no scope
 * ids, and glibc refuses leading zeros in dotted quads (no octal surprises).
 * *out is written only on success. */
int inet_addr_parse(const char *text, struct inet_addr *out)
{
	struct inet_addr a;

	if (text == NULL || out == NULL)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &a.v4) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, text, &a.v6) == 1) {
		a.family = AF_INET6;
	} else {
		return -EINVAL;
	}
	*out = a;
	return 0;
}

/* Always leaves a terminated string in buf (when len > 0): "-" for unset,
 * "?" for an unknown family or a buffer too small, so a log line is never
 * built from garbage. */
const char *inet_addr_format(const struct inet_addr *a, char *buf, size_t len)
{
	const char *s = NULL;

	if (buf == NULL || len == 0)
		return buf;
	if (a == NULL || a->family == 0) {
		s = "-";
	} else if (a->family == AF_INET || a->family == AF_INET6) {
		const void *src = a->family == AF_INET ? (const void *)&a->v4
						       : (const void *)&a->v6;
		socklen_t n = len > INET_ADDR_STRLEN ? INET_ADDR_STRLEN
						     : (socklen_t)len;
		if (inet_ntop(a->family, src, buf, n) != NULL)
			return buf;
		s = "?";
	} else {
		s = "?";
	}
	if (len < 2) {
		buf[0] = '\0';
		return buf;
	}
	buf[0] = s[0];
	buf[1] = '\0';
	return buf;
}
