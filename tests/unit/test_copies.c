/* test_copies: copies_parse_msg on NFLOG packet messages built by hand
 * with libmnl in the shape nfnetlink_log sends them (__build_packet_message:
 * NFULA_PACKET_HDR, the interfaces, NFULA_SEQ, NFULA_CT built by the
 * ctnetlink glue with NFULA_CT_INFO after it, NFULA_PAYLOAD last; every
 * value in network byte order), and malformed ones. No kernel involved. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "check.h"
#include "copies.h"
#include "flow.h"
#include "queue.h"
#include "tcp_build.h"

#define GROUP 7

static char buf[8192] __attribute__((aligned(8)));
/* Where the last message's NFULA_PAYLOAD bytes start. */
static const uint8_t *payload_at;

static struct flow tuple(const char *src, uint16_t sport, const char *dst,
			 uint16_t dport)
{
	struct flow t = { .src = tcp_build_addr(src), .dst = tcp_build_addr(dst),
			  .sport = sport, .dport = dport };

	return t;
}

/* A TCP segment of f carrying an FTP command, into pkt (room for cap). */
static size_t segment(const struct flow *f, uint8_t *pkt, size_t cap)
{
	static const char cmd[] = "PORT 198,51,100,2,195,80\r\n";
	struct tcp_segment s = {
		.src = &f->src, .dst = &f->dst, .sport = f->sport,
		.dport = f->dport, .seq = 1000, .ack = 2000,
		.flags = TCP_BUILD_ACK | TCP_BUILD_PSH,
		.payload = cmd, .len = sizeof(cmd) - 1,
	};
	size_t n = tcp_build(pkt, cap, &s);

	if (n == 0)
		abort();
	return n;
}

/* An empty message of subsystem and type, nfgenmsg in family, for group. */
static struct nlmsghdr *msg(uint16_t subsys, uint16_t type, uint8_t family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(GROUP);
	return nlh;
}

/* A tuple nest of t, TCP (ctnetlink_dump_tuples). */
static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const struct flow *t)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	struct nlattr *proto;

	if (t->src.family == AF_INET) {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, &t->src.v4);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, &t->dst.v4);
	} else {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, &t->src.v6);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, &t->dst.v6);
	}
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, n);
}

/* What one copy message carries. */
struct copy_spec {
	uint8_t family;			/* nfgenmsg */
	uint32_t indev, outdev;		/* 0: not sent */
	bool with_seq;
	uint32_t seq;
	const struct flow *orig;	/* NULL: no NFULA_CT (nor CT_INFO) */
	const struct flow *reply;	/* NULL: no CTA_TUPLE_REPLY */
	uint32_t status;		/* 0: no CTA_STATUS */
	uint32_t ct_id;			/* 0: no CTA_ID */
	int ct_info;			/* -1: no NFULA_CT_INFO */
	const uint8_t *payload;		/* NULL: no NFULA_PAYLOAD */
	size_t payload_len;
};

/* The message of s, in the kernel's order (__build_packet_message). */
static struct nlmsghdr *copy_msg(const struct copy_spec *s)
{
	struct nlmsghdr *nlh = msg(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, s->family);
	struct nfulnl_msg_packet_hdr ph = {
		.hw_protocol = htons(s->family == AF_INET6 ? 0x86dd : 0x0800),
		.hook = 4,	/* NF_INET_POST_ROUTING */
	};

	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	if (s->indev != 0)
		mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(s->indev));
	if (s->outdev != 0)
		mnl_attr_put_u32(nlh, NFULA_IFINDEX_OUTDEV, htonl(s->outdev));
	mnl_attr_put_u32(nlh, NFULA_MARK, htonl(0));
	if (s->with_seq)
		mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(s->seq));
	if (s->orig != NULL) {
		/* ctnetlink_glue_build */
		struct nlattr *ct = mnl_attr_nest_start(nlh, NFULA_CT);

		put_tuple(nlh, CTA_TUPLE_ORIG, s->orig);
		if (s->reply != NULL)
			put_tuple(nlh, CTA_TUPLE_REPLY, s->reply);
		if (s->status != 0)
			mnl_attr_put_u32(nlh, CTA_STATUS, htonl(s->status));
		mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(431999));
		if (s->ct_id != 0)
			mnl_attr_put_u32(nlh, CTA_ID, htonl(s->ct_id));
		mnl_attr_nest_end(nlh, ct);
		if (s->ct_info >= 0)
			mnl_attr_put_u32(nlh, NFULA_CT_INFO, htonl((uint32_t)s->ct_info));
	}
	payload_at = NULL;
	if (s->payload != NULL) {
		payload_at = (const uint8_t *)mnl_nlmsg_get_payload_tail(nlh) + MNL_ATTR_HDRLEN;
		mnl_attr_put(nlh, NFULA_PAYLOAD, s->payload_len, s->payload);
	}
	return nlh;
}

