/* cthelper: the userspace conntrack helper as the kernel knows it
 * (nfnetlink_cthelper), built with libmnl. */
#ifndef FTPGATE_CTHELPER_H
#define FTPGATE_CTHELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cthelper_params {
	const char *name;		/* "ftpgate" */
	uint16_t queue_number;
	uint32_t expect_max;		/* per control connection */
	uint32_t expect_timeout_s;	/* lifetime of an unused expectation */
	uint32_t private_data_length;
	/* NFCTH_STATUS: enabled, the kernel queues every packet of a
	 * connection with this helper to queue_number; disabled, it queues
	 * none, and the helper still lets expectations be made on them
	 * (capture = replies: the ruleset queues instead). */
	bool enabled;
};

/* Create the helper for TCP over IPv4 and over IPv6, or reconfigure it if it
 * exists, enabled or disabled as p->enabled says. Returns 0 or negative errno with a message in
 * err that names the missing kernel support and the fix (e.g. "modprobe
 * nfnetlink_cthelper; kernel needs CONFIG_NF_CT_NETLINK_HELPER") when the
 * kernel lacks it. */
int cthelper_register(const struct cthelper_params *p, char *err, size_t errlen);

/* Enable or disable the helper (NFCTH_STATUS) for both families. Disabled:
 * the kernel stops queueing packets to us. */
int cthelper_set_enabled(const char *name, bool enabled, char *err,
			 size_t errlen);

/* Read the helper's queue number for AF_INET, if the helper exists.
 * Returns 0 and *queue_number, -ENOENT if not registered. */
int cthelper_query(const char *name, uint16_t *queue_number, bool *enabled,
		   char *err, size_t errlen);

#endif
