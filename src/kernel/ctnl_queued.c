/* ctnl_queued: a queued packet's conntrack (NFQA_CT), read directly.
 *
 * Every packet the kernel queues to ftpgated carries its conntrack's
 * attributes, the body of a ctnetlink conntrack message
 * (__ctnetlink_glue_build: both tuples, zone, ID, status, timeout,
 * protocol info, helper, and more when set). The packet path needs five
 * of them: both tuples, the status, the ID and the TCP state.
 *
 * Why not libnetfilter_conntrack here, when everything else in ctnl goes
 * through it: nfct_new, nfct_payload_parse of every attribute, the
 * getters and nfct_destroy cost about 7,100 instructions per packet
 * natively for the kernel's usual 176 bytes, and made ftpgated's user
 * time per packet higher than the seed's (bench/RESULTS.md, eleventh
 * session). This file reads only the five, checking the size of each
 * attribute it reads as the library does, in about 1,500 (the same
 * callgrind count).
 *
 * Its contract with the library: for every attribute set the library
 * accepts, ctnl_parse_ct_attrs gives what the library's getters give
 * (tests/unit/test_ctnl.c and tests/fuzz/fuzz_ctnl.c check it against
 * the library on the same bytes). Like the library it keeps the last
 * attribute of each type, skips types it does not know, takes the
 * tuples' family from the message's nfgenmsg, and keeps the library's
 * unions (ports with ICMP fields, an address's IPv4 with its IPv6 form,
 * the TCP state with the SCTP and DCCP ones). Where the library ends
 * the process (Debian's 1.0.9: abi_breakage() on an attribute of the
 * wrong size), this reader refuses the set, or, inside the TCP nest,
 * reads no TCP state; it accepts sets with a malformed attribute it
 * does not read. The kernel sends none of these. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctnl.h"

/* How the library checks each attribute type of a nest it reads
 * (mnl_attr_validate): the exact payload size of a fixed-size one, or
 * CTNL_QUEUED_NEST for a nest (empty, or room for an attribute header).
 * 0: not read here, not checked. Indexed by type. */
#define CTNL_QUEUED_NEST 0xff

static const uint8_t ctnl_queued_top[CTA_MAX + 1] = {
	[CTA_TUPLE_ORIG] = CTNL_QUEUED_NEST,
	[CTA_TUPLE_REPLY] = CTNL_QUEUED_NEST,
	[CTA_PROTOINFO] = CTNL_QUEUED_NEST,
	[CTA_STATUS] = 4,
	[CTA_ID] = 4,
};

static const uint8_t ctnl_queued_tuple[CTA_TUPLE_MAX + 1] = {
	[CTA_TUPLE_IP] = CTNL_QUEUED_NEST,
	[CTA_TUPLE_PROTO] = CTNL_QUEUED_NEST,
};

static const uint8_t ctnl_queued_ip[CTA_IP_MAX + 1] = {
	[CTA_IP_V4_SRC] = 4,
	[CTA_IP_V4_DST] = 4,
	[CTA_IP_V6_SRC] = 16,
	[CTA_IP_V6_DST] = 16,
};

static const uint8_t ctnl_queued_proto[CTA_PROTO_MAX + 1] = {
	[CTA_PROTO_NUM] = 1,
	[CTA_PROTO_SRC_PORT] = 2,
	[CTA_PROTO_DST_PORT] = 2,
	[CTA_PROTO_ICMP_ID] = 2,
	[CTA_PROTO_ICMP_TYPE] = 1,
	[CTA_PROTO_ICMP_CODE] = 1,
	[CTA_PROTO_ICMPV6_ID] = 2,
	[CTA_PROTO_ICMPV6_TYPE] = 1,
	[CTA_PROTO_ICMPV6_CODE] = 1,
};

