/* kernel_netlink: kernel_ops on the daemon's netlink handles, one line
 * each, so the daemon makes exactly the calls it made before the seam. */
#include "conntrack.h"
#include "daemon.h"
#include "kernel_ops.h"

static int kernel_netlink_verdict_accept(struct daemon *d, uint32_t packet_id,
					  bool now)
{
	return now ? queue_accept_now(d->queue, packet_id)
		   : queue_accept(d->queue, packet_id);
}

static int kernel_netlink_verdict_rewrite(struct daemon *d,
					  const struct queue_packet *qp,
					  size_t off, size_t old_len,
					  const char *rep, size_t rep_len)
{
	static uint8_t out[65535];
	size_t out_len;
	int rc = queue_tcp_mangle(qp->data, qp->len, off, old_len, rep, rep_len,
				  out, sizeof(out), &out_len);

	return rc < 0 ? rc : queue_accept_payload(d->queue, qp->packet_id, out,
						  out_len, old_len != rep_len);
}

static int kernel_netlink_expect_install(struct daemon *d,
					 const struct expect_request *r,
					 char *err, size_t errlen)
{
	return expect_install(d->expect, r, err, errlen);
}

static int kernel_netlink_expect_remove(struct daemon *d,
					const struct expect_request *r,
					char *err, size_t errlen)
{
	return expect_remove(d->expect, r, err, errlen);
}

static int kernel_netlink_expect_lookup(struct daemon *d,
					const struct expect_request *r,
					struct ctnl_msg *out)
{
	return expect_lookup(d->expect, r, out);
}

static int kernel_netlink_expect_list(struct daemon *d, const char *helper_name,
				      void (*cb)(const struct ctnl_msg *m, void *data),
				      void *data)
{
	return expect_list(d->expect, helper_name, cb, data);
}

static int kernel_netlink_conntrack_exists(struct daemon *d,
					   const struct flow *orig)
{
	return conntrack_exists(d->ctnl, orig);
}

static int kernel_netlink_events_receive(struct daemon *d, events_cb cb, void *data)
{
	return d->events != NULL ? events_receive(d->events, cb, data) : 0;
}

static unsigned long kernel_netlink_events_overruns(struct daemon *d)
{
	return events_overruns(d->events);
}

const struct kernel_ops kernel_ops_netlink = {
	.verdict_accept = kernel_netlink_verdict_accept,
	.verdict_rewrite = kernel_netlink_verdict_rewrite,
	.expect_install = kernel_netlink_expect_install,
	.expect_remove = kernel_netlink_expect_remove,
	.expect_lookup = kernel_netlink_expect_lookup,
	.expect_list = kernel_netlink_expect_list,
	.conntrack_exists = kernel_netlink_conntrack_exists,
	.events_receive = kernel_netlink_events_receive,
	.events_overruns = kernel_netlink_events_overruns,
};
