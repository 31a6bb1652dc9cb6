#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_build.h"

static void tcp_build_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void tcp_build_put32(uint8_t *p, uint32_t v)
{
	tcp_build_put16(p, (uint16_t)(v >> 16));
	tcp_build_put16(p + 2, (uint16_t)v);
}

/* The IP header; returns its length. */
static size_t tcp_build_ip(uint8_t *p, const struct tcp_segment *s, size_t l4len)
{
	if (s->src->family == AF_INET) {
		p[0] = 0x45;
		tcp_build_put16(p + 2, (uint16_t)(20 + l4len));
		p[8] = 64;
		p[9] = 6;		/* TCP */
		memcpy(p + 12, &s->src->v4, 4);
		memcpy(p + 16, &s->dst->v4, 4);
		return 20;
	}
	p[0] = 0x60;
	tcp_build_put16(p + 4, (uint16_t)l4len);
	p[6] = 6;			/* next header: TCP */
	p[7] = 64;
	memcpy(p + 8, &s->src->v6, 16);
	memcpy(p + 24, &s->dst->v6, 16);
	return 40;
}

size_t tcp_build(uint8_t *buf, size_t cap, const struct tcp_segment *s)
{
	size_t iplen, total;
	uint8_t *t;

	if (s->src->family != s->dst->family ||
	    (s->src->family != AF_INET && s->src->family != AF_INET6))
		return 0;
	iplen = s->src->family == AF_INET ? 20 : 40;
	total = iplen + 20 + s->len;
	if (total > cap || total > 65535)
		return 0;
	memset(buf, 0, iplen + 20);
	tcp_build_ip(buf, s, 20 + s->len);
	t = buf + iplen;
	tcp_build_put16(t, s->sport);
	tcp_build_put16(t + 2, s->dport);
	tcp_build_put32(t + 4, s->seq);
	tcp_build_put32(t + 8, s->ack);
	t[12] = 5 << 4;
	t[13] = s->flags;
	tcp_build_put16(t + 14, 65535);
	tcp_build_put16(t + 18, s->urg_ptr);
	if (s->len)
		memcpy(t + 20, s->payload, s->len);
	return total;
}

struct inet_addr tcp_build_addr(const char *text)
{
	struct inet_addr a;

	if (inet_addr_parse(text, &a) < 0) {
		fprintf(stderr, "tcp_build_addr: not an address: %s\n", text);
		abort();
	}
	return a;
}