/* The message as copies_parse_msg is handed it: alone in a heap block
 * of exactly nlmsg_len bytes, so that a read past it shows under ASan. */
static uint8_t *heap;

/* copies_parse_msg on a copy of nlh in heap, with *pkt, *seq and
 * *has_seq dirtied first: what it leaves is its own. pkt->data, when it
 * points into the copy, is moved to the same place in buf. */
static int parse(const struct nlmsghdr *nlh, struct queue_packet *pkt,
		 uint32_t *seq, bool *has_seq)
{
	size_t len = nlh->nlmsg_len;
	int rc;

	free(heap);
	heap = malloc(len);
	if (heap == NULL)
		abort();
	memcpy(heap, nlh, len);
	memset(pkt, 0xa5, sizeof(*pkt));
	*seq = 0xdeadbeef;
	*has_seq = true;
	rc = copies_parse_msg((const struct nlmsghdr *)heap, pkt, seq, has_seq);
	if (pkt->data != NULL) {
		/* inside the message */
		CHECK(pkt->data >= heap && pkt->data + pkt->len <= heap + len);
		pkt->data = (const uint8_t *)buf + (pkt->data - heap);
	}
	return rc;
}

/* Nothing read: pkt zeroed, no sequence number. */
static void check_untouched(const struct queue_packet *pkt, bool has_seq)
{
	struct queue_packet zero;

	memset(&zero, 0, sizeof(zero));
	CHECK(!has_seq);
	CHECK(!pkt->copy);
	CHECK(pkt->data == NULL);
	CHECK_INT(pkt->len, 0);
	CHECK(!pkt->has_conntrack);
	CHECK_INT(pkt->indev, 0);
	CHECK(memcmp(pkt, &zero, sizeof(zero)) == 0);
}

/* 1. A client's IPv4 packet of a NATed control connection, as the capture
 * ruleset logs it at POSTROUTING. */
static void test_ipv4_copy(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "198.51.100.1", 21);
	struct flow reply = tuple("203.0.113.2", 21, "203.0.113.1", 61000);
	uint8_t pkt_bytes[256];
	size_t n = segment(&orig, pkt_bytes, sizeof(pkt_bytes));
	struct copy_spec s = {
		.family = AF_INET, .indev = 3, .outdev = 5,
		.with_seq = true, .seq = 0x01020304,
		.orig = &orig, .reply = &reply,
		.status = IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_DST_NAT | IPS_SRC_NAT,
		.ct_id = 0x9e3779b9, .ct_info = IP_CT_ESTABLISHED,
		.payload = pkt_bytes, .payload_len = n,
	};
	struct nlmsghdr *nlh = copy_msg(&s);
	struct queue_packet pkt;
	uint32_t seq;
	bool has_seq;

	CHECK_INT(n, 20 + 20 + 26);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
	CHECK(pkt.copy);
	CHECK_INT(pkt.packet_id, 0);
	CHECK(payload_at != NULL && pkt.data == payload_at);
	CHECK_INT(pkt.len, n);
	CHECK(pkt.data != NULL && memcmp(pkt.data, pkt_bytes, n) == 0);
	CHECK(!pkt.truncated);
	CHECK(pkt.has_conntrack);
	CHECK_INT(pkt.orig.src.family, AF_INET);
	CHECK(flow_equal(&pkt.orig, &orig));
	CHECK_INT(ntohl(pkt.orig.src.v4.s_addr), 0xc6336402);	/* 198.51.100.2 */
	CHECK_INT(ntohl(pkt.orig.dst.v4.s_addr), 0xc6336401);	/* 198.51.100.1 */
	CHECK_INT(pkt.orig.sport, 41000);
	CHECK_INT(pkt.orig.dport, 21);
	CHECK(pkt.has_reply);
	CHECK(flow_equal(&pkt.reply, &reply));
	CHECK_INT(pkt.ct_status, IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_DST_NAT | IPS_SRC_NAT);
	CHECK_INT(pkt.l4proto, IPPROTO_TCP);
	CHECK(!pkt.expected);
	CHECK(!pkt.closing);
	CHECK_INT(pkt.conntrack_id, 0x9e3779b9);
	CHECK_INT(pkt.conntrack_info, IP_CT_ESTABLISHED);
	CHECK(!pkt.reply_direction);
	CHECK_INT(pkt.indev, 3);
	CHECK_INT(pkt.outdev, 5);
	CHECK(has_seq);
	CHECK_INT(seq, 0x01020304);

	/* the same connection's packet in the reply direction */
	s.ct_info = IP_CT_ESTABLISHED_REPLY;
	nlh = copy_msg(&s);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
	CHECK(pkt.has_conntrack);
	CHECK_INT(pkt.conntrack_info, IP_CT_ESTABLISHED_REPLY);
	CHECK(pkt.reply_direction);

	/* a data connection's first packet: NEW, expected; only the input
	 * device known (to the gateway itself), no reply tuple sent */
	s.ct_info = IP_CT_RELATED;
	s.status = IPS_EXPECTED;
	s.reply = NULL;
	s.outdev = 0;
	s.seq = 0xfffffffe;
	nlh = copy_msg(&s);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
	CHECK(pkt.has_conntrack);
	CHECK_INT(pkt.conntrack_info, IP_CT_RELATED);
	CHECK(!pkt.reply_direction);
	CHECK(pkt.expected);
	CHECK(!pkt.has_reply);
	CHECK_INT(pkt.indev, 3);
	CHECK_INT(pkt.outdev, 0);
	CHECK(has_seq);
	CHECK_INT(seq, 0xfffffffe);
}

