/* tcp_build: crafted IPv4 and IPv6 TCP segments for the host tests and
 * the fuzz targets, with real headers (packet_parse reads them as it reads
 * what NFQUEUE hands out). One place for every test that needs a packet. */
#ifndef FTPGATE_TCP_BUILD_H
#define FTPGATE_TCP_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

#define TCP_BUILD_FIN 0x01
#define TCP_BUILD_SYN 0x02
#define TCP_BUILD_RST 0x04
#define TCP_BUILD_PSH 0x08
#define TCP_BUILD_ACK 0x10
#define TCP_BUILD_URG 0x20

/* IPv6 header (40) + TCP header (20) */
#define TCP_BUILD_HEADROOM 60

struct tcp_segment {
	const struct inet_addr *src, *dst;	/* same family */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;				/* TCP_BUILD_* */
	const void *payload;
	size_t len;
	uint16_t urg_ptr;			/* with TCP_BUILD_URG */
};

/* Write the IP header, the TCP header and the payload into buf (cap
 * bytes). Returns the packet's length, or 0 when it does not fit (or the
 * family is neither AF_INET nor AF_INET6). Checksums are left 0: nothing
 * on the packet path reads them. */
size_t tcp_build(uint8_t *buf, size_t cap, const struct tcp_segment *s);

/* "198.51.100.2" or "2001:db8::2" into *a; aborts the test on a typo. */
struct inet_addr tcp_build_addr(const char *text);

#endif
