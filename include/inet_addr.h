/* inet_addr: an IPv4 or IPv6 address with its family, compared and printed
 * the same way everywhere in ftpgate. */
#ifndef FTPGATE_INET_ADDR_H
#define FTPGATE_INET_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

struct inet_addr {
	int family;			/* AF_INET or AF_INET6; 0 = unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

#define INET_ADDR_STRLEN INET6_ADDRSTRLEN

bool inet_addr_equal(const struct inet_addr *a, const struct inet_addr *b);

/* Parse a numeric IPv4 or IPv6 address. Returns 0 or -EINVAL. */
int inet_addr_parse(const char *text, struct inet_addr *out);

/* Format into buf (at least INET_ADDR_STRLEN bytes); returns buf. An unset
 * address prints as "-". */
const char *inet_addr_format(const struct inet_addr *a, char *buf, size_t len);

#endif