/* 2. An IPv6 copy: the tuple read in the nfgenmsg's family. */
static void test_ipv6_copy(void)
{
	struct flow orig = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	struct flow reply = tuple("2001:db8:2::2", 21, "2001:db8:1::2", 41000);
	uint8_t pkt_bytes[256];
	size_t n = segment(&orig, pkt_bytes, sizeof(pkt_bytes));
	struct copy_spec s = {
		.family = AF_INET6, .indev = 2, .outdev = 4,
		.with_seq = true, .seq = 77,
		.orig = &orig, .reply = &reply, .status = IPS_CONFIRMED,
		.ct_id = 12345, .ct_info = IP_CT_ESTABLISHED_REPLY,
		.payload = pkt_bytes, .payload_len = n,
	};
	struct nlmsghdr *nlh = copy_msg(&s);
	struct in6_addr want_src, want_dst;
	struct queue_packet pkt;
	uint32_t seq;
	bool has_seq;

	inet_pton(AF_INET6, "2001:db8:1::2", &want_src);
	inet_pton(AF_INET6, "2001:db8:2::2", &want_dst);
	CHECK_INT(n, 40 + 20 + 26);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
	CHECK(pkt.copy);
	CHECK(pkt.data == payload_at);
	CHECK_INT(pkt.len, n);
	CHECK(!pkt.truncated);
	CHECK(pkt.has_conntrack);
	CHECK_INT(pkt.orig.src.family, AF_INET6);
	CHECK_INT(pkt.orig.dst.family, AF_INET6);
	CHECK(memcmp(&pkt.orig.src.v6, &want_src, 16) == 0);
	CHECK(memcmp(&pkt.orig.dst.v6, &want_dst, 16) == 0);
	CHECK(flow_equal(&pkt.orig, &orig));
	CHECK(flow_equal(&pkt.reply, &reply));
	CHECK_INT(pkt.conntrack_id, 12345);
	CHECK(pkt.reply_direction);
	CHECK_INT(pkt.indev, 2);
	CHECK_INT(pkt.outdev, 4);
	CHECK(has_seq);
	CHECK_INT(seq, 77);

	/* an IPv4 tuple in an IPv6 message: no address of its family, so no
	 * conntrack; the copy itself is still read */
	{
		struct flow v4 = tuple("198.51.100.2", 41000, "203.0.113.2", 21);

		s.orig = &v4;
		s.reply = NULL;
		nlh = copy_msg(&s);
		CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
		CHECK(pkt.copy);
		CHECK(!pkt.has_conntrack);
		CHECK_INT(pkt.orig.src.family, 0);
		CHECK_INT(pkt.len, n);
	}
}

/* 3. A copy cut short: the IP header's length says more than the copy
 * holds. Exactly as long is not truncated; one byte more is. */
