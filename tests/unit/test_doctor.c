/* test_doctor: ftpgatectl doctor's decisions (ok / warn / fail, and the
 * fix in the line) from given facts, and its text and JSON output. */
#include <errno.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "doctor.h"

static struct doctor_report r;

static const struct doctor_line *one(const char *check)
{
	const struct doctor_line *l = doctor_find(&r, check);
	static const struct doctor_line none = { .check = "none", .status = (enum doctor_status)-1 };

	return l != NULL ? l : &none;
}

static void test_modules(void)
{
	struct doctor_module m = { .name = "nft_objref", .config = "CONFIG_NFT_OBJREF", .release = "6.1.0-1-amd64" };
	static const enum doctor_status want[] = {
		[DOCTOR_MODULE_LOADED] = DOCTOR_OK, [DOCTOR_MODULE_BUILTIN] = DOCTOR_OK,
		[DOCTOR_MODULE_LOADABLE] = DOCTOR_OK, [DOCTOR_MODULE_MERGED] = DOCTOR_OK,
		[DOCTOR_MODULE_MISSING] = DOCTOR_FAIL, [DOCTOR_MODULE_NO_TREE] = DOCTOR_FAIL,
	};
	unsigned i;

	for (i = 0; i <= DOCTOR_MODULE_NO_TREE; i++) {
		doctor_report_init(&r);
		m.state = (enum doctor_module_state)i;
		doctor_check_module(&r, "kernel-nft-objref", &m);
		CHECK_INT(one("kernel-nft-objref")->status, want[i]);
	}
	CHECK_STR(one("kernel-nft-objref")->text,
		  "nft_objref is not loaded and /lib/modules/6.1.0-1-amd64 does not exist, so it cannot be loaded");
	/* Debian 13's 6.12: nft_objref is part of nf_tables, no option */
	doctor_report_init(&r);
	m.state = DOCTOR_MODULE_MERGED;
	doctor_check_module(&r, "kernel-nft-objref", &m);
	CHECK_STR(one("kernel-nft-objref")->text,
		  "nft_objref is part of the kernel's nf_tables (CONFIG_NFT_OBJREF is not an option of kernel 6.1.0-1-amd64)");
	doctor_report_init(&r);
	m.state = DOCTOR_MODULE_MISSING;
	doctor_check_module(&r, "kernel-nft-objref", &m);
	CHECK(strstr(one("kernel-nft-objref")->fix, "CONFIG_NFT_OBJREF") != NULL);
	doctor_check_glue(&r, DOCTOR_CONFIG_UNSET, "/boot/config-x");
	CHECK_INT(one("kernel-glue")->status, DOCTOR_FAIL);
	doctor_report_init(&r);
	doctor_check_glue(&r, DOCTOR_CONFIG_UNKNOWN, "/boot/config-x");
	CHECK_INT(one("kernel-glue")->status, DOCTOR_WARN);
}

static void helper_case(struct doctor_helper h, enum doctor_status want, const char *text)
{
	doctor_report_init(&r);
	h.name = "ftpgate";
	h.query_err = "kernel says no";
	doctor_check_helper(&r, &h);
	CHECK_INT(one("helper")->status, want);
	if (text != NULL)
		CHECK_STR(one("helper")->text, text);
}

static void test_helper(void)
{
	struct doctor_helper good = { .enabled = true, .queue = 7, .queue_listed = true,
				      .queue_bound = true, .daemon_known = true,
				      .daemon_pid = 42, .daemon_queue = 7 };
	struct doctor_helper h;

	helper_case(good, DOCTOR_OK, "helper \"ftpgate\" registered, enabled, queue 7 read by ftpgated pid 42");
	h = good; h.query_rc = -ENOENT;
	helper_case(h, DOCTOR_FAIL, "helper \"ftpgate\" is not registered: ftpgated is not running");
	h = good; h.query_rc = -EPERM;
	helper_case(h, DOCTOR_WARN, NULL);
	h = good; h.query_rc = -EOPNOTSUPP;
	helper_case(h, DOCTOR_FAIL, "cannot ask the kernel for helper \"ftpgate\": kernel says no");
	h = good; h.enabled = false;
	helper_case(h, DOCTOR_FAIL, NULL);
	h = good; h.queue_bound = false;	/* SIGKILLed daemon */
	helper_case(h, DOCTOR_FAIL, NULL);
	CHECK(strstr(one("helper")->fix, "ftpgated --disable-helper") != NULL);
	h = good; h.daemon_queue = 8;
	helper_case(h, DOCTOR_FAIL, NULL);
	h = good; h.daemon_known = false;	/* control socket gone */
	helper_case(h, DOCTOR_OK, NULL);
}

static const struct nftrules_port_range passive = { 1024, 65535 };

static void ruleset_case(const struct nftrules_summary *s)
{
	struct doctor_ruleset rs = { .helper = "ftpgate", .s = s, .passive = &passive, .npassive = 1 };

	doctor_report_init(&r);
	doctor_check_ruleset(&r, &rs);
}