static const uint8_t ctnl_queued_protoinfo[CTA_PROTOINFO_MAX + 1] = {
	[CTA_PROTOINFO_TCP] = CTNL_QUEUED_NEST,
	[CTA_PROTOINFO_DCCP] = CTNL_QUEUED_NEST,
	[CTA_PROTOINFO_SCTP] = CTNL_QUEUED_NEST,
};

/* The state in an SCTP or a DCCP nest: attribute 1 of both, one byte. */
static const uint8_t ctnl_queued_state_only[2] = { [1] = 1 };

/* All of the TCP nest's types: when any of them has the wrong size, the
 * library ends the process and this reader reads no TCP state. */
static const uint8_t ctnl_queued_tcp[CTA_PROTOINFO_TCP_MAX + 1] = {
	[CTA_PROTOINFO_TCP_STATE] = 1,
	[CTA_PROTOINFO_TCP_WSCALE_ORIGINAL] = 1,
	[CTA_PROTOINFO_TCP_WSCALE_REPLY] = 1,
	[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL] = sizeof(struct nf_ct_tcp_flags),
	[CTA_PROTOINFO_TCP_FLAGS_REPLY] = sizeof(struct nf_ct_tcp_flags),
};

/* One nest being read: the last attribute of each type up to max, as
 * the library keeps it. */
struct ctnl_queued_nest {
	const struct nlattr **tb;
	uint16_t max;
	const uint8_t *rule;		/* max + 1 entries */
};

#define CTNL_QUEUED_NEST_OF(tb, rule) { (tb), sizeof(rule) - 1, (rule) }

static bool ctnl_queued_valid(const struct nlattr *a, uint8_t rule)
{
	uint16_t len = (uint16_t)(a->nla_len - MNL_ATTR_HDRLEN);

	if (rule == CTNL_QUEUED_NEST)
		return len == 0 || len >= MNL_ATTR_HDRLEN;
	return rule == 0 || len == rule;
}

/* Read the attributes in payload[0..len) into n->tb, walking them as
 * libmnl does (mnl_attr_ok, mnl_attr_next) without a call per
 * attribute: true, or false when one breaks its rule. */
static bool ctnl_queued_read(const void *payload, int len, struct ctnl_queued_nest *n)
{
	const struct nlattr *a = payload;

	memset(n->tb, 0, (n->max + 1u) * sizeof(n->tb[0]));
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len) {
		uint16_t type = a->nla_type & NLA_TYPE_MASK;

		if (type <= n->max) {
			if (!ctnl_queued_valid(a, n->rule[type]))
				return false;
			n->tb[type] = a;
		}
		len -= (int)MNL_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)a + MNL_ALIGN(a->nla_len));
	}
	return true;
}

/* ctnl_queued_read of a nest's payload. */
static bool ctnl_queued_read_nest(const struct nlattr *nest, struct ctnl_queued_nest *n)
{
	return ctnl_queued_read((const char *)nest + MNL_ATTR_HDRLEN,
				nest->nla_len - MNL_ATTR_HDRLEN, n);
}

/* A tuple's addresses in family into *f: 0, -EINVAL when malformed,
 * -ENOENT when one is missing. */
static int ctnl_queued_ip_get(const struct nlattr *ip_nest, int family,
			      struct flow *f)
{
	const struct nlattr *tb[CTA_IP_MAX + 1];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_ip);
	bool v6 = family == AF_INET6;
	const struct nlattr *src, *dst;

	if (!ctnl_queued_read_nest(ip_nest, &n))
		return -EINVAL;
	src = tb[v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC];
	dst = tb[v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST];
	if (src == NULL || dst == NULL || (family != AF_INET && family != AF_INET6))
		return -ENOENT;
	f->src.family = f->dst.family = family;
	memcpy(v6 ? (void *)&f->src.v6 : (void *)&f->src.v4, mnl_attr_get_payload(src),
	       v6 ? sizeof(f->src.v6) : sizeof(f->src.v4));
	memcpy(v6 ? (void *)&f->dst.v6 : (void *)&f->dst.v4, mnl_attr_get_payload(dst),
	       v6 ? sizeof(f->dst.v6) : sizeof(f->dst.v4));
	/* The library keeps an address's IPv4 and IPv6 forms in one place
	 * (a union) and writes the IPv6 one last: in an IPv4 tuple, an IPv6
	 * attribute's first four bytes win (found by review). */
	if (!v6 && tb[CTA_IP_V6_SRC] != NULL)
		memcpy(&f->src.v4, mnl_attr_get_payload(tb[CTA_IP_V6_SRC]), sizeof(f->src.v4));
	if (!v6 && tb[CTA_IP_V6_DST] != NULL)
		memcpy(&f->dst.v4, mnl_attr_get_payload(tb[CTA_IP_V6_DST]), sizeof(f->dst.v4));
	return 0;
}

