/* flow: one TCP connection in one direction: source and destination
 * address (the address family is theirs) and port. The one type for a
 * control connection, a data connection and an expectation's tuple (whose
 * source port 0 means any), carried, compared and printed the same way
 * everywhere. Pure.
 *
 * One name per endpoint, everywhere in src/ and include/:
 *  - A connection is a struct flow in its original direction, named for
 *    what it is: `control` (the FTP control connection, client -> server;
 *    `master` where the kernel's expectation names it so), `data` (a data
 *    connection, or what a pinhole admits: data.src[:data.sport], port 0
 *    = any, to the announced data.dst:data.dport), `expect` (that same
 *    data flow as an expectation's tuple in the kernel), `tuple` / `orig`
 *    (a conntrack's original tuple as the kernel reports it).
 *  - Inside a flow the endpoints are src:sport and dst:dport.
 *  - An endpoint held outside a flow is an address named for its role
 *    and a port named <role>_port: client / client_port, server /
 *    server_port, announced / announced_port (what a PORT or EPRT argument
 *    names). "address", "destination", "dst"/"dport" apart from a flow
 *    and "orig_dst" are not used.
 *  - Text: flow_endpoint_format for one endpoint, flow_format for a flow,
 *    inet_addr_format for an address alone; there is no other formatter.
 *    The names in the formats (audit JSON keys "source", "destination",
 *    "port"; ftpgatectl columns) are part of those formats and stay. */
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

/* Where a translated data connection lands (doc/nat.md): the kernel
 * rewrites its destination to address:port (an expectation's
 * CTA_EXPECT_NAT; port 0: the port is left as it is). on false: not
 * translated, address and port zero. */
struct flow_nat {
	bool on;
	struct inet_addr address;
	uint16_t port;			/* host order */
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
