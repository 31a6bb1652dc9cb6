/* events: the kernel's conntrack event stream, as the daemon needs it to
 * learn what became of each pinhole: expectation destroyed
 * (NFNLGRP_CONNTRACK_EXP_DESTROY) and connection created
 * (NFNLGRP_CONNTRACK_NEW; a connection an expectation created carries its
 * master's tuple); and when a control connection's conntrack is gone
 * (NFNLGRP_CONNTRACK_DESTROY), which ends its session. Expectations
 * created (NFNLGRP_CONNTRACK_EXP_NEW) and control connections created
 * ASSURED tell what another process (conntrackd, at a failover) put into
 * the kernel, for adoption (doc/ha.md). Non-blocking;
 * overruns are counted, never hidden. */
#ifndef FTPGATE_EVENTS_H
#define FTPGATE_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include "ctnl.h"

struct events;

/* Subscribe in the daemon's network namespace. 0 or negative errno with
 * a message in err (no ctnetlink, no privilege). */
int events_open(struct events **ev, char *err, size_t errlen);
void events_close(struct events *ev);
int events_fd(const struct events *ev);

typedef void (*events_cb)(const struct ctnl_msg *m, void *data);

/* Read what is waiting (at most EVENTS_BATCH messages, so the packet path
 * is never starved) and call cb for each parsed event. Returns how many
 * were handled, 0 if none, -ENOBUFS when the kernel had to drop events
 * (counted in events_overruns), or another negative errno. */
#define EVENTS_BATCH 512
int events_receive(struct events *ev, events_cb cb, void *data);
unsigned long events_overruns(const struct events *ev);

#endif