static struct nftrules_summary attached(const char *hook, int prio, bool nat)
{
	struct nftrules_summary s = { .tables = 1, .helper_objects = 1, .attach_count = 1, .nat = nat };

	snprintf(s.object, sizeof(s.object), "inet ftpgate ftpgate");
	snprintf(s.nat_chain, sizeof(s.nat_chain), "ip nat prerouting");
	snprintf(s.attach[0].hook, sizeof(s.attach[0].hook), "%s", hook);
	snprintf(s.attach[0].base_chain, sizeof(s.attach[0].base_chain), "pre");
	snprintf(s.attach[0].rule.family, sizeof(s.attach[0].rule.family), "inet");
	snprintf(s.attach[0].rule.table, sizeof(s.attach[0].rule.table), "ftpgate");
	snprintf(s.attach[0].rule.chain, sizeof(s.attach[0].rule.chain), "pre");
	s.attach[0].rule.handle = 4;
	s.attach[0].prio = prio;
	return s;
}

static void test_ruleset(void)
{
	struct nftrules_summary s = attached("prerouting", 0, false);
	struct doctor_ruleset failed = { .helper = "ftpgate", .nft_rc = -ENOENT, .nft_err = "",
					 .passive = &passive, .npassive = 1 };

	s.passive_closed = true;
	ruleset_case(&s);
	CHECK_INT(doctor_count(&r, DOCTOR_OK), 3);
	CHECK_STR(one("ruleset")->text, "ct helper object inet ftpgate ftpgate attached by rule inet ftpgate pre handle 4");
	/* after dstnat with NAT: fail; before it: ok; before conntrack: fail */
	s = attached("prerouting", 0, true);
	ruleset_case(&s);
	CHECK_INT(one("helper-chain")->status, DOCTOR_FAIL);
	CHECK(strstr(one("helper-chain")->fix, "-150") != NULL);
	CHECK_INT(one("ruleset")->status, DOCTOR_OK);
	s = attached("prerouting", -100, true);
	ruleset_case(&s);
	CHECK_INT(one("helper-chain")->status, DOCTOR_FAIL);
	s = attached("prerouting", -150, true);
	ruleset_case(&s);
	CHECK_INT(one("helper-chain")->status, DOCTOR_OK);
	s = attached("prerouting", -200, false);
	ruleset_case(&s);
	CHECK_INT(one("helper-chain")->status, DOCTOR_FAIL);
	s = attached("forward", 0, false);
	ruleset_case(&s);
	CHECK_INT(one("helper-chain")->status, DOCTOR_WARN);
	/* no helper object; an object nothing attaches */
	s = attached("prerouting", 0, false);
	s.helper_objects = 0;
	s.attach_count = 0;
	ruleset_case(&s);
	CHECK_INT(one("ruleset")->status, DOCTOR_FAIL);
	CHECK_INT(one("helper-chain")->status, DOCTOR_WARN);
	s.helper_objects = 1;
	ruleset_case(&s);
	CHECK_INT(one("ruleset")->status, DOCTOR_FAIL);
	/* closed: ok; another rule admits the range and nothing drops it:
	 * warn; nothing drops it at all: warn */
	s = attached("prerouting", 0, false);
	s.passive_closed = true;
	snprintf(s.closed_by, sizeof(s.closed_by), "rule inet ftpgate forward handle 14");
	ruleset_case(&s);
	CHECK_STR(one("passive-ports")->text,
		  "new connections to the passive range 1024-65535 are dropped by rule inet ftpgate forward handle 14 unless an ftpgate pinhole admits them");
	s.passive_closed = false;
	s.forward_chains = 2;
	s.admit_count = 2;
	s.admit[0].rule = s.attach[0].rule;
	s.admit[0].rule.handle = 9;
	s.admit[0].ports = (struct nftrules_port_range){ 2000, 3000 };
	ruleset_case(&s);
	CHECK_INT(one("passive-ports")->status, DOCTOR_WARN);
	CHECK_STR(one("passive-ports")->text,
		  "rule inet ftpgate pre handle 9 accepts new TCP connections to ports 2000-3000 of the passive range before anything drops them, and no forward chain drops them (and 1 more chains): pinholes restrict nothing");
	s.admit_count = 0;
	ruleset_case(&s);
	CHECK_INT(one("passive-ports")->status, DOCTOR_WARN);
	CHECK_STR(one("passive-ports")->text,
		  "no forward chain (of 2) drops new connections to the passive range 1024-65535: pinholes restrict nothing");
	/* nft missing: three lines, the ruleset fails */
	doctor_report_init(&r);
	doctor_check_ruleset(&r, &failed);
	CHECK_INT(r.count, 3);
	CHECK_INT(one("ruleset")->status, DOCTOR_FAIL);
	failed.nft_rc = -EPERM;
	doctor_report_init(&r);
	doctor_check_ruleset(&r, &failed);
	CHECK_INT(one("ruleset")->status, DOCTOR_WARN);
}

