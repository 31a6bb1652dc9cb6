/* expect: conntrack expectations (pinholes) installed with ctnetlink
 * through libnetfilter_conntrack, synchronously, so a reply is released
 * only after its pinhole exists. */
#ifndef FTPGATE_EXPECT_H
#define FTPGATE_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "ctnl.h"

struct expect_handle;

/* One pinhole: the data connection `expect` (TCP; source port 0: any),
 * related to the master conntrack identified by its original tuple
 * `master` (unset family: not known, for a lookup). Passive mode: client
 * -> server; active mode: server -> client. */
struct expect_request {
	struct flow master;
	struct flow expect;
	uint32_t timeout_s;
	const char *helper_name;
	/* A NATed master (doc/nat.md section 2): the data connection is
	 * translated like its master by nf_nat's "nat-follow-master"
	 * (CTA_EXPECT_NAT, CTA_EXPECT_FN), landing on nat (the kernel
	 * takes the port; the address it takes from the master's tuple).
	 * nat_dir: the master direction the data connection's initiator
	 * plays, 0 ORIGINAL (passive), 1 REPLY (active). Only read on
	 * install. */
	struct flow_nat nat;
	uint8_t nat_dir;
};

#define EXPECT_NAT_FN "nat-follow-master"	/* registered by nf_nat */

/* Fill nlh, an nfnetlink request of CTNETLINK_EXP started in a buffer of
 * at least 1024 bytes, with r's expectation as every request sends it:
 * tuple, mask, master (when r names one), timeout, helper name and, when
 * r->nat.on, CTA_EXPECT_NAT (direction, tuple whose source is
 * r->nat.address:r->nat.port) and CTA_EXPECT_FN EXPECT_NAT_FN. 0, -ENOMEM, or
 * -EINVAL when the library cannot build it. Public for the unit tests. */
int expect_build(struct nlmsghdr *nlh, const struct expect_request *r);

int expect_open(struct expect_handle **h, char *err, size_t errlen);
void expect_close(struct expect_handle *h);

/* The expect timeout of the helper policy the kernel holds now (what it
 * gives every new expectation of the helper's masters), or 0 when not
 * known. expect_install skips its timeout update when asked for exactly
 * this: one ctnetlink round trip less per pinhole. */
void expect_set_policy_timeout(struct expect_handle *h, uint32_t timeout_s);

/* Create the expectation; returns 0 once the kernel has acknowledged it, or
 * negative errno (-ENOENT: master gone, -EBUSY: clashes with an existing
 * one, -EOPNOTSUPP: master has no helper, -EINVAL with r->nat.on: nf_nat is not loaded (its
 * nat-follow-master is unknown; err says "modprobe nf_nat"), -EAGAIN: an existing one for the
 * same tuple was used or expired each of the two times it was looked at,
 * ...) with a message in err.
 * The same expectation asked for again by the same master (a repeated
 * announcement) is refreshed and returns 0. timeout_s 0 keeps the helper
 * policy's timeout; otherwise it is set to timeout_s after creation (no
 * request needed when it is the policy's, see expect_set_policy_timeout). When
 * the helper's expect max is reached the kernel evicts the master's oldest
 * expectation silently. */
int expect_install(struct expect_handle *h, const struct expect_request *r,
		   char *err, size_t errlen);

/* Delete the expectation r describes (r->expect; timeout_s is not used) if it belongs to r's master.
 * Returns 0 once the kernel has removed it, -ENOENT when there is none
 * (already used by its data connection, or expired), -EBUSY when the
 * tuple's expectation belongs to another control connection (left alone),
 * or another negative errno with a message in err. */
int expect_remove(struct expect_handle *h, const struct expect_request *r,
		  char *err, size_t errlen);

/* Call cb for every live expectation of helper `helper_name` (all
 * families and masters), as the kernel lists it: tuple, mask, master,
 * seconds left, ID. Expired ones the kernel has not reaped yet are not
 * listed. 0 or negative errno. */
int expect_list(struct expect_handle *h, const char *helper_name,
		void (*cb)(const struct ctnl_msg *m, void *data), void *data);

/* The live expectation for r's tuple (r->expect), into *out: 0, -ENOENT when the kernel has none (used,
 * expired or removed), or another negative errno. */
int expect_lookup(struct expect_handle *h, const struct expect_request *r,
		  struct ctnl_msg *out);

#endif
