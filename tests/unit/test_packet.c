/* Unit tests for packet_parse on packets built byte by byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "packet.h"

struct pkt {
	uint8_t b[512];
	size_t len;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* TCP header at p: ports 40000 -> 21, seq, flags, data offset in words
 * (options filled with NOPs), then payload. Returns bytes written. */
static size_t tcp(uint8_t *p, unsigned doff, uint8_t flags, uint32_t seq,
		  const char *payload)
{
	size_t plen = strlen(payload);

	memset(p, 0, doff * 4);
	put16(p, 40000);
	put16(p + 2, 21);
	put32(p + 4, seq);
	p[12] = (uint8_t)(doff << 4);
	p[13] = flags;
	put16(p + 14, 65535);
	if (doff > 5)
		memset(p + 20, 1, doff * 4 - 20);	/* NOP options */
	memcpy(p + doff * 4, payload, plen);
	return doff * 4 + plen;
}

/* IPv4 with `ihl` words of header (options are NOPs), then TCP. */
static void ipv4(struct pkt *k, unsigned ihl, unsigned doff, uint8_t flags,
		 const char *payload)
{
	memset(k, 0, sizeof(*k));
	k->b[0] = (uint8_t)(0x40 | ihl);
	k->b[8] = 64;
	k->b[9] = 6;
	inet_pton(AF_INET, "192.0.2.1", k->b + 12);
	inet_pton(AF_INET, "198.51.100.7", k->b + 16);
	if (ihl > 5)
		memset(k->b + 20, 1, ihl * 4 - 20);
	k->len = ihl * 4 + tcp(k->b + ihl * 4, doff, flags, 0x01020304,
			       payload);
	put16(k->b + 2, (unsigned)k->len);
}

/* IPv6, then the extension headers listed in `ext` (by type, each
 * (ext_units + 1) * 8 bytes, PadN-filled), then TCP. */
static void ipv6x(struct pkt *k, const uint8_t *ext, unsigned next_count,
		  unsigned ext_units, const char *payload)
{
	size_t off = 40;
	unsigned i;

	memset(k, 0, sizeof(*k));
	k->b[0] = 0x60;
	k->b[7] = 64;
	inet_pton(AF_INET6, "2001:db8::1", k->b + 8);
	inet_pton(AF_INET6, "2001:db8::2", k->b + 24);
	k->b[6] = next_count ? ext[0] : 6;
	for (i = 0; i < next_count; i++) {
		k->b[off] = i + 1 < next_count ? ext[i + 1] : 6;
		k->b[off + 1] = (uint8_t)ext_units;
		k->b[off + 2] = 1;	/* PadN option filling the rest */
		k->b[off + 3] = (uint8_t)((ext_units + 1) * 8 - 4);
		off += (ext_units + 1) * 8;
	}
	k->len = off + tcp(k->b + off, 5, 0x18, 0xfffffff0, payload);
	put16(k->b + 4, (unsigned)(k->len - 40));
}

static void ipv6(struct pkt *k, const uint8_t *ext, unsigned next_count,
		 const char *payload)
{
	ipv6x(k, ext, next_count, 0, payload);
}

/* Parse from an exact-size heap copy: a read past len is an ASan error. */
static int parse(const struct pkt *k, size_t len, struct packet_info *pi)
{
	uint8_t *p = malloc(len ? len : 1);
	int r;

	if (p == NULL)
		abort();
	memcpy(p, k->b, len);
	memset(pi, 0, sizeof(*pi));
	r = packet_parse(p, len, pi);
	if (r == 0 && pi->payload_len > 0) {
		CHECK(pi->payload >= p && pi->payload + pi->payload_len <= p + len);
		pi->payload = k->b + (pi->payload - p);
	}
	free(p);
	return r;
}

