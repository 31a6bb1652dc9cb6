/* doctor: ok / warn / fail for each thing that stops an FTP helper from
 * working (include/doctor.h). The facts come from src/doctor_probe.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doctor.h"
#include "json.h"

void doctor_report_init(struct doctor_report *r)
{
	memset(r, 0, sizeof(*r));
}

void doctor_add(struct doctor_report *r, const char *check,
		enum doctor_status status, const char *fix, const char *fmt, ...)
{
	struct doctor_line *l;
	va_list ap;

	if (r->count >= DOCTOR_LINES_MAX)
		return;
	l = &r->line[r->count++];
	snprintf(l->check, sizeof(l->check), "%s", check);
	l->status = status;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	snprintf(l->fix, sizeof(l->fix), "%s", fix != NULL ? fix : "");
}

const struct doctor_line *doctor_find(const struct doctor_report *r,
				      const char *check)
{
	unsigned i;

	for (i = 0; i < r->count; i++)
		if (strcmp(r->line[i].check, check) == 0)
			return &r->line[i];
	return NULL;
}

unsigned doctor_count(const struct doctor_report *r, enum doctor_status s)
{
	unsigned i, n = 0;

	for (i = 0; i < r->count; i++)
		n += r->line[i].status == s;
	return n;
}

const char *doctor_status_name(enum doctor_status s)
{
	switch (s) {
	case DOCTOR_OK: return "ok";
	case DOCTOR_WARN: return "warn";
	case DOCTOR_FAIL: return "fail";
	}
	return "?";
}

void doctor_render_text(const struct doctor_report *r, struct strbuf *out)
{
	unsigned i;

	for (i = 0; i < r->count; i++) {
		const struct doctor_line *l = &r->line[i];

		strbuf_printf(out, "%-4s %-17s %s", doctor_status_name(l->status),
			      l->check, l->text);
		if (l->fix[0] != '\0')
			strbuf_printf(out, "; fix: %s", l->fix);
		strbuf_putc(out, '\n');
	}
	strbuf_printf(out, "doctor: %u ok, %u warn, %u fail\n", doctor_count(r, DOCTOR_OK),
		      doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL));
}

void doctor_render_json(const struct doctor_report *r, struct strbuf *out)
{
	struct json j;
	unsigned i;

	json_init(&j, out);
	json_object_begin(&j);
	json_key(&j, "checks");
	json_array_begin(&j);
	for (i = 0; i < r->count; i++) {
		json_object_begin(&j);
		json_kv_str(&j, "check", r->line[i].check);
		json_kv_str(&j, "status", doctor_status_name(r->line[i].status));
		json_kv_str(&j, "message", r->line[i].text);
		json_kv_str(&j, "fix", r->line[i].fix[0] ? r->line[i].fix : NULL);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_kv_uint(&j, "ok", doctor_count(r, DOCTOR_OK));
	json_kv_uint(&j, "warn", doctor_count(r, DOCTOR_WARN));
	json_kv_uint(&j, "fail", doctor_count(r, DOCTOR_FAIL));
	json_object_end(&j);
	strbuf_putc(out, '\n');
}

/* ---- the configuration ---------------------------------------------- */

void doctor_check_config(struct doctor_report *r, const char *path, int rc,
			 const char *err)
{
	if (rc == 0)
		doctor_add(r, "config", DOCTOR_OK, NULL, "%s read", path);
	else if (rc == -ENOENT)
		doctor_add(r, "config", DOCTOR_OK, NULL, "no %s: ftpgated runs on the defaults", path);
	else if (rc == -EACCES)
		doctor_add(r, "config", DOCTOR_WARN, "run ftpgatectl doctor as root",
			   "not checked: %s (the defaults are judged below)", err);
	else
		doctor_add(r, "config", DOCTOR_FAIL, "correct it (doc/config.md), then systemctl reload ftpgated",
			   "%s", err);
}

/* ---- kernel support -------------------------------------------------- */

