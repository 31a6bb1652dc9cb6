/* ctnl: ctnetlink (nfnetlink subsystems CTNETLINK and CTNETLINK_EXP)
 * through libnetfilter_conntrack: its messages read into plain structs,
 * our tuples written into its objects, and a small synchronous request
 * socket for queries. libnetfilter_conntrack builds and parses every
 * attribute; this module only converts. The parse path is unit tested on
 * messages the library builds and fuzzed (tests/fuzz/fuzz_ctnl.c). */
#ifndef FTPGATE_CTNL_H
#define FTPGATE_CTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "flow.h"

struct nf_conntrack;

#define CTNL_HELPER_MAX 16		/* NF_CT_HELPER_NAME_LEN */

enum ctnl_kind {
	CTNL_OTHER = 0,
	CTNL_CT_NEW,			/* IPCTNL_MSG_CT_NEW (event or dump) */
	CTNL_CT_DELETE,
	CTNL_EXP_NEW,			/* IPCTNL_MSG_EXP_NEW (event or dump) */
	CTNL_EXP_DELETE,
};

struct ctnl_msg {
	enum ctnl_kind kind;
	int family;			/* nfgen_family */
	struct flow tuple;		/* CTA_TUPLE_ORIG / CTA_EXPECT_TUPLE
					   (ports 0 unless TCP/UDP) */
	uint8_t proto;			/* the tuple's IPPROTO_*; 0 if absent */
	bool has_master;
	struct flow master;	/* CTA_TUPLE_MASTER / CTA_EXPECT_MASTER */
	uint32_t id;			/* CTA_ID / CTA_EXPECT_ID (host order) */
	uint32_t timeout_s;		/* CTA_TIMEOUT / CTA_EXPECT_TIMEOUT */
	char helper[CTNL_HELPER_MAX];	/* CTA_EXPECT_HELP_NAME, or a
					   conntrack's CTA_HELP name, or "" */
	uint32_t status;		/* a conntrack's CTA_STATUS (IPS_*),
					   0 when not sent */
	bool has_reply;			/* a conntrack's CTA_TUPLE_REPLY */
	struct flow reply;
	/* CTA_EXPECT_NAT of an expectation: where its data connection
	 * lands */
	struct flow_nat nat;
};

/* Parse one message. 0 and *out filled; -ENOENT for a message that is not
 * a ctnetlink conntrack/expectation message (out->kind CTNL_OTHER);
 * -EINVAL for a malformed one (a required tuple missing or bad);
 * -ENOMEM. */
int ctnl_parse(const struct nlmsghdr *nlh, struct ctnl_msg *out);

/* The conntrack a queued packet belongs to, as NFQA_CT describes it. */
struct ctnl_ct {
	struct flow orig;		/* original tuple */
	bool has_reply;			/* CTA_TUPLE_REPLY was sent and read */
	struct flow reply;		/* reply tuple (the NATed view: its
					   source is the real server, its
					   destination the client as the
					   server sees it) */
	uint32_t status;		/* CTA_STATUS (IPS_*), 0 when not sent */
	uint8_t proto;			/* its layer 4 protocol */
	uint32_t id;			/* CTA_ID, 0 when not sent */
	bool expected;			/* IPS_EXPECTED: a data connection an
					   expectation admitted */
	bool closing;			/* TCP state past ESTABLISHED (FIN or
					   RST seen: FIN_WAIT, CLOSE_WAIT,
					   LAST_ACK, TIME_WAIT, CLOSE) */
};

/* Read the attributes of a queued packet's NFQA_CT (payload, len), in the
 * family of the packet message's nfgenmsg, into *out (expected and
 * closing false, status 0, when the kernel sent no status or TCP state;
 * has_reply false when it sent no reply tuple or one without both
 * addresses). 0, or -EINVAL (no original tuple, one without both
 * addresses, or a tuple, status, ID or protocol info nest of the wrong
 * size), *out then zeroed. Reads directly, allocates nothing; gives what
 * libnetfilter_conntrack would (src/kernel/ctnl_queued.c). */
int ctnl_parse_ct_attrs(const void *payload, size_t len, int family,
			struct ctnl_ct *out);

/* Set f as the original tuple of ct (address family, addresses, TCP and
 * ports), the form libnetfilter_conntrack takes for a conntrack, an
 * expectation's master, tuple and mask alike. */
void ctnl_flow_to_ct(const struct flow *f, struct nf_conntrack *ct);

/* ---- synchronous queries -------------------------------------------- */

struct ctnl;

int ctnl_open(struct ctnl **c, char *err, size_t errlen);
void ctnl_close(struct ctnl *c);

/* Start a request message (type: NFNL_SUBSYS_* << 8 | IPCTNL_MSG_*). */
struct nlmsghdr *ctnl_msg_start(struct ctnl *c, uint16_t type, uint16_t flags,
				uint8_t family);
/* Send the message built with ctnl_msg_start and read the answer (ACK, or
 * a dump up to NLMSG_DONE), calling cb for each parsed data message.
 * 0 or negative errno (from the kernel or the socket). */
int ctnl_request(struct ctnl *c, struct nlmsghdr *nlh,
		 void (*cb)(const struct ctnl_msg *m, void *data), void *data);

#endif
