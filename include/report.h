/* report: what ftpgatectl prints, rendered by the daemon as a table for
 * people or as JSON (--json) for programs. The daemon gathers the rows
 * (from the kernel, its session table and its pinhole registry); this
 * module only formats them. Pure. */
#ifndef FTPGATE_REPORT_H
#define FTPGATE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "audit.h"
#include "grant.h"
#include "pinhole.h"
#include "pressure.h"
#include "strbuf.h"

/* One expectation as the kernel lists it, joined with what the daemon
 * knows about it. */
struct report_pinhole_row {
	struct flow expect;	/* the data connection it admits */
	struct flow master;	/* control connection */
	uint32_t timeout_s;		/* remaining, per the kernel */
	struct flow_nat nat;		/* the kernel's CTA_EXPECT_NAT */
	const struct pinhole *known;	/* the daemon's record, or NULL */
	bool session_tracked;		/* the control connection is tracked */
};

struct report_session_row {
	struct audit_control control;
	uint64_t age_ms, idle_ms;
	bool lost;			/* tracking stopped */
	unsigned pending;		/* commands awaiting a reply */
	unsigned pinholes_open;		/* recorded, not yet closed */
	uint64_t pinholes_opened, pinholes_refused, packets;
};

void report_pinholes(const struct report_pinhole_row *rows, unsigned n,
		     bool json, uint64_t now_ms, int64_t wall_ms,
		     struct strbuf *out);
/* `ftpgatectl grants`: the daemon's live grants (the kernel's elements
 * are kept in line with them once a second). */
void report_grants(const struct grant *rows, unsigned n, bool json,
		   uint64_t now_ms, int64_t wall_ms, struct strbuf *out);
void report_sessions(const struct report_session_row *rows, unsigned n,
		     bool json, struct strbuf *out);
void report_ports(const struct pressure_report *rows, unsigned n, bool json,
		  unsigned window_s, unsigned time_wait_s, struct strbuf *out);

/* "42s", "7m05s", "3h12m", "2d04h" */
void report_duration(uint64_t ms, char *buf, size_t len);

#endif