void doctor_check_module(struct doctor_report *r, const char *check,
			 const struct doctor_module *m)
{
	char fix[DOCTOR_TEXT_MAX];

	switch (m->state) {
	case DOCTOR_MODULE_LOADED:
		doctor_add(r, check, DOCTOR_OK, NULL, "%s loaded", m->name);
		return;
	case DOCTOR_MODULE_BUILTIN:
		doctor_add(r, check, DOCTOR_OK, NULL, "%s built into the kernel", m->name);
		return;
	case DOCTOR_MODULE_MERGED:
		doctor_add(r, check, DOCTOR_OK, NULL, "%s is part of the kernel's nf_tables (%s is not an option of kernel %s)",
			   m->name, m->config, m->release);
		return;
	case DOCTOR_MODULE_LOADABLE:
		doctor_add(r, check, DOCTOR_OK, NULL,
			   "%s loadable (not loaded yet; ftpgated.service loads it with modprobe)", m->name);
		return;
	case DOCTOR_MODULE_NO_TREE:
		snprintf(fix, sizeof(fix), "install the modules of kernel %s (its linux-image package) or boot the kernel whose modules are installed",
			 m->release);
		doctor_add(r, check, DOCTOR_FAIL, fix, "%s is not loaded and /lib/modules/%s does not exist, so it cannot be loaded",
			   m->name, m->release);
		return;
	case DOCTOR_MODULE_MISSING:
		break;
	}
	snprintf(fix, sizeof(fix), "boot a kernel built with %s (Debian's linux-image-amd64 has it as a module)",
		 m->config);
	doctor_add(r, check, DOCTOR_FAIL, fix, "%s is neither loaded, built in, nor in /lib/modules/%s",
		   m->name, m->release);
}

void doctor_check_glue(struct doctor_report *r, enum doctor_config_state s,
		       const char *config_file)
{
	switch (s) {
	case DOCTOR_CONFIG_SET:
		doctor_add(r, "kernel-glue", DOCTOR_OK, NULL,
			   "CONFIG_NETFILTER_NETLINK_GLUE_CT=y in %s (conntrack data in NFQUEUE)", config_file);
		return;
	case DOCTOR_CONFIG_UNSET:
		doctor_add(r, "kernel-glue", DOCTOR_FAIL,
			   "boot a kernel built with CONFIG_NETFILTER_NETLINK_GLUE_CT=y (Debian's has it)",
			   "CONFIG_NETFILTER_NETLINK_GLUE_CT is not set in %s: queued packets carry no conntrack, ftpgated cannot open pinholes",
			   config_file);
		return;
	case DOCTOR_CONFIG_UNKNOWN:
		break;
	}
	doctor_add(r, "kernel-glue", DOCTOR_WARN,
		   "check that the kernel has CONFIG_NETFILTER_NETLINK_GLUE_CT=y",
		   "no kernel configuration to read (%s): cannot tell whether CONFIG_NETFILTER_NETLINK_GLUE_CT=y", config_file);
}

/* ---- the helper ------------------------------------------------------ */

static void doctor_helper_query_failed(struct doctor_report *r,
				       const struct doctor_helper *h)
{
	if (h->query_rc == -EPERM || h->query_rc == -EACCES) {
		doctor_add(r, "helper", DOCTOR_WARN, "run ftpgatectl doctor as root",
			   "not checked: asking the kernel for helper \"%s\" needs CAP_NET_ADMIN", h->name);
		return;
	}
	if (h->query_rc == -ENOENT) {
		doctor_add(r, "helper", DOCTOR_FAIL, "start ftpgated (systemctl start ftpgated), then load the ruleset",
			   "helper \"%s\" is not registered: ftpgated is not running", h->name);
		return;
	}
	doctor_add(r, "helper", DOCTOR_FAIL, "see kernel-cthelper above (modprobe nfnetlink_cthelper)",
		   "cannot ask the kernel for helper \"%s\": %s", h->name, h->query_err);
}

void doctor_check_helper(struct doctor_report *r, const struct doctor_helper *h)
{
	if (h->query_rc < 0) {
		doctor_helper_query_failed(r, h);
	} else if (!h->enabled) {
		doctor_add(r, "helper", DOCTOR_FAIL, "start ftpgated (systemctl start ftpgated)",
			   "helper \"%s\" is registered but disabled (ftpgated stopped, or ftpgated --disable-helper ran): FTP passes but no pinhole opens",
			   h->name);
	} else if (h->queue_listed && !h->queue_bound) {
		doctor_add(r, "helper", DOCTOR_FAIL, "ftpgated --disable-helper, then start ftpgated (systemctl restart ftpgated)",
			   "helper \"%s\" is enabled but nothing reads its queue %u: ftpgated died without disabling it, and new FTP control connections fail",
			   h->name, h->queue);
	} else if (h->daemon_known && h->daemon_queue != h->queue) {
		doctor_add(r, "helper", DOCTOR_FAIL, "give every ftpgated the same queue, then restart it",
			   "helper \"%s\" queues to %u, but the ftpgated on the control socket (pid %ld) reads queue %u",
			   h->name, h->queue, h->daemon_pid, h->daemon_queue);
	} else if (h->daemon_known) {
		doctor_add(r, "helper", DOCTOR_OK, NULL, "helper \"%s\" registered, enabled, queue %u read by ftpgated pid %ld",
			   h->name, h->queue, h->daemon_pid);
	} else {
		doctor_add(r, "helper", DOCTOR_OK, NULL,
			   "helper \"%s\" registered, enabled, queue %u %s (which process: see control-socket)",
			   h->name, h->queue, h->queue_listed ? "has a reader" : "(readers not listed)");
	}
}

