/* packet: IPv4/IPv6 + TCP header reading for queued packets.
 *
 * Every length field in the packet is an attacker's claim. Each one is
 * checked against what we actually hold before it is used, and the end of
 * the packet is the smaller of the buffer and the IP header's own length
 * (trailing link-layer padding is not TCP payload). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

#define PACKET_IPV4_MIN 20
#define PACKET_IPV6_LEN 40
#define PACKET_TCP_MIN 20
#define PACKET_IPV6_EXT_MAX 8

#define PACKET_PROTO_TCP 6
#define PACKET_PROTO_HOPOPTS 0
#define PACKET_PROTO_ROUTING 43
#define PACKET_PROTO_FRAGMENT 44
#define PACKET_PROTO_DSTOPTS 60

#define PACKET_TCP_FIN 0x01
#define PACKET_TCP_SYN 0x02
#define PACKET_TCP_RST 0x04
#define PACKET_TCP_ACK 0x10
#define PACKET_TCP_URG 0x20

static uint16_t packet_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t packet_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Fills src/dst and sets *l4 / *end to the TCP header offset and the end of
 * the IP datagram. */
static int packet_ipv4(const uint8_t *data, size_t len, struct packet_info *pi,
		       size_t *l4, size_t *end)
{
	size_t ihl, total;
	uint16_t frag;

	if (len < PACKET_IPV4_MIN)
		return -EINVAL;
	ihl = (size_t)(data[0] & 0x0f) * 4;
	if (ihl < PACKET_IPV4_MIN || ihl > len)
		return -EINVAL;
	total = packet_be16(data + 2);
	/* A total length below the header or beyond the buffer is a lie
	 * (or a capture we only got part of): nothing sane to read. */
	if (total < ihl || total > len)
		return -EINVAL;
	/* Only a whole datagram has a whole TCP header and the payload at
	 * the offset we think; the kernel defragments before conntrack, so
	 * a fragment here is something we do not handle. */
	frag = packet_be16(data + 6);
	if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0)
		return -EPROTONOSUPPORT;
	if (data[9] != PACKET_PROTO_TCP)
		return -EPROTONOSUPPORT;
	pi->src.family = AF_INET;
	pi->dst.family = AF_INET;
	memcpy(&pi->src.v4, data + 12, 4);
	memcpy(&pi->dst.v4, data + 16, 4);
	*l4 = ihl;
	*end = total;
	return 0;
}

static int packet_ipv6(const uint8_t *data, size_t len, struct packet_info *pi,
		       size_t *l4, size_t *end)
{
	size_t off, stop;
	uint8_t next;
	unsigned n;

	if (len < PACKET_IPV6_LEN)
		return -EINVAL;
	/* Payload length 0 means a jumbogram (RFC 2675); we never see one on
	 * an FTP control connection, and with stop == 40 the TCP header
	 * check below refuses it as truncated. */
	stop = PACKET_IPV6_LEN + (size_t)packet_be16(data + 4);
	if (stop > len)
		return -EINVAL;
	next = data[6];
	off = PACKET_IPV6_LEN;
	for (n = 0;; n++) {
		size_t ext;

		if (next == PACKET_PROTO_TCP)
			break;
		if (next == PACKET_PROTO_FRAGMENT)
			return -EPROTONOSUPPORT;
		if (next != PACKET_PROTO_HOPOPTS &&
		    next != PACKET_PROTO_ROUTING &&
		    next != PACKET_PROTO_DSTOPTS)
			return -EPROTONOSUPPORT;	/* ESP, AH, no-next, ... */
		/* RFC 8200 4.3: hop-by-hop only right after the header. */
		if (next == PACKET_PROTO_HOPOPTS && n != 0)
			return -EINVAL;
		if (n >= PACKET_IPV6_EXT_MAX)
			return -EINVAL;
		if (stop - off < 8)
			return -EINVAL;
		ext = ((size_t)data[off + 1] + 1) * 8;
		if (ext > stop - off)
			return -EINVAL;
		next = data[off];
		off += ext;
	}
	pi->src.family = AF_INET6;
	pi->dst.family = AF_INET6;
	memcpy(&pi->src.v6, data + 8, 16);
	memcpy(&pi->dst.v6, data + 24, 16);
	*l4 = off;
	*end = stop;
	return 0;
}

int packet_parse(const uint8_t *data, size_t len, struct packet_info *out)
{
	struct packet_info pi;
	size_t l4 = 0, end = 0, doff;
	int r;

	if (data == NULL || out == NULL || len < 1)
		return -EINVAL;
	memset(&pi, 0, sizeof(pi));
	switch (data[0] >> 4) {
	case 4:
		r = packet_ipv4(data, len, &pi, &l4, &end);
		break;
	case 6:
		r = packet_ipv6(data, len, &pi, &l4, &end);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (r < 0)
		return r;
	if (l4 > end || end - l4 < PACKET_TCP_MIN)
		return -EINVAL;
	doff = (size_t)(data[l4 + 12] >> 4) * 4;
	if (doff < PACKET_TCP_MIN || doff > end - l4)
		return -EINVAL;
	pi.sport = packet_be16(data + l4);
	pi.dport = packet_be16(data + l4 + 2);
	pi.seq = packet_be32(data + l4 + 4);
	pi.ack = packet_be32(data + l4 + 8);
	pi.fin = (data[l4 + 13] & PACKET_TCP_FIN) != 0;
	pi.syn = (data[l4 + 13] & PACKET_TCP_SYN) != 0;
	pi.rst = (data[l4 + 13] & PACKET_TCP_RST) != 0;
	pi.ack_flag = (data[l4 + 13] & PACKET_TCP_ACK) != 0;
	pi.urg = (data[l4 + 13] & PACKET_TCP_URG) != 0;
	pi.urg_ptr = packet_be16(data + l4 + 18);
	pi.payload = data + l4 + doff;
	pi.payload_len = end - l4 - doff;
	*out = pi;
	return 0;
}