/* A tuple's ports as the library keeps them: each port shares its
 * place with the ICMP fields (a union), written in the library's order,
 * so an ICMP ID overwrites the source port and an ICMP type and code the
 * two bytes of the destination port. A port the tuple does not carry
 * reads as 0, whatever overwrote its place. (The kernel sends ICMP fields
 * only in ICMP tuples; fuzz_ctnl found the difference.) */
static void ctnl_queued_ports(const struct nlattr *const *tb, struct flow *f)
{
	static const uint16_t src[] = { CTA_PROTO_SRC_PORT, CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID };
	/* where each writes in the destination port's two bytes */
	static const struct { uint16_t type; uint8_t at, len; } dst[] = {
		{ CTA_PROTO_DST_PORT, 0, 2 },
		{ CTA_PROTO_ICMP_TYPE, 0, 1 }, { CTA_PROTO_ICMP_CODE, 1, 1 },
		{ CTA_PROTO_ICMPV6_TYPE, 0, 1 }, { CTA_PROTO_ICMPV6_CODE, 1, 1 },
	};
	uint16_t sport = 0;			/* network order */
	uint8_t dport[2] = { 0, 0 };		/* network order */
	size_t i;

	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		if (tb[src[i]] != NULL)
			sport = mnl_attr_get_u16(tb[src[i]]);
	for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
		if (tb[dst[i].type] != NULL)
			memcpy(dport + dst[i].at, mnl_attr_get_payload(tb[dst[i].type]), dst[i].len);
	if (tb[CTA_PROTO_SRC_PORT] != NULL)
		f->sport = ntohs(sport);
	if (tb[CTA_PROTO_DST_PORT] != NULL)
		f->dport = (uint16_t)(dport[0] << 8 | dport[1]);
}

/* A tuple's protocol and ports (0 when absent): false when malformed. */
static bool ctnl_queued_proto_get(const struct nlattr *proto_nest, struct flow *f,
				  uint8_t *proto)
{
	const struct nlattr *tb[CTA_PROTO_MAX + 1];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_proto);

	if (!ctnl_queued_read_nest(proto_nest, &n))
		return false;
	*proto = tb[CTA_PROTO_NUM] != NULL ? mnl_attr_get_u8(tb[CTA_PROTO_NUM]) : 0;
	ctnl_queued_ports(tb, f);
	return true;
}

/* One tuple nest into *f and *proto: 0; -EINVAL when malformed (the
 * library refuses the whole set), -ENOENT when an address is missing. */
static int ctnl_queued_tuple_get(const struct nlattr *nest, int family,
				 struct flow *f, uint8_t *proto)
{
	const struct nlattr *tb[CTA_TUPLE_MAX + 1];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_tuple);
	int rc = -ENOENT;

	memset(f, 0, sizeof(*f));
	*proto = 0;
	if (!ctnl_queued_read_nest(nest, &n))
		return -EINVAL;
	if (tb[CTA_TUPLE_IP] != NULL && (rc = ctnl_queued_ip_get(tb[CTA_TUPLE_IP], family, f)) == -EINVAL)
		return rc;
	if (tb[CTA_TUPLE_PROTO] != NULL && !ctnl_queued_proto_get(tb[CTA_TUPLE_PROTO], f, proto))
		return -EINVAL;
	return rc;
}

