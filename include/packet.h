/* packet: the IPv4/IPv6 + TCP headers of one queued packet, read without
 * trusting any length in them. */
#ifndef FTPGATE_PACKET_H
#define FTPGATE_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

struct packet_info {
	struct inet_addr src, dst;
	uint16_t sport, dport;		/* host byte order */
	uint32_t seq;			/* host byte order */
	uint32_t ack;			/* host byte order; meaningful only
					   with ack_flag */
	bool syn, fin, rst;
	bool ack_flag;			/* ACK set: ack is the next byte the
					   sender expects from its peer */
	bool urg;			/* URG set: urg_ptr means something */
	uint16_t urg_ptr;		/* urgent pointer, host byte order */
	const uint8_t *payload;		/* points into the caller's buffer */
	size_t payload_len;
	/* Set by the caller, never by packet_parse: this packet's ACK is
	 * not proof that the peer's bytes went by (an NFLOG copy under
	 * capture = replies can overtake the peer's segments still held in
	 * the queue), so session_packet does not skip a hole on it; the
	 * caller applies it later with session_peer_acked. */
	bool ack_deferred;
};

/* Parse a packet that starts at the network header (as NFQUEUE hands it
 * out). Returns 0, -EPROTONOSUPPORT for a non-TCP or unknown IP version,
 * or -EINVAL for a truncated or inconsistent header. IPv6 extension headers
 * (hop-by-hop, routing, destination options) are skipped, at most 8; a
 * fragment is refused with -EPROTONOSUPPORT. */
int packet_parse(const uint8_t *data, size_t len, struct packet_info *out);

#endif
