/* kernel_ops: the seam between the packet path (inspect.c, action.c,
 * pinholes.c) and the kernel. Every kernel call those files make goes through a table
 * of these functions: the daemon uses kernel_ops_netlink (kernel_netlink.c:
 * NFQUEUE verdicts, ctnetlink expectations, lookups and events, exactly the
 * calls it always made); the host tests and the fuzz target use a fake that
 * records what would have been installed and removed (tests/unit/harness.c).
 * Private to the daemon executable and its tests. */
#ifndef FTPGATE_KERNEL_OPS_H
#define FTPGATE_KERNEL_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ctnl.h"
#include "events.h"
#include "expect.h"

struct daemon;
struct queue_packet;

/* Each entry has the contract of the function it stands for (expect.h,
 * conntrack.h, events.h, queue.h); d is the daemon whose kernel handles
 * (or fake) it uses. */
struct kernel_ops {
	/* queue_accept (now: queue_accept_now): release the queued packet
	 * unchanged. */
	int (*verdict_accept)(struct daemon *d, uint32_t packet_id, bool now);
	/* queue_tcp_mangle + queue_accept_payload: release the queued packet
	 * with its TCP payload bytes [off, off + old_len) replaced by
	 * rep[0, rep_len); when the lengths differ the kernel is asked to
	 * adjust the connection's sequence numbers (NFQA_CT). 0, or negative
	 * errno and the packet not released (the caller then accepts it
	 * unchanged). */
	int (*verdict_rewrite)(struct daemon *d, const struct queue_packet *qp,
			       size_t off, size_t old_len, const char *rep,
			       size_t rep_len);
	/* expect_install / expect_remove / expect_lookup / expect_list */
	int (*expect_install)(struct daemon *d, const struct expect_request *r,
			      char *err, size_t errlen);
	int (*expect_remove)(struct daemon *d, const struct expect_request *r,
			     char *err, size_t errlen);
	int (*expect_lookup)(struct daemon *d, const struct expect_request *r,
			     struct ctnl_msg *out);
	int (*expect_list)(struct daemon *d, const char *helper_name,
			   void (*cb)(const struct ctnl_msg *m, void *data),
			   void *data);
	/* conntrack_exists: 1, 0 or negative errno. */
	int (*conntrack_exists)(struct daemon *d, const struct flow *orig);
	/* events_receive / events_overruns; 0 when the daemon has no event
	 * socket. */
	int (*events_receive)(struct daemon *d, events_cb cb, void *data);
	unsigned long (*events_overruns)(struct daemon *d);
};

/* The real kernel, through the daemon's queue, expect, ctnl and events
 * handles. */
extern const struct kernel_ops kernel_ops_netlink;

#endif
