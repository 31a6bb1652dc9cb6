/* queue_tcp_mangle: a TCP payload span replaced in a whole IPv4 or IPv6
 * packet with libnetfilter_queue's pktbuff (what a verdict with
 * NFQA_PAYLOAD carries). The kernel sets CHECKSUM_NONE on such a packet
 * (doc/nat.md section 4), so the checksums and the IP length must be right:
 * checked here with an independent one's-complement sum. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "packet.h"
#include "queue.h"
#include "tcp_build.h"

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Whether the IP header checksum (IPv4) and the TCP checksum hold. */
static bool checksums_ok(const uint8_t *p, size_t len)
{
	uint32_t sum;
	size_t hl, tl;

	if ((p[0] >> 4) == 4) {
		hl = (size_t)(p[0] & 15) * 4;
		tl = (size_t)(p[2] << 8 | p[3]);
		if (tl != len || fold(sum16(0, p, hl)) != 0xffff)
			return false;
		sum = sum16(0, p + 12, 8) + 6 + (uint32_t)(len - hl);
	} else {
		hl = 40;
		if ((size_t)(p[4] << 8 | p[5]) != len - hl)
			return false;
		sum = sum16(0, p + 8, 32) + 6 + (uint32_t)(len - hl);
	}
	return fold(sum16(sum, p + hl, len - hl)) == 0xffff;
}

static void mangle(const char *src, const char *dst, const char *rep,
		   size_t off, size_t old_len)
{
	static const char text[] = "150-x\r\n227 Entering Passive Mode (203,0,113,2,195,80).\r\n";
	struct inet_addr a = tcp_build_addr(src), b = tcp_build_addr(dst);
	struct tcp_segment s = { &a, &b, 21, 41000, 1000, 2000,
				 TCP_BUILD_ACK | TCP_BUILD_PSH, text, strlen(text), 0 };
	uint8_t in[512], out[512];
	struct packet_info pi;
	size_t len = tcp_build(in, sizeof(in), &s), out_len = 0;
	char want[256];

	snprintf(want, sizeof(want), "%.*s%s%s", (int)off, text, rep, text + off + old_len);
	CHECK_INT(queue_tcp_mangle(in, len, off, old_len, rep, strlen(rep), out,
				   sizeof(out), &out_len), 0);
	CHECK_INT(out_len, len - old_len + strlen(rep));
	CHECK(checksums_ok(out, out_len));
	CHECK_INT(packet_parse(out, out_len, &pi), 0);
	CHECK(pi.payload_len == strlen(want) &&
	      memcmp(pi.payload, want, pi.payload_len) == 0);
	CHECK(pi.seq == 1000 && pi.ack == 2000 && pi.sport == 21);
	/* outside the payload: refused, nothing written */
	CHECK_INT(queue_tcp_mangle(in, len, strlen(text), 1, "x", 1, out,
				   sizeof(out), &out_len), -EINVAL);
	CHECK_INT(queue_tcp_mangle(in, len, 0, 1, "xx", 2, out, len, &out_len),
		  -EMSGSIZE);
}

int main(void)
{
	static const char same[] = "227 Entering Passive Mode(198,51,100,1,195,80).";
	size_t line = 7, line_len = strlen(same);

	mangle("198.51.100.1", "198.51.100.2", same, line, line_len);
	mangle("2001:db8:1::1", "2001:db8:1::2", same, line, line_len);
	/* a length change: the IP length and checksums follow */
	mangle("198.51.100.1", "198.51.100.2", "227 Entering Passive Mode (198,51,100,1,195,80).",
	       line, line_len);
	mangle("2001:db8:1::1", "2001:db8:1::2", "227 x", line, line_len);
	return check_report("queue_mangle");
}