static void test_ipv4(void)
{
	struct packet_info pi;
	struct pkt k;
	char buf[INET_ADDR_STRLEN];
	size_t i;

	ipv4(&k, 5, 5, 0x18, "PASV\r\n");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.src.family, AF_INET);
	CHECK_STR(inet_addr_format(&pi.src, buf, sizeof(buf)), "192.0.2.1");
	CHECK_STR(inet_addr_format(&pi.dst, buf, sizeof(buf)), "198.51.100.7");
	CHECK_INT(pi.sport, 40000);
	CHECK_INT(pi.dport, 21);
	CHECK_INT(pi.seq, 0x01020304);
	CHECK_INT(pi.syn, 0);
	CHECK_INT(pi.fin, 0);
	CHECK_INT(pi.rst, 0);
	CHECK_INT(pi.payload_len, 6);
	CHECK(pi.payload == k.b + 40);
	/* 0x18 is PSH|ACK; the builder leaves the acknowledgement 0 */
	CHECK_INT(pi.ack_flag, 1);
	CHECK_INT(pi.ack, 0);
	put32(k.b + 20 + 8, 0x89abcdefu);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.ack, 0x89abcdefu);
	CHECK_INT(pi.seq, 0x01020304);
	/* the number is reported whatever the flag says; the flag says
	 * whether it means anything */
	k.b[20 + 13] = 0x08;
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.ack_flag, 0);
	CHECK_INT(pi.ack, 0x89abcdefu);
	CHECK_INT(pi.urg, 0);
	/* URG and the urgent pointer (issue 11, finding 9) */
	k.b[20 + 13] = 0x38;
	put16(k.b + 20 + 18, 0x1234);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.urg, 1);
	CHECK_INT(pi.urg_ptr, 0x1234);
	CHECK_INT(pi.ack_flag, 1);

	/* IP options (IHL 15 = 60 bytes) and TCP options (doff 15) */
	ipv4(&k, 15, 15, 0x02, "");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.syn, 1);
	CHECK_INT(pi.ack_flag, 0);
	CHECK_INT(pi.payload_len, 0);
	ipv4(&k, 8, 8, 0x01 | 0x04, "227 x");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.fin, 1);
	CHECK_INT(pi.rst, 1);
	CHECK_INT(pi.payload_len, 5);
	CHECK(pi.payload == k.b + 32 + 32);
	CHECK(memcmp(pi.payload, "227 x", 5) == 0);

	/* total length shorter than the buffer: trailing bytes are padding */
	ipv4(&k, 5, 5, 0x18, "PASV\r\n");
	CHECK_INT(parse(&k, k.len + 10, &pi), 0);
	CHECK_INT(pi.payload_len, 6);
	put16(k.b + 2, 42);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 2);
	put16(k.b + 2, 40);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 0);
	/* total length too small for TCP, below IHL, beyond buffer */
	put16(k.b + 2, 39);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 2, 19);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 2, 0);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 2, (unsigned)k.len + 1);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 2, 65535);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* every truncation of a good packet is refused, never read past */
	ipv4(&k, 6, 6, 0x18, "");
	for (i = 0; i < k.len; i++)
		CHECK_INT(parse(&k, i, &pi), -EINVAL);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	ipv4(&k, 5, 5, 0x18, "PORT 1,2,3,4,5,6\r\n");
	for (i = 0; i < k.len; i++)
		CHECK(parse(&k, i, &pi) < 0);

	/* bad IHL */
	for (i = 0; i < 5; i++) {
		ipv4(&k, 5, 5, 0x18, "x");
		k.b[0] = (uint8_t)(0x40 | i);
		CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	}
	/* IHL 4 where the bytes at the would-be TCP offset look sane */
	ipv4(&k, 5, 5, 0x18, "x");
	k.b[20 + 8] = 0x50;		/* ack byte = doff 5 if read at 16 */
	k.b[0] = 0x44;
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	k.b[0] = 0x45;
	CHECK_INT(parse(&k, k.len, &pi), 0);
	ipv4(&k, 5, 5, 0x18, "");
	k.b[0] = 0x4f;			/* 60 > 40 bytes held */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	ipv4(&k, 5, 5, 0x18, "0123456789012345678901");
	k.b[0] = 0x4f;			/* 60 held but TCP would not fit */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* bad TCP data offset */
	for (i = 0; i < 5; i++) {
		ipv4(&k, 5, 5, 0x18, "PASV\r\n");
		k.b[20 + 12] = (uint8_t)(i << 4);
		CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	}
	ipv4(&k, 5, 5, 0x18, "PASV\r\n");
	k.b[20 + 12] = 0x70;		/* 28 > 26 bytes of TCP */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	k.b[20 + 12] = 0x60;		/* 24 <= 26: two bytes payload */
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 2);
	CHECK(memcmp(pi.payload, "\r\n", 2) == 0);
	ipv4(&k, 5, 5, 0x18, "PASV\r\n");
	put16(k.b + 2, 44);		/* doff 24 > 24 held by total length */
	k.b[20 + 12] = 0x70;
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* fragments: MF set, offset set, both */
	ipv4(&k, 5, 5, 0x18, "x");
	put16(k.b + 6, 0x2000);
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	put16(k.b + 6, 0x0001);
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	put16(k.b + 6, 0x3fff);
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	put16(k.b + 6, 0x4000);		/* DF is fine */
	CHECK_INT(parse(&k, k.len, &pi), 0);

	/* not TCP */
	ipv4(&k, 5, 5, 0x18, "x");
	k.b[9] = 17;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[9] = 0;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);

	/* not IP */
	ipv4(&k, 5, 5, 0x18, "x");
	k.b[0] = 0x55;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[0] = 0x05;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[0] = 0xf5;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);

	CHECK_INT(packet_parse(NULL, 0, &pi), -EINVAL);
	CHECK_INT(packet_parse(k.b, 0, &pi), -EINVAL);
	CHECK_INT(packet_parse(k.b, 40, NULL), -EINVAL);
}

