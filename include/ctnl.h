/* ctnl: ctnetlink messages (nfnetlink subsystems CTNETLINK and
 * CTNETLINK_EXP) read into plain structs, and a small synchronous request
 * socket for queries. Parsing trusts no length in the message; it is
 * unit tested and fuzzed with crafted messages. */
#ifndef FTPGATE_CTNL_H
#define FTPGATE_CTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "inet_addr.h"

struct ctnl_tuple {
	struct inet_addr src, dst;
	uint16_t sport, dport;		/* host order; 0 for non-TCP/UDP */
	uint8_t proto;			/* IPPROTO_*; 0 if absent */
};

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
	/* conntrack: orig/reply tuples; expectation: tuple/mask */
	struct ctnl_tuple tuple;	/* CTA_TUPLE_ORIG / CTA_EXPECT_TUPLE */
	struct ctnl_tuple other;	/* CTA_TUPLE_REPLY / CTA_EXPECT_MASK */
	bool has_master;
	struct ctnl_tuple master;	/* CTA_TUPLE_MASTER / CTA_EXPECT_MASTER */
	uint32_t id;			/* CTA_ID / CTA_EXPECT_ID (host order) */
	uint32_t status;		/* CTA_STATUS (conntrack) */
	uint32_t timeout_s;		/* CTA_TIMEOUT / CTA_EXPECT_TIMEOUT */
	uint32_t flags;			/* CTA_EXPECT_FLAGS */
	uint8_t tcp_state;		/* CTA_PROTOINFO_TCP_STATE if sent */
	bool has_tcp_state;
	char helper[CTNL_HELPER_MAX];	/* CTA_EXPECT_HELP_NAME, or "" */
};

/* Parse one message. 0 and *out filled; -ENOENT for a message that is not
 * a ctnetlink conntrack/expectation message (out->kind CTNL_OTHER);
 * -EINVAL for a malformed one (a required tuple missing or bad). */
int ctnl_parse(const struct nlmsghdr *nlh, struct ctnl_msg *out);

/* Parse a CTA_TUPLE_* nest. 0 or -EINVAL. */
int ctnl_parse_tuple(const void *nest_attr, struct ctnl_tuple *t);
/* Append a tuple nest of type `type` (TCP/UDP ports, in host order). */
void ctnl_put_tuple(struct nlmsghdr *nlh, uint16_t type,
		    const struct ctnl_tuple *t);

bool ctnl_tuple_equal(const struct ctnl_tuple *a, const struct ctnl_tuple *b);

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
