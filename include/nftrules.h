/* nftrules: what `ftpgatectl doctor` needs to know about the loaded
 * nftables ruleset, read from `nft -j list ruleset` (nft's JSON, schema of
 * libnftables-json(5)). Pure: JSON text in, a bounded summary out.
 *
 * It finds
 *  - the `ct helper` objects whose helper type is the daemon's helper;
 *  - the rules that attach one of them (`ct helper set "NAME"`), with the
 *    hook and priority of every base chain that reaches the rule (directly
 *    or through jump/goto);
 *  - whether NAT chains exist (then the helper must be attached before
 *    the NAT core's prerouting hook, priority -100, kernel facts 8);
 *  - whether new TCP connections into the passive range are dropped: each
 *    forward base chain is read in rule order (following jump and goto) for
 *    the first rule that decides such a connection without depending on
 *    `ct state related` or a `ct helper` match. A drop (or reject, or the
 *    chain's drop policy) closes the range, whatever other chains accept,
 *    since a packet must pass every base chain of its hook; an accept
 *    before any drop admits it there, and when no chain closes the range
 *    that accept makes pinholes pointless.
 *
 * Every rule is read as if its other matches (addresses, interfaces)
 * matched: the first rule that could decide is taken to decide.
 * What it does not follow (documented in doc/ftpgatectl.md): verdict maps
 * (`vmap`), conditions on a jump rule (the target chain's rules are read as
 * if reached unconditionally), and port names instead of numbers. */
#ifndef FTPGATE_NFTRULES_H
#define FTPGATE_NFTRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFTRULES_NAME_MAX 64
#define NFTRULES_ATTACH_MAX 16
#define NFTRULES_ADMIT_MAX 16
#define NFTRULES_CHAINS_MAX 4096	/* more: -E2BIG */
#define NFTRULES_HOOK_NAT_PRIO (-100)	/* NF_IP_PRI_NAT_DST */
#define NFTRULES_HOOK_CONNTRACK_PRIO (-200) /* NF_IP_PRI_CONNTRACK */

struct nftrules_port_range {
	uint16_t low, high;		/* inclusive */
};

/* where a rule is: "inet ftpgate prerouting handle 4" */
struct nftrules_where {
	char family[8];
	char table[NFTRULES_NAME_MAX];
	char chain[NFTRULES_NAME_MAX];
	uint64_t handle;
};

/* A rule attaching the helper, seen from one base chain that reaches it. */
struct nftrules_attach {
	struct nftrules_where rule;
	char object[NFTRULES_NAME_MAX];	/* the ct helper object it sets */
	char base_chain[NFTRULES_NAME_MAX];
	char hook[16];			/* the base chain's hook */
	int prio;			/* and priority */
};

/* The rule of a forward chain that first admits new TCP connections into
 * the passive range. */
struct nftrules_admit {
	struct nftrules_where rule;
	struct nftrules_port_range ports; /* the first overlap found */
};

struct nftrules_summary {
	unsigned tables, chains, rules;
	unsigned helper_objects;	/* ct helper objects of our type */
	char object[NFTRULES_NAME_MAX];	/* the first one, "family table name" */
	struct nftrules_attach attach[NFTRULES_ATTACH_MAX];
	unsigned attach_count;		/* may exceed NFTRULES_ATTACH_MAX */
	bool nat;			/* a chain of type nat exists */
	char nat_chain[2 * NFTRULES_NAME_MAX + 16]; /* the first, for messages */
	unsigned forward_chains;	/* filter base chains on hook forward */
	bool passive_closed;		/* one of them drops the passive range */
	char closed_by[2 * NFTRULES_NAME_MAX + 64]; /* "rule ..." or "policy ..." */
	struct nftrules_admit admit[NFTRULES_ADMIT_MAX]; /* one per chain */
	unsigned admit_count;		/* may exceed NFTRULES_ADMIT_MAX */
};

/* Read json[0..len) (the output of `nft -j list ruleset`) and summarise it
 * for helper type `helper`, with `passive` (n ranges) as the ports pinholes
 * open. Returns 0; -EINVAL with the reason in err when the text is not
 * nft's JSON ruleset; -E2BIG over NFTRULES_CHAINS_MAX chains. */
int nftrules_read(const char *json, size_t len, const char *helper,
		  const struct nftrules_port_range *passive, size_t n,
		  struct nftrules_summary *out, char *err, size_t errlen);

/* "inet ftpgate forward handle 7" */
void nftrules_where_format(const struct nftrules_where *w, char *buf,
			   size_t len);

#endif
