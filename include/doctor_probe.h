/* doctor_probe: `ftpgatectl doctor`, the part that looks at the system:
 * /proc, /sys and /lib/modules, one nfnetlink_cthelper GET, `nft -j list
 * ruleset`, the daemon's control socket and the audit log's file system.
 * It hands the facts to doctor.c, which decides, and prints the report.
 *
 * Why in ftpgatectl and not `ftpgated --check`: doctor answers "why does
 * FTP through this gateway not work?", which includes "is the daemon
 * running, does it own its helper, does its control socket answer": a
 * client's questions about the daemon, asked with the administrator's own
 * tool. It also parses nft's JSON, which the daemon (exposed to hostile
 * FTP traffic, sandboxed by its unit) should not grow. The price: the
 * helper and ruleset checks need CAP_NET_ADMIN (nfnetlink and nft refuse
 * others); without it doctor says "not checked" (warn) for them, and every
 * other ftpgatectl command still needs no privilege. */
#ifndef FTPGATE_DOCTOR_PROBE_H
#define FTPGATE_DOCTOR_PROBE_H

#include <stdbool.h>

struct doctor_options {
	const char *config_path;	/* the configuration to read */
	const char *socket_path;	/* NULL: from the configuration */
	bool json;
};

/* Run every check, print the report on stdout (text or JSON). Returns the
 * exit status: 0 when no check failed, 1 when one did. */
int doctor_run(const struct doctor_options *o);

#endif
