/* flow: one TCP connection in one direction: source and destination
 * address (the address family is theirs) and port. The one type for a
 * control connection, a data connection and an expectation's tuple (whose
 * source port 0 means any), carried, compared and printed the same way
 * everywhere. Pure. */
#ifndef FTPGATE_FLOW_H
#define FTPGATE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

struct flow {
	struct inet_addr src, dst;
	uint16_t sport, dport;		/* host order */
};

/* "[2001:db8::1]:21" */
#define FLOW_ENDPOINT_STRLEN (INET_ADDR_STRLEN + 8)
/* "<endpoint> -> <endpoint>" */
#define FLOW_STRLEN (2 * FLOW_ENDPOINT_STRLEN + 4)

/* Same addresses (and family) and ports. */
bool flow_equal(const struct flow *a, const struct flow *b);

/* One endpoint into buf: "192.0.2.1:21", "[2001:db8::1]:21"; port 0 (an
 * expectation's any source port) prints as "*", an unset address as "-".
 * Returns buf. */
const char *flow_endpoint_format(const struct inet_addr *a, uint16_t port,
				 char *buf, size_t len);

/* "src:sport -> dst:dport", each endpoint as flow_endpoint_format prints
 * it. Returns buf. */
const char *flow_format(const struct flow *f, char *buf, size_t len);

#endif