static void test_truncated(void)
{
	struct flow f4 = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	struct flow f6 = tuple("2001:db8:1::2", 41000, "2001:db8:2::2", 21);
	uint8_t p[256];
	size_t n;
	struct copy_spec s = { .family = AF_INET, .orig = &f4, .ct_id = 1,
			       .ct_info = IP_CT_ESTABLISHED, .payload = p };
	struct queue_packet pkt;
	uint32_t seq;
	bool has_seq;

	/* IPv4: total length */
	n = segment(&f4, p, sizeof(p));
	s.payload_len = n;
	CHECK_INT(p[2] << 8 | p[3], n);
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(!pkt.truncated);
	p[3]++;				/* n + 1 */
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.truncated);
	CHECK_INT(pkt.len, n);
	CHECK(pkt.copy);
	CHECK(pkt.has_conntrack);
	p[2] = 0x05;			/* 1500 + a bit: a full-size packet cut */
	p[3] = 0xdc;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.truncated);
	/* the copy holds only the first 30 bytes of a whole 66-byte packet */
	n = segment(&f4, p, sizeof(p));
	s.payload_len = 30;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.truncated);
	CHECK_INT(pkt.len, 30);
	/* shorter than the length (padding after the packet): not cut */
	n = segment(&f4, p, sizeof(p));
	s.payload_len = n + 6;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(!pkt.truncated);

	/* IPv6: 40 + payload length */
	s.family = AF_INET6;
	s.orig = &f6;
	n = segment(&f6, p, sizeof(p));
	s.payload_len = n;
	CHECK_INT(40 + (p[4] << 8 | p[5]), n);
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(!pkt.truncated);
	p[5]++;				/* n + 1 */
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.truncated);
	CHECK_INT(pkt.len, n);
	CHECK(pkt.has_conntrack);
	n = segment(&f6, p, sizeof(p));
	s.payload_len = 50;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.truncated);
	CHECK_INT(pkt.len, 50);
}

/* 4. Conntrack information missing or half there. */
static void test_no_conntrack(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	uint8_t p[256];
	size_t n = segment(&orig, p, sizeof(p));
	struct copy_spec s = { .family = AF_INET, .indev = 3, .with_seq = true,
			       .seq = 9, .payload = p, .payload_len = n,
			       .ct_info = IP_CT_ESTABLISHED, .ct_id = 5 };
	struct queue_packet pkt;
	uint32_t seq;
	bool has_seq;

	/* no NFULA_CT (an untracked packet) */
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.copy);
	CHECK(!pkt.has_conntrack);
	CHECK_INT(pkt.conntrack_id, 0);
	CHECK_INT(pkt.orig.src.family, 0);
	CHECK_INT(pkt.len, n);
	CHECK_INT(pkt.indev, 3);
	CHECK(has_seq);
	CHECK_INT(seq, 9);

	/* NFULA_CT without NFULA_CT_INFO */
	s.orig = &orig;
	s.ct_info = -1;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(pkt.copy);
	CHECK(!pkt.has_conntrack);
	CHECK(!pkt.reply_direction);
	CHECK_INT(pkt.conntrack_info, 0);

	/* NFULA_CT whose tuple is malformed (a 5-byte address): no
	 * conntrack, nothing of it half-read; the copy is still read */
	{
		static const uint8_t five[5] = { 1, 2, 3, 4, 5 };
		struct nlmsghdr *nlh = msg(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, AF_INET);
		struct nlattr *ct, *t, *ip;

		ct = mnl_attr_nest_start(nlh, NFULA_CT);
		t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
		ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 5, five);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, five);
		mnl_attr_nest_end(nlh, ip);
		mnl_attr_nest_end(nlh, t);
		mnl_attr_nest_end(nlh, ct);
		mnl_attr_put_u32(nlh, NFULA_CT_INFO, htonl(IP_CT_ESTABLISHED));
		mnl_attr_put(nlh, NFULA_PAYLOAD, n, p);
		CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), 0);
		CHECK(pkt.copy);
		CHECK(!pkt.has_conntrack);
		CHECK_INT(pkt.orig.src.family, 0);
		CHECK_INT(pkt.conntrack_id, 0);
		CHECK_INT(pkt.len, n);
	}
}