/* ---- the ruleset ----------------------------------------------------- */

static bool doctor_ruleset_read(struct doctor_report *r, const struct doctor_ruleset *rs)
{
	if (rs->nft_rc == -ENOENT) {
		doctor_add(r, "ruleset", DOCTOR_FAIL, "apt install nftables",
			   "nft not found: cannot read the ruleset");
	} else if (rs->nft_rc == -EPERM || rs->nft_rc == -EACCES) {
		doctor_add(r, "ruleset", DOCTOR_WARN, "run ftpgatectl doctor as root",
			   "not checked: nft list ruleset needs CAP_NET_ADMIN (%s)", rs->nft_err);
	} else if (rs->nft_rc < 0) {
		doctor_add(r, "ruleset", DOCTOR_FAIL, "run nft -j list ruleset and see why it fails",
			   "cannot read the ruleset: %s", rs->nft_err);
	}
	return rs->nft_rc == 0;
}

static void doctor_ruleset_helper(struct doctor_report *r, const struct doctor_ruleset *rs)
{
	const struct nftrules_summary *s = rs->s;
	char where[2 * NFTRULES_NAME_MAX + 48], fix[DOCTOR_TEXT_MAX];

	if (s->helper_objects == 0) {
		doctor_add(r, "ruleset", DOCTOR_FAIL,
			   "after ftpgated started: nft -f /usr/share/ftpgate/ftpgate.nft (or load your ruleset: systemctl restart nftables)",
			   "no ct helper object of type \"%s\" in the ruleset (%u tables, %u rules): nothing sends FTP to ftpgated",
			   rs->helper, s->tables, s->rules);
		return;
	}
	if (s->attach_count == 0) {
		snprintf(fix, sizeof(fix), "add `tcp dport 21 ct state new ct helper set \"NAME\"` to a prerouting chain (see rules/ftpgate.nft)");
		doctor_add(r, "ruleset", DOCTOR_FAIL, fix,
			   "ct helper object %s exists, but no rule reached from a base chain attaches it", s->object);
		return;
	}
	nftrules_where_format(&s->attach[0].rule, where, sizeof(where));
	doctor_add(r, "ruleset", DOCTOR_OK, NULL, "ct helper object %s attached by rule %s",
		   s->object, where);
}

/* One attaching rule seen from its base chain. */
static enum doctor_status doctor_attach_judge(const struct nftrules_attach *a,
					      const struct nftrules_summary *s,
					      char *text, size_t len, char *fix, size_t fixlen)
{
	if (strcmp(a->hook, "prerouting") != 0 && strcmp(a->hook, "output") != 0) {
		snprintf(text, len, "the helper is attached in chain %s, hook %s: a control connection may pass its first packets without it",
			 a->base_chain, a->hook);
		snprintf(fix, fixlen, "attach it in a prerouting chain (priority -150)");
		return DOCTOR_WARN;
	}
	if (a->prio <= NFTRULES_HOOK_CONNTRACK_PRIO) {
		snprintf(text, len, "chain %s (%s, priority %d) runs before conntrack (-200): ct helper set finds no connection there",
			 a->base_chain, a->hook, a->prio);
		snprintf(fix, fixlen, "attach the helper at priority -150 (mangle) or filter (0)");
		return DOCTOR_FAIL;
	}
	if (s->nat && a->prio >= NFTRULES_HOOK_NAT_PRIO) {
		snprintf(text, len, "chain %s (%s, priority %d) runs at or after dstnat (-100) and NAT chain %s exists: NATed control connections get no sequence adjustment and break when a reply changes length",
			 a->base_chain, a->hook, a->prio, s->nat_chain);
		snprintf(fix, fixlen, "attach the helper in prerouting at priority -150 (after conntrack, before dstnat)");
		return DOCTOR_FAIL;
	}
	snprintf(text, len, "attached in chain %s (%s, priority %d): after conntrack (-200)%s",
		 a->base_chain, a->hook, a->prio, s->nat ? ", before dstnat (-100)" : "; no NAT chains");
	fix[0] = '\0';
	return DOCTOR_OK;
}