static void test_tables(void)
{
	struct doctor_table t = { .what = "expectation table", .sysctl = "net.netfilter.nf_conntrack_expect_max",
				  .known = true, .max = 10 };
	static const struct { uint64_t count; enum doctor_status want; } cases[] = {
		{ 0, DOCTOR_OK }, { 7, DOCTOR_OK }, { 8, DOCTOR_WARN }, { 9, DOCTOR_FAIL }, { 10, DOCTOR_FAIL },
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doctor_report_init(&r);
		t.count = cases[i].count;
		doctor_check_table(&r, "expect-table", &t);
		CHECK_INT(one("expect-table")->status, cases[i].want);
	}
	CHECK_STR(one("expect-table")->text, "expectation table 10 of 10 used (100%): new pinholes fail when it is full");
	CHECK_STR(one("expect-table")->fix, "raise it: sysctl -w net.netfilter.nf_conntrack_expect_max=4096 (and in /etc/sysctl.d/)");
	doctor_report_init(&r);
	t.known = false;
	t.why_unknown = "cannot read it";
	doctor_check_table(&r, "expect-table", &t);
	CHECK_INT(one("expect-table")->status, DOCTOR_WARN);
}

static void test_audit_socket(void)
{
	struct doctor_audit a = { .path = "/var/log/ftpgate/audit.log", .source = "ftpgated" };
	struct doctor_socket s = { .path = "/run/ftpgate/ftpgated.sock", .rc = 0, .answer = "ftpgated 0.1.0" };

	doctor_report_init(&r);
	doctor_check_audit(&r, &a);
	CHECK_STR(one("audit-log")->text, "/var/log/ftpgate/audit.log writable (from ftpgated)");
	a.access_rc = -EROFS;
	doctor_report_init(&r);
	doctor_check_audit(&r, &a);
	CHECK_STR(one("audit-log")->text, "/var/log/ftpgate/audit.log (from ftpgated) is not writable: Read-only file system");
	a.access_rc = 0;
	a.fs_full = true;
	doctor_report_init(&r);
	doctor_check_audit(&r, &a);
	CHECK_INT(one("audit-log")->status, DOCTOR_FAIL);
	doctor_report_init(&r);
	doctor_check_socket(&r, &s);
	CHECK_INT(one("control-socket")->status, DOCTOR_OK);
	s.rc = -ENOENT;
	doctor_report_init(&r);
	doctor_check_socket(&r, &s);
	CHECK_INT(one("control-socket")->status, DOCTOR_FAIL);
	CHECK_STR(one("control-socket")->text, "no control socket /run/ftpgate/ftpgated.sock");
	doctor_check_config(&r, "/etc/ftpgate/ftpgate.conf", -EINVAL, "/etc/ftpgate/ftpgate.conf line 3: unknown key");
	CHECK_INT(one("config")->status, DOCTOR_FAIL);
}

/* Issue 19: the rules and the configuration disagree (the sets missing,
 * emptied, or an update refused) and doctor says so on its own line. */
static void test_sets(void)
{
	struct doctor_sets s = { .known = true, .table = "inet ftpgate" };

	doctor_report_init(&r);
	doctor_check_sets(&r, &s);
	CHECK_INT(one("ruleset-sets")->status, DOCTOR_OK);
	CHECK_STR(one("ruleset-sets")->text,
		  "the sets of table inet ftpgate hold every configured [server] passive range");
	doctor_report_init(&r);
	s.out_of_sync = true;
	doctor_check_sets(&r, &s);
	CHECK_INT(one("ruleset-sets")->status, DOCTOR_FAIL);
	CHECK(strstr(one("ruleset-sets")->fix, "load rules/ftpgate.nft after ftpgated") != NULL);
	doctor_report_init(&r);
	s.table = "none";
	doctor_check_sets(&r, &s);
	CHECK_INT(one("ruleset-sets")->status, DOCTOR_OK);
	doctor_report_init(&r);
	s.known = false;
	doctor_check_sets(&r, &s);
	CHECK_INT(one("ruleset-sets")->status, DOCTOR_WARN);
}

static void test_render(void)
{
	struct strbuf out;
	json_t *root;

	doctor_report_init(&r);
	doctor_add(&r, "helper", DOCTOR_FAIL, "start it", "not \"there\"");
	doctor_add(&r, "ruleset", DOCTOR_OK, NULL, "fine");
	strbuf_init(&out, 1 << 16);
	doctor_render_text(&r, &out);
	CHECK_STR(strbuf_str(&out),
		  "fail helper            not \"there\"; fix: start it\n"
		  "ok   ruleset           fine\n"
		  "doctor: 1 ok, 0 warn, 1 fail\n");
	strbuf_reset(&out);
	doctor_render_json(&r, &out);
	root = json_loads(strbuf_str(&out), 0, NULL);
	CHECK(root != NULL);
	CHECK_INT(json_integer_value(json_object_get(root, "fail")), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(root, "checks"), 0), "message")),
		  "not \"there\"");
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(root, "checks"), 1), "fix")));
	json_decref(root);
	strbuf_free(&out);
}

int main(void)
{
	test_modules();
	test_sets();
	test_helper();
	test_ruleset();
	test_tables();
	test_audit_socket();
	test_render();
	return check_report("doctor");
}
