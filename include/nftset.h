/* nftset: add, delete and replace the elements of named nftables sets in
 * one nftables transaction, and read a set's elements back; over libnftnl
 * on libmnl, one NETLINK_NETFILTER socket per handle.
 *
 * Why libnftnl and not libnftables: libnftables takes nft's text syntax and
 * fetches the kernel's ruleset into its cache for each command (milliseconds,
 * and a parser in the daemon); libnftnl builds the netlink messages on the
 * libmnl socket the daemon already knows how to drive (nlrequest), costs one
 * batch per change, and carries per-element timeouts. The same calls serve
 * the protected servers' sets (replaced at start and reload) and, later,
 * per-client grants (client . server . port range, added with a timeout on
 * the packet path and deleted when the session ends).
 *
 * A transaction is begun, staged (flush, add, delete, in any number and on
 * any sets) and committed as one nftables batch: the kernel applies all of
 * it or nothing, and packets see either the old or the new contents, never
 * a mix (a flush followed by adds leaves no moment with an empty set). */
#ifndef FTPGATE_NFTSET_H
#define FTPGATE_NFTSET_H

#include <stddef.h>
#include <stdint.h>
#include "nftelem.h"

#define NFTSET_NAME_MAX 256		/* NFT_NAME_MAXLEN, with the NUL */
#define NFTSET_ELEMS_PER_CALL 4096	/* elements one add/delete may stage */

/* The table families (NFPROTO_* of linux/netfilter.h, which clashes with
 * netinet/in.h). */
#define NFTSET_FAMILY_INET 1
#define NFTSET_FAMILY_IP 2
#define NFTSET_FAMILY_IP6 10

/* Which set: a table family (NFTSET_FAMILY_*), the table's and the set's
 * names. */
struct nftset_ref {
	uint8_t family;
	const char *table;
	const char *set;
};

struct nftset;

/* Open a handle (a NETLINK_NETFILTER socket in the caller's network
 * namespace). Returns 0 or a negative errno with the cause in err. */
int nftset_open(struct nftset **out, char *err, size_t errlen);
void nftset_close(struct nftset *h);	/* NULL is fine */

/* Start a transaction; whatever was staged and not committed is dropped. */
void nftset_begin(struct nftset *h);

/* Stage removing every element of the set. 0 or -ENOMEM (the transaction
 * is then unusable until nftset_begin). */
int nftset_flush(struct nftset *h, const struct nftset_ref *set);

/* Stage adding (an element already there is kept, its timeout unchanged)
 * or deleting (an element that is not there fails the transaction with
 * -ENOENT) n elements, each with its own timeout when set. Returns 0,
 * -E2BIG for n > NFTSET_ELEMS_PER_CALL or -ENOMEM. */
int nftset_add(struct nftset *h, const struct nftset_ref *set,
	       const struct nftelem *e, size_t n);
int nftset_delete(struct nftset *h, const struct nftset_ref *set,
		  const struct nftelem *e, size_t n);

/* Send the staged changes as one batch and wait (5 s at most) for the
 * kernel's answer to each. Returns 0 when all of it was applied; else
 * nothing was, and the kernel's error: -ENOENT (no such table or set, or
 * deleting a missing element), -EINVAL (an element does not fit the set's
 * type), -EEXIST/-ENOTEMPTY (overlapping intervals), -EPERM (no
 * CAP_NET_ADMIN), -ETIMEDOUT, with a sentence naming the set, the cause and
 * the fix in err. A commit with nothing staged returns 0. */
int nftset_commit(struct nftset *h, char *err, size_t errlen);

/* Read the set's elements: the first `max` go to out, their number to
 * *count; *total gets how many the set holds (more than max: only the
 * first max were stored). Each element's interval flag is taken from
 * whether the kernel sent key_end. Returns 0, -ENOENT when the table or
 * the set does not exist, or another negative errno, with err set. */
int nftset_list(struct nftset *h, const struct nftset_ref *set,
		struct nftelem *out, size_t max, size_t *count, size_t *total,
		char *err, size_t errlen);

/* The elements of one set-element message (NFT_MSG_NEWSETELEM, as a
 * dump sends them, one or more per message) appended to out[*count..max);
 * *total counts them all, stored or not. Returns 0, -EPROTO for a message
 * libnftnl cannot parse, or -ENOMEM. nftset_list's parser, exposed for
 * tests. */
struct nlmsghdr;
int nftset_elems_parse(const struct nlmsghdr *nlh, struct nftelem *out,
		       size_t max, size_t *count, size_t *total);

/* "inet ftpgate ftpgate_servers_ipv4" (for messages); returns buf. */
const char *nftset_ref_format(const struct nftset_ref *set, char *buf,
			      size_t len);

#endif