static void doctor_ruleset_chain(struct doctor_report *r, const struct nftrules_summary *s)
{
	char text[DOCTOR_TEXT_MAX], fix[DOCTOR_TEXT_MAX];
	char worst_text[DOCTOR_TEXT_MAX] = "", worst_fix[DOCTOR_TEXT_MAX] = "";
	enum doctor_status worst = DOCTOR_OK, st;
	unsigned i, n = s->attach_count < NFTRULES_ATTACH_MAX ? s->attach_count : NFTRULES_ATTACH_MAX;

	if (n == 0) {
		doctor_add(r, "helper-chain", DOCTOR_WARN, "see ruleset above",
			   "not checked: no rule attaches the helper");
		return;
	}
	for (i = 0; i < n; i++) {
		st = doctor_attach_judge(&s->attach[i], s, text, sizeof(text), fix, sizeof(fix));
		if (i == 0 || st > worst) {
			worst = st;
			snprintf(worst_text, sizeof(worst_text), "%s", text);
			snprintf(worst_fix, sizeof(worst_fix), "%s", fix);
		}
	}
	doctor_add(r, "helper-chain", worst, worst_fix[0] ? worst_fix : NULL, "%s", worst_text);
}

static void doctor_ruleset_passive(struct doctor_report *r, const struct doctor_ruleset *rs)
{
	const struct nftrules_summary *s = rs->s;
	char where[2 * NFTRULES_NAME_MAX + 48], more[48] = "";

	if (s->passive_closed) {
		doctor_add(r, "passive-ports", DOCTOR_OK, NULL,
			   "new connections to the passive range %u-%u%s are dropped by %s unless an ftpgate pinhole admits them",
			   rs->passive[0].low, rs->passive[0].high,
			   rs->npassive > 1 ? " (and the servers' ranges)" : "", s->closed_by);
		return;
	}
	if (s->admit_count == 0) {
		doctor_add(r, "passive-ports", DOCTOR_WARN,
			   "load ftpgate's ruleset, or drop new connections to the passive range after `ct state related ct helper \"ftpgate\" accept`",
			   "no forward chain (of %u) drops new connections to the passive range %u-%u: pinholes restrict nothing",
			   s->forward_chains, rs->passive[0].low, rs->passive[0].high);
		return;
	}
	nftrules_where_format(&s->admit[0].rule, where, sizeof(where));
	if (s->admit_count > 1)
		snprintf(more, sizeof(more), " (and %u more chains)", s->admit_count - 1);
	doctor_add(r, "passive-ports", DOCTOR_WARN,
		   "drop new connections to the passive range before that rule (after `ct state related ct helper \"ftpgate\" accept`), or narrow it",
		   "rule %s accepts new TCP connections to ports %u-%u of the passive range before anything drops them, and no forward chain drops them%s: pinholes restrict nothing",
		   where, s->admit[0].ports.low, s->admit[0].ports.high, more);
}

void doctor_check_ruleset(struct doctor_report *r, const struct doctor_ruleset *rs)
{
	if (!doctor_ruleset_read(r, rs)) {
		doctor_add(r, "helper-chain", DOCTOR_WARN, "see ruleset above", "not checked: the ruleset could not be read");
		doctor_add(r, "passive-ports", DOCTOR_WARN, "see ruleset above", "not checked: the ruleset could not be read");
		return;
	}
	doctor_ruleset_helper(r, rs);
	doctor_ruleset_chain(r, rs->s);
	doctor_ruleset_passive(r, rs);
}

/* ---- table headroom -------------------------------------------------- */

void doctor_check_table(struct doctor_report *r, const char *check,
			const struct doctor_table *t)
{
	char fix[DOCTOR_TEXT_MAX];
	uint64_t pct;

	if (!t->known) {
		doctor_add(r, check, DOCTOR_WARN, "run ftpgatectl doctor as root",
			   "not checked: %s", t->why_unknown);
		return;
	}
	pct = t->max ? t->count * 100 / t->max : 100;
	snprintf(fix, sizeof(fix), "raise it: sysctl -w %s=%llu (and in /etc/sysctl.d/)",
		 t->sysctl, (unsigned long long)(t->max < 1024 ? 4096 : t->max * 4));
	if (pct >= DOCTOR_TABLE_FAIL_PERCENT)
		doctor_add(r, check, DOCTOR_FAIL, fix, "%s %llu of %llu used (%llu%%): new %s fail when it is full",
			   t->what, (unsigned long long)t->count, (unsigned long long)t->max,
			   (unsigned long long)pct, strcmp(check, "expect-table") == 0 ? "pinholes" : "connections");
	else if (pct >= DOCTOR_TABLE_WARN_PERCENT)
		doctor_add(r, check, DOCTOR_WARN, fix, "%s %llu of %llu used (%llu%%)", t->what,
			   (unsigned long long)t->count, (unsigned long long)t->max, (unsigned long long)pct);
	else
		doctor_add(r, check, DOCTOR_OK, NULL, "%s %llu of %llu used (%llu%%)", t->what,
			   (unsigned long long)t->count, (unsigned long long)t->max, (unsigned long long)pct);
}

