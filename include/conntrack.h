/* conntrack: the questions the daemon asks the kernel's connection table
 * about pinholes: does this control connection still exist, and which
 * connections did expectations create (data connections, in any state
 * including TIME_WAIT). Synchronous ctnetlink requests. */
#ifndef FTPGATE_CONNTRACK_H
#define FTPGATE_CONNTRACK_H

#include <stddef.h>
#include "ctnl.h"

/* 1 if a conntrack with this original tuple exists, 0 if not, or negative
 * errno. */
int conntrack_exists(struct ctnl *c, const struct flow *orig);

/* Call cb for every conntrack the kernel marks IPS_EXPECTED (created by an
 * expectation), of both families. The kernel filters by status (a dump
 * with CTA_STATUS/CTA_STATUS_MASK, Linux >= 5.19); each message carries
 * CTA_TUPLE_MASTER. 0 or negative errno. */
int conntrack_list_expected(struct ctnl *c,
			    void (*cb)(const struct ctnl_msg *m, void *data),
			    void *data);

#endif