static void test_ipv6(void)
{
	static const uint8_t one_dst[] = { 60 };
	static const uint8_t hop_rt_dst[] = { 0, 43, 60 };
	static const uint8_t eight[] = { 0, 60, 60, 60, 60, 60, 60, 43 };
	static const uint8_t nine[] = { 0, 60, 60, 60, 60, 60, 60, 43, 60 };
	static const uint8_t frag[] = { 44 };
	static const uint8_t dst_frag[] = { 60, 44 };
	static const uint8_t hop_late[] = { 60, 0 };
	struct packet_info pi;
	struct pkt k;
	char buf[INET_ADDR_STRLEN];
	size_t i;

	ipv6(&k, NULL, 0, "227 Entering Passive Mode (1,2,3,4,5,6)\r\n");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.src.family, AF_INET6);
	CHECK_STR(inet_addr_format(&pi.src, buf, sizeof(buf)), "2001:db8::1");
	CHECK_STR(inet_addr_format(&pi.dst, buf, sizeof(buf)), "2001:db8::2");
	CHECK_INT(pi.sport, 40000);
	CHECK_INT(pi.dport, 21);
	CHECK_INT(pi.seq, 0xfffffff0u);
	CHECK_INT(pi.ack_flag, 1);
	put32(k.b + 40 + 8, 0xfffffffeu);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.ack, 0xfffffffeu);
	CHECK_INT(pi.seq, 0xfffffff0u);
	CHECK_INT(pi.payload_len, 41);
	CHECK(pi.payload == k.b + 60);

	ipv6(&k, one_dst, 1, "EPSV\r\n");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 6);
	CHECK(pi.payload == k.b + 68);
	CHECK(memcmp(pi.payload, "EPSV\r\n", 6) == 0);

	ipv6(&k, hop_rt_dst, 3, "EPSV\r\n");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK(pi.payload == k.b + 84);

	ipv6(&k, eight, 8, "x");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 1);
	ipv6(&k, nine, 9, "x");
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* a longer extension header: hdr ext len 2 -> 24 bytes */
	ipv6x(&k, one_dst, 1, 2, "QUIT\r\n");
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 6);
	CHECK(pi.payload == k.b + 84);
	k.b[41] = 3;			/* 32 bytes: TCP no longer fits */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	k.b[41] = 255;			/* 2048 bytes: past the end */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	ipv6(&k, frag, 1, "x");
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	ipv6(&k, dst_frag, 2, "x");
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	ipv6(&k, hop_late, 2, "x");
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* other next headers: UDP, ESP, AH, no next header */
	ipv6(&k, NULL, 0, "x");
	k.b[6] = 17;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[6] = 50;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[6] = 51;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);
	k.b[6] = 59;
	CHECK_INT(parse(&k, k.len, &pi), -EPROTONOSUPPORT);

	/* payload length: smaller than buffer (trailing bytes ignored),
	 * larger than buffer, zero (jumbogram) */
	ipv6(&k, NULL, 0, "PASV\r\n");
	CHECK_INT(parse(&k, k.len + 7, &pi), 0);
	CHECK_INT(pi.payload_len, 6);
	put16(k.b + 4, 22);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	CHECK_INT(pi.payload_len, 2);
	put16(k.b + 4, 19);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 4, 27);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	put16(k.b + 4, 0);
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* every truncation, with and without extension headers */
	ipv6(&k, hop_rt_dst, 3, "");
	for (i = 0; i < k.len; i++)
		CHECK(parse(&k, i, &pi) < 0);
	CHECK_INT(parse(&k, k.len, &pi), 0);
	ipv6(&k, NULL, 0, "");
	for (i = 0; i < k.len; i++)
		CHECK_INT(parse(&k, i, &pi), -EINVAL);
	/* extension header claims beyond payload length but inside buffer */
	ipv6(&k, one_dst, 1, "abcdefgh");
	put16(k.b + 4, 8);		/* only the ext header is "inside" */
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);

	/* TCP doff inside an IPv6 packet */
	ipv6(&k, NULL, 0, "PASV\r\n");
	k.b[40 + 12] = 0x40;
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
	k.b[40 + 12] = 0xf0;
	CHECK_INT(parse(&k, k.len, &pi), -EINVAL);
}

int main(void)
{
	test_ipv4();
	test_ipv6();
	return check_report("packet");
}