/* ---- audit log and control socket ------------------------------------ */

void doctor_check_audit(struct doctor_report *r, const struct doctor_audit *a)
{
	if (strcmp(a->path, "none") == 0) {
		doctor_add(r, "audit-log", DOCTOR_WARN, "set audit-log in ftpgate.conf",
			   "no audit log (audit-log = none, from %s): pinholes are not recorded", a->source);
	} else if (a->path[0] == '\0' || strcmp(a->path, "stdout") == 0) {
		doctor_add(r, "audit-log", DOCTOR_OK, NULL, "audit log on ftpgated's standard output (from %s)", a->source);
	} else if (a->dir_missing) {
		doctor_add(r, "audit-log", DOCTOR_WARN, "create it, or run ftpgated as root or under its unit (LogsDirectory=ftpgate)",
			   "the directory of %s (from %s) does not exist", a->path, a->source);
	} else if (a->fs_full) {
		doctor_add(r, "audit-log", DOCTOR_FAIL, "free space on that file system, or move audit-log",
			   "%s (from %s): its file system is full; audit events are being lost", a->path, a->source);
	} else if (a->access_rc < 0) {
		doctor_add(r, "audit-log", DOCTOR_FAIL, "make it writable for ftpgated (root), or move audit-log, then systemctl reload ftpgated",
			   "%s (from %s) is not writable: %s", a->path, a->source, strerror(-a->access_rc));
	} else {
		doctor_add(r, "audit-log", DOCTOR_OK, NULL, "%s writable (from %s)", a->path, a->source);
	}
}

void doctor_check_socket(struct doctor_report *r, const struct doctor_socket *s)
{
	switch (s->rc) {
	case 0:
		doctor_add(r, "control-socket", DOCTOR_OK, NULL, "%s answers: %s", s->path, s->answer);
		return;
	case -ENOENT:
	case -ENOTDIR:
		doctor_add(r, "control-socket", DOCTOR_FAIL,
			   "start ftpgated, or restart it to recreate the socket; give --socket or --config if it uses another control-socket",
			   "no control socket %s", s->path);
		return;
	case -ECONNREFUSED:
		doctor_add(r, "control-socket", DOCTOR_FAIL, "start ftpgated (systemctl start ftpgated)",
			   "nothing answers on %s (a socket left by a daemon that stopped)", s->path);
		return;
	case -EACCES:
	case -EPERM:
		doctor_add(r, "control-socket", DOCTOR_FAIL,
			   "run as root, or join control-socket-group (doc/config.md)",
			   "permission denied on %s", s->path);
		return;
	default:
		doctor_add(r, "control-socket", DOCTOR_FAIL, "restart ftpgated (systemctl restart ftpgated)",
			   "%s: %s", s->path, strerror(-s->rc));
	}
}

void doctor_check_sets(struct doctor_report *r, const struct doctor_sets *s)
{
	if (!s->known) {
		doctor_add(r, "ruleset-sets", DOCTOR_WARN, "start ftpgated, then run doctor again",
			   "not checked: ftpgated did not answer, and it fills the protected-servers sets");
		return;
	}
	if (strcmp(s->table, "none") == 0) {
		doctor_add(r, "ruleset-sets", DOCTOR_OK, NULL,
			   "nft-table = none: ftpgated fills no sets; your own rules decide which passive ports are dropped");
		return;
	}
	if (s->out_of_sync) {
		doctor_add(r, "ruleset-sets", DOCTOR_FAIL,
			   "load rules/ftpgate.nft after ftpgated (or include rules/ftpgate-include.nft in the table nft-table names); the daemon log says which set is missing or refused",
			   "the sets of table %s do not hold the configured [server] passive ranges: unannounced connections to them are not dropped",
			   s->table);
		return;
	}
	doctor_add(r, "ruleset-sets", DOCTOR_OK, NULL,
		   "the sets of table %s hold every configured [server] passive range", s->table);
}