/* An SCTP or DCCP nest's state over *state, as the library writes it. */
static void ctnl_queued_state_over(const struct nlattr *nest, int *state)
{
	const struct nlattr *tb[2];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_state_only);

	if (nest != NULL && ctnl_queued_read_nest(nest, &n) && tb[1] != NULL)
		*state = mnl_attr_get_u8(tb[1]);
}

/* The TCP state in a CTA_PROTOINFO nest, -1 when not sent (or when the
 * TCP nest is malformed); false when the nest itself is malformed. The
 * library keeps the TCP, SCTP and DCCP states in one place (a union),
 * written in that order: a TCP state sent is overwritten by an SCTP or
 * DCCP nest's (found by review). */
static bool ctnl_queued_tcp_state(const struct nlattr *protoinfo, int *state)
{
	const struct nlattr *tb[CTA_PROTOINFO_MAX + 1];
	const struct nlattr *tcp[CTA_PROTOINFO_TCP_MAX + 1];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_protoinfo);
	struct ctnl_queued_nest t = CTNL_QUEUED_NEST_OF(tcp, ctnl_queued_tcp);

	*state = -1;
	if (!ctnl_queued_read_nest(protoinfo, &n))
		return false;
	if (tb[CTA_PROTOINFO_TCP] == NULL || !ctnl_queued_read_nest(tb[CTA_PROTOINFO_TCP], &t) ||
	    tcp[CTA_PROTOINFO_TCP_STATE] == NULL)
		return true;
	*state = mnl_attr_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
	ctnl_queued_state_over(tb[CTA_PROTOINFO_SCTP], state);
	ctnl_queued_state_over(tb[CTA_PROTOINFO_DCCP], state);
	return true;
}

/* Whether a TCP conntrack state is past ESTABLISHED: a FIN or RST seen. */
static bool ctnl_queued_closing(int state)
{
	return state == TCP_CONNTRACK_FIN_WAIT || state == TCP_CONNTRACK_CLOSE_WAIT ||
	       state == TCP_CONNTRACK_LAST_ACK || state == TCP_CONNTRACK_TIME_WAIT ||
	       state == TCP_CONNTRACK_CLOSE;
}

int ctnl_parse_ct_attrs(const void *payload, size_t len, int family,
			struct ctnl_ct *out)
{
	const struct nlattr *tb[CTA_MAX + 1];
	struct ctnl_queued_nest n = CTNL_QUEUED_NEST_OF(tb, ctnl_queued_top);
	uint8_t reply_proto;
	int state = -1, rc;

	memset(out, 0, sizeof(*out));
	if ((len > INT_MAX || !ctnl_queued_read(payload, (int)len, &n)) || tb[CTA_TUPLE_ORIG] == NULL)
		return -EINVAL;
	rc = tb[CTA_TUPLE_REPLY] != NULL ?
	     ctnl_queued_tuple_get(tb[CTA_TUPLE_REPLY], family, &out->reply, &reply_proto) : -ENOENT;
	out->has_reply = rc == 0;
	if (rc == -EINVAL ||
	    ctnl_queued_tuple_get(tb[CTA_TUPLE_ORIG], family, &out->orig, &out->proto) < 0 ||
	    (tb[CTA_PROTOINFO] != NULL && !ctnl_queued_tcp_state(tb[CTA_PROTOINFO], &state))) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	if (!out->has_reply)
		memset(&out->reply, 0, sizeof(out->reply));
	out->status = tb[CTA_STATUS] != NULL ? ntohl(mnl_attr_get_u32(tb[CTA_STATUS])) : 0;
	out->id = tb[CTA_ID] != NULL ? ntohl(mnl_attr_get_u32(tb[CTA_ID])) : 0;
	out->expected = out->status & IPS_EXPECTED;
	out->closing = out->proto == IPPROTO_TCP && ctnl_queued_closing(state);
	return 0;
}