/* 5. Messages that are not a well-formed packet copy. */
static void test_malformed(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	uint8_t p[256];
	size_t n = segment(&orig, p, sizeof(p));
	struct copy_spec s = { .family = AF_INET, .with_seq = true, .seq = 9,
			       .orig = &orig, .ct_info = IP_CT_ESTABLISHED,
			       .ct_id = 5, .payload = p, .payload_len = n };
	struct queue_packet pkt;
	struct nlmsghdr *nlh;
	uint32_t seq;
	bool has_seq;

	/* a queued packet (NFQUEUE), with the same attributes' numbers */
	nlh = copy_msg(&s);
	nlh->nlmsg_type = NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET;
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	/* NFLOG, but a config message */
	nlh = copy_msg(&s);
	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	/* a conntrack event */
	nlh = copy_msg(&s);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | NFULNL_MSG_PACKET;
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);

	/* no NFULA_PAYLOAD */
	s.payload = NULL;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	s.payload = p;

	/* too short for the nfgenmsg header: none, then 3 of its 4 bytes */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	nlh->nlmsg_len += 3;
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	/* exactly the nfgenmsg and nothing after it: no payload */
	nlh = msg(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, AF_INET);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);

	/* NFULA_SEQ of 2 bytes: libnetfilter_log's nflog_nlmsg_parse
	 * refuses the message (it validates NFULA_SEQ as a u32), so nothing
	 * is read: no sequence number, and no crash */
	s.with_seq = false;
	s.payload = NULL;	/* appended after the hand-made attribute */
	nlh = copy_msg(&s);
	mnl_attr_put_u16(nlh, NFULA_SEQ, htons(9));
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, p);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	CHECK_INT(seq, 0xdeadbeef);
	/* NFULA_IFINDEX_INDEV of 2 bytes: likewise, indev 0 */
	nlh = msg(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, AF_INET);
	mnl_attr_put_u16(nlh, NFULA_IFINDEX_INDEV, htons(3));
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, p);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
	CHECK_INT(pkt.indev, 0);
	/* NFULA_IFINDEX_OUTDEV of 2 bytes: outdev 0 */
	nlh = msg(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, AF_INET);
	mnl_attr_put_u16(nlh, NFULA_IFINDEX_OUTDEV, htons(3));
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, p);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	CHECK_INT(pkt.outdev, 0);

	/* NFULA_CT_INFO of 2 bytes after a good NFULA_CT: no conntrack */
	s.ct_info = -1;
	nlh = copy_msg(&s);
	mnl_attr_put_u16(nlh, NFULA_CT_INFO, htons(IP_CT_ESTABLISHED_REPLY));
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, p);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	CHECK(!pkt.has_conntrack);
	CHECK(!pkt.reply_direction);
	check_untouched(&pkt, has_seq);

	/* a last attribute cut short (the message ends 5 bytes before the
	 * payload's end: libmnl's walk rounds the message's end up to 4
	 * bytes, so a cut must cross an alignment boundary to show): the walk
	 * ends before it; here it is the payload */
	s.payload = p;
	s.ct_info = IP_CT_ESTABLISHED;
	s.with_seq = true;
	nlh = copy_msg(&s);
	nlh->nlmsg_len = (uint32_t)(payload_at - (const uint8_t *)buf + n - 5);
	CHECK_INT(parse(nlh, &pkt, &seq, &has_seq), -EINVAL);
	check_untouched(&pkt, has_seq);
}

/* 6. No NFULA_SEQ (a ruleset logging to a group bound without the
 * sequence flag): no sequence number, the rest read. */
static void test_no_seq(void)
{
	struct flow orig = tuple("198.51.100.2", 41000, "203.0.113.2", 21);
	uint8_t p[256];
	size_t n = segment(&orig, p, sizeof(p));
	struct copy_spec s = { .family = AF_INET, .indev = 8, .outdev = 9,
			       .orig = &orig, .ct_info = IP_CT_ESTABLISHED,
			       .ct_id = 5, .payload = p, .payload_len = n };
	struct queue_packet pkt;
	uint32_t seq;
	bool has_seq;

	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(!has_seq);
	CHECK(pkt.copy);
	CHECK(pkt.has_conntrack);
	CHECK_INT(pkt.conntrack_id, 5);
	CHECK_INT(pkt.indev, 8);
	CHECK_INT(pkt.outdev, 9);
	/* sequence number 0 is one */
	s.with_seq = true;
	s.seq = 0;
	CHECK_INT(parse(copy_msg(&s), &pkt, &seq, &has_seq), 0);
	CHECK(has_seq);
	CHECK_INT(seq, 0);
}

int main(void)
{
	test_ipv4_copy();
	test_ipv6_copy();
	test_truncated();
	test_no_conntrack();
	test_malformed();
	test_no_seq();
	free(heap);
	return check_report("copies");
}
