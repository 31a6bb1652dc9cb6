/* events: ctnetlink multicast groups on a NETLINK_NETFILTER socket.
 *
 * Kernel facts relied on (Debian's linux-source-6.1, 6.1.192):
 *  - An expectation is unlinked, and IPEXP_DESTROY reported, whenever it
 *    leaves the table: when a connection uses it (nf_ct_find_expectation
 *    from init_conntrack), when it is found expired (no timer in 6.1.y:
 *    nf_ct_expectation_gc from the conntrack gc worker, or a lookup that
 *    walks past it, so this can come long after the expiry), when its
 *    master is deleted (clean_from_lists -> nf_ct_remove_expectations),
 *    when the helper's expect max evicts it, and on ctnetlink delete. The
 *    event does not say which.
 *  - A connection created from an expectation is reported on
 *    NFNLGRP_CONNTRACK_NEW when it is confirmed, with IPCT_RELATED, so the
 *    message carries CTA_TUPLE_MASTER. The expectation's destroy event is
 *    emitted first (at lookup), the connection's after (at confirm, when
 *    the first packet leaves the netfilter hooks). A packet dropped before
 *    confirmation consumes the expectation without any NEW event.
 *  - Events are multicast only to listeners (nfnetlink_has_listeners);
 *    when our receive buffer is full the kernel drops them and the next
 *    recv fails with ENOBUFS (we do not set NETLINK_NO_ENOBUFS).
 *  - A conntrack leaving the table (timeout, after CLOSE or TIME_WAIT, an
 *    early drop, conntrack -D) is reported on NFNLGRP_CONNTRACK_DESTROY
 *    with its ID and tuples; with nf_conntrack_events = 2 only for
 *    connections created while someone listened.
 *  - A conntrack or expectation created through ctnetlink (conntrackd
 *    committing what it synced, at a failover) is reported like any
 *    other: NFNLGRP_CONNTRACK_NEW (ctnetlink_new_conntrack reports
 *    IPCT_NEW with the status it was given, so an ASSURED control
 *    connection) and NFNLGRP_CONNTRACK_EXP_NEW (nf_ct_expect_related
 *    reports IPEXP_NEW, ours included).
 * NFNLGRP_CONNTRACK_NEW and _DESTROY report every connection of the
 * namespace; on a gateway that is the cost of learning "used" from the
 * kernel and of ending each control connection's session with its
 * conntrack. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include "events.h"

#define EVENTS_RCVBUF (8 * 1024 * 1024)

struct events {
	struct mnl_socket *nl;
	unsigned long overruns;
	char buf[8192] __attribute__((aligned(8)));	/* one event is < 1 KiB */
};

int events_open(struct events **out, char *err, size_t errlen)
{
	static const unsigned groups[] = {
		NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY,
		NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_DESTROY,
	};
	struct events *ev;
	int fd, rcvbuf = EVENTS_RCVBUF, rc;
	unsigned i;

	*out = NULL;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -ENOMEM;
	ev->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (ev->nl == NULL || mnl_socket_bind(ev->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the conntrack event socket: %s (modprobe nf_conntrack_netlink)",
			 strerror(-rc));
		goto fail;
	}
	fd = mnl_socket_get_fd(ev->nl);
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int g = (int)groups[i];

		if (mnl_socket_setsockopt(ev->nl, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot subscribe to conntrack events (group %d): %s%s",
				 g, strerror(-rc),
				 rc == -EPERM ? " (ftpgated needs CAP_NET_ADMIN)" : "");
			goto fail;
		}
	}
	/* Bursts of new connections must not cost us the one that used a
	 * pinhole: a large buffer, forced past rmem_max when we may. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	*out = ev;
	return 0;
fail:
	events_close(ev);
	return rc;
}

void events_close(struct events *ev)
{
	if (ev == NULL)
		return;
	if (ev->nl != NULL)
		mnl_socket_close(ev->nl);
	free(ev);
}

int events_fd(const struct events *ev)
{
	return mnl_socket_get_fd(ev->nl);
}

unsigned long events_overruns(const struct events *ev)
{
	return ev != NULL ? ev->overruns : 0;
}

int events_receive(struct events *ev, events_cb cb, void *data)
{
	int handled = 0;

	while (handled < EVENTS_BATCH) {
		ssize_t n = recv(mnl_socket_get_fd(ev->nl), ev->buf,
				 sizeof(ev->buf), MSG_DONTWAIT);
		const struct nlmsghdr *m;
		int rem;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return handled;
			if (errno == ENOBUFS) {
				ev->overruns++;
				return -ENOBUFS;
			}
			return -errno;
		}
		rem = (int)n;
		for (m = (const struct nlmsghdr *)(void *)ev->buf;
		     mnl_nlmsg_ok(m, rem); m = mnl_nlmsg_next(m, &rem)) {
			struct ctnl_msg msg;

			if (ctnl_parse(m, &msg) == 0) {
				cb(&msg, data);
				handled++;
			}
		}
	}
	return handled;
}
