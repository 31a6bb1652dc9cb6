/* doctor: the decisions of `ftpgatectl doctor` (doc/ftpgatectl.md). Pure:
 * each check takes the facts the probe gathered (src/ftpgatectl/doctor_probe.c) and
 * adds one line, ok / warn / fail, whose text names what was found and,
 * unless ok, the fix. The report renders as text or JSON. */
#ifndef FTPGATE_DOCTOR_H
#define FTPGATE_DOCTOR_H

#include <stdbool.h>
#include <stdint.h>
#include "nftrules.h"
#include "strbuf.h"

#define DOCTOR_LINES_MAX 24
#define DOCTOR_TEXT_MAX 640
#define DOCTOR_CHECK_MAX 24
/* table headroom: warn from this share used, fail from that one */
#define DOCTOR_TABLE_WARN_PERCENT 75
#define DOCTOR_TABLE_FAIL_PERCENT 90

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_line {
	char check[DOCTOR_CHECK_MAX];	/* "helper", "ruleset", ... */
	enum doctor_status status;
	char text[DOCTOR_TEXT_MAX];	/* what was found */
	char fix[DOCTOR_TEXT_MAX];	/* "" when ok */
};

struct doctor_report {
	struct doctor_line line[DOCTOR_LINES_MAX];
	unsigned count;			/* lines past the array are dropped */
};

void doctor_report_init(struct doctor_report *r);

/* Add a line; fix may be NULL (an ok line has none). */
void doctor_add(struct doctor_report *r, const char *check,
		enum doctor_status status, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The line of `check`, or NULL. */
const struct doctor_line *doctor_find(const struct doctor_report *r,
				      const char *check);

/* How many lines have status s. */
unsigned doctor_count(const struct doctor_report *r, enum doctor_status s);

const char *doctor_status_name(enum doctor_status s);	/* "ok" ... */

/* "fail helper           TEXT; fix: FIX\n" per line, then
 * "doctor: N ok, N warn, N fail\n". */
void doctor_render_text(const struct doctor_report *r, struct strbuf *out);

/* {"checks": [{"check", "status", "message", "fix"}...], "ok": N,
 * "warn": N, "fail": N} and a newline. */
void doctor_render_json(const struct doctor_report *r, struct strbuf *out);

/* ---- the configuration ---------------------------------------------- */

/* rc and err of config_load(path): 0 read, -ENOENT (the defaults apply),
 * -EACCES (not checked), anything else: the file is wrong. */
void doctor_check_config(struct doctor_report *r, const char *path, int rc,
			 const char *err);

/* ---- kernel support -------------------------------------------------- */

enum doctor_module_state {
	DOCTOR_MODULE_LOADED,		/* /sys/module/NAME */
	DOCTOR_MODULE_BUILTIN,		/* modules.builtin */
	DOCTOR_MODULE_LOADABLE,		/* modules.dep and its file exist */
	DOCTOR_MODULE_MERGED,		/* the kernel configuration has no
					   such option: the feature is part of
					   its subsystem (nft_objref in
					   nf_tables since Linux 6.2) */
	DOCTOR_MODULE_MISSING,		/* none of these */
	DOCTOR_MODULE_NO_TREE,		/* not loaded, no /lib/modules/VERSION */
};

struct doctor_module {
	const char *name;		/* "nfnetlink_cthelper" */
	const char *config;		/* "CONFIG_NF_CT_NETLINK_HELPER" */
	enum doctor_module_state state;
	const char *release;		/* uname -r */
};

void doctor_check_module(struct doctor_report *r, const char *check,
			 const struct doctor_module *m);

enum doctor_config_state {
	DOCTOR_CONFIG_SET,		/* =y */
	DOCTOR_CONFIG_UNSET,		/* "is not set", or absent */
	DOCTOR_CONFIG_UNKNOWN,		/* no configuration file to read */
};

/* CONFIG_NETFILTER_NETLINK_GLUE_CT: conntrack data in NFQUEUE messages. */
void doctor_check_glue(struct doctor_report *r, enum doctor_config_state s,
		       const char *config_file);

/* ---- the helper ------------------------------------------------------ */

struct doctor_helper {
	const char *name;		/* "ftpgate" */
	int query_rc;			/* cthelper_query(): 0 or -errno */
	const char *query_err;		/* its message */
	bool enabled;
	uint16_t queue;
	bool queue_listed;		/* /proc/net/netfilter/nfnetlink_queue read */
	bool queue_bound;		/* and the queue has a reader */
	bool daemon_known;		/* the control socket answered ping */
	long daemon_pid;
	uint16_t daemon_queue;
};

void doctor_check_helper(struct doctor_report *r, const struct doctor_helper *h);

/* ---- the ruleset ----------------------------------------------------- */

struct doctor_ruleset {
	const char *helper;
	int nft_rc;			/* 0; -ENOENT no nft; -EPERM; -EINVAL */
	const char *nft_err;		/* nft's message or the parse error */
	const struct nftrules_summary *s; /* when nft_rc == 0 */
	const struct nftrules_port_range *passive;
	size_t npassive;
};

/* Three lines: "ruleset", "helper-chain", "passive-ports". */
void doctor_check_ruleset(struct doctor_report *r, const struct doctor_ruleset *rs);

/* ---- table headroom -------------------------------------------------- */

struct doctor_table {
	const char *what;		/* "expectation table" */
	const char *sysctl;		/* "net.netfilter.nf_conntrack_expect_max" */
	bool known;
	const char *why_unknown;	/* when !known */
	uint64_t count, max;
};

void doctor_check_table(struct doctor_report *r, const char *check,
			const struct doctor_table *t);

/* ---- audit log and control socket ------------------------------------ */

struct doctor_audit {
	const char *path;		/* "", "stdout", "none" or a file */
	const char *source;		/* "ftpgated" or the configuration path */
	int access_rc;			/* 0 or -errno of the write test */
	bool dir_missing;		/* its directory does not exist */
	bool fs_full;			/* no free blocks */
};

void doctor_check_audit(struct doctor_report *r, const struct doctor_audit *a);

struct doctor_socket {
	const char *path;
	int rc;				/* 0, -errno of connect/exchange, -ETIMEDOUT */
	const char *answer;		/* when 0: "ftpgated 0.1.0, pid 12, ..." */
};

void doctor_check_socket(struct doctor_report *r, const struct doctor_socket *s);

/* ---- the ruleset's protected-servers sets ----------------------------- */

/* What the daemon said of the sets it fills from its [server] sections
 * (ping --json: nft_table, nft_sets_out_of_sync). */
struct doctor_sets {
	bool known;			/* the daemon answered */
	const char *table;		/* "inet ftpgate", or "none" */
	bool out_of_sync;		/* the sets do not hold the servers */
};

/* "ruleset-sets": ok while ftpgated keeps the sets in step (or manages
 * none); fail while they are out of step (unannounced connections to the
 * configured servers' passive ports are not dropped); warn when the
 * daemon did not answer (not checked). */
void doctor_check_sets(struct doctor_report *r, const struct doctor_sets *s);

#endif
