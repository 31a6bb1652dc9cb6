/* test_nftrules: reading `nft -j list ruleset` for ftpgatectl doctor.
 * tests/unit/nft/admin-forward.json is nft 1.0.6's real output for an
 * administrator's table (forward chain, a regular chain, NAT);
 * ftpgate.json is its real output for rules/ftpgate.nft, except the ct
 * helper object and the `ct helper set` statement, added by hand in the
 * form of libnftables-json(5) because the host kernel refuses a helper
 * object nobody registered (the lab's suite-doctor.sh reads the real one). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nftrules.h"

static const char *fixtures;
static struct nftrules_summary s;

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf = malloc(1 << 20);

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	f = fopen(path, "r");
	if (f == NULL || buf == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static int read_file(const char *name, uint16_t low, uint16_t high)
{
	struct nftrules_port_range passive = { low, high };
	char err[256];
	size_t len;
	char *text = slurp(name, &len);
	int rc = nftrules_read(text, len, "ftpgate", &passive, 1, &s, err, sizeof(err));

	free(text);
	return rc;
}

static int read_text(const char *text)
{
	struct nftrules_port_range passive = { 1024, 65535 };
	char err[256];

	return nftrules_read(text, strlen(text), "ftpgate", &passive, 1, &s, err, sizeof(err));
}

static void test_shipped_ruleset(void)
{
	CHECK_INT(read_file("ftpgate.json", 1024, 65535), 0);
	CHECK_INT(s.tables, 1);
	CHECK_INT(s.helper_objects, 1);
	CHECK_STR(s.object, "inet ftpgate ftpgate");
	CHECK_INT(s.attach_count, 1);
	CHECK_STR(s.attach[0].rule.chain, "prerouting");
	CHECK_STR(s.attach[0].hook, "prerouting");
	CHECK_INT(s.attach[0].prio, 0);
	CHECK_INT(s.attach[0].rule.handle, 10);
	CHECK(!s.nat);
	/* its accepts need ct state related + ct helper; then it drops */
	CHECK_INT(s.forward_chains, 1);
	CHECK_INT(s.admit_count, 0);
	CHECK(s.passive_closed);
	CHECK_STR(s.closed_by, "rule inet ftpgate forward handle 14");
}

static void test_admin_forward(void)
{
	char where[160];

	CHECK_INT(read_file("admin-forward.json", 1024, 65535), 0);
	CHECK_INT(s.helper_objects, 0);
	CHECK_INT(s.attach_count, 0);
	CHECK(s.nat);
	CHECK_STR(s.nat_chain, "inet t nat");
	/* chain fw (policy drop): established,related and related + helper
	 * do not decide; tcp dport {22, 2000-3000} accept does */
	CHECK_INT(s.forward_chains, 1);
	CHECK(!s.passive_closed);
	CHECK_INT(s.admit_count, 1);
	CHECK_INT(s.admit[0].rule.handle, 10);
	CHECK_INT(s.admit[0].ports.low, 2000);
	CHECK_INT(s.admit[0].ports.high, 3000);
	nftrules_where_format(&s.admit[0].rule, where, sizeof(where));
	CHECK_STR(where, "inet t fw handle 10");
	/* a passive range that rule misses: tcp dport != 80 accept decides */
	CHECK_INT(read_file("admin-forward.json", 3001, 4000), 0);
	CHECK_INT(s.admit_count, 1);
	CHECK_INT(s.admit[0].rule.handle, 11);
	CHECK_INT(s.admit[0].ports.low, 3001);
	CHECK_INT(s.admit[0].ports.high, 4000);
}

#define HELPER_OBJ(name, type) \
	"{\"ct helper\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"" name "\",\"type\":\"" type "\",\"protocol\":\"tcp\",\"l3proto\":\"inet\"}}"
#define CHAIN(name, hook, prio, type) \
	"{\"chain\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"" name "\",\"type\":\"" type "\",\"hook\":\"" hook "\",\"prio\":" prio "}}"
#define RULE(chain, handle, expr) \
	"{\"rule\":{\"family\":\"inet\",\"table\":\"x\",\"chain\":\"" chain "\",\"handle\":" handle ",\"expr\":[" expr "]}}"

static void test_reached_and_named(void)
{
	/* attached in a regular chain, reached from prerouting at -150 and
	 * (via a second jump) from another base chain; a helper object of
	 * another type is not ours */
	CHECK_INT(read_text("{\"nftables\":[{\"table\":{\"family\":\"inet\",\"name\":\"x\"}},"
		HELPER_OBJ("fg", "ftpgate") "," HELPER_OBJ("k", "ftp") ","
		CHAIN("pre", "prerouting", "-150", "filter") ","
		CHAIN("late", "prerouting", "\"dstnat - 10\"", "filter") ","
		"{\"chain\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"ftp\"}},"
		RULE("pre", "1", "{\"jump\":{\"target\":\"ftp\"}}") ","
		RULE("late", "2", "{\"goto\":{\"target\":\"ftp\"}}") ","
		RULE("ftp", "3", "{\"ct helper\":\"fg\"}") ","
		RULE("ftp", "4", "{\"ct helper\":\"k\"}") "]}"), 0);
	CHECK_INT(s.helper_objects, 1);
	CHECK_INT(s.attach_count, 2);
	CHECK_STR(s.attach[0].base_chain, "pre");
	CHECK_INT(s.attach[0].prio, -150);
	CHECK_STR(s.attach[0].rule.chain, "ftp");
	CHECK_STR(s.attach[1].base_chain, "late");
	CHECK_INT(s.attach[1].prio, -110);
	CHECK_STR(s.attach[1].object, "fg");
}

static void test_admit_forms(void)
{
	/* chain fw: a ct helper match alone, udp, ct state != new, meta
	 * l4proto != tcp: none decides; then a jump to chain sub, whose
	 * accept into a named set (elements with timeouts) admits before
	 * fw's own drop; chain fw2 drops at its policy; the input chain is
	 * not judged */
	CHECK_INT(read_text("{\"nftables\":["
		"{\"set\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"p\",\"type\":\"inet_service\",\"elem\":[{\"elem\":{\"val\":8080,\"timeout\":10}},21]}},"
		CHAIN("fw", "forward", "0", "filter") "," CHAIN("in", "input", "0", "filter") ","
		"{\"chain\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"sub\"}},"
		RULE("fw", "1", "{\"match\":{\"op\":\"==\",\"left\":{\"ct\":{\"key\":\"helper\"}},\"right\":\"ftpgate\"}},{\"accept\":null}") ","
		RULE("fw", "2", "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"udp\",\"field\":\"dport\"}},\"right\":8080}},{\"accept\":null}") ","
		RULE("fw", "3", "{\"match\":{\"op\":\"!=\",\"left\":{\"ct\":{\"key\":\"state\"}},\"right\":\"new\"}},{\"accept\":null}") ","
		RULE("fw", "4", "{\"match\":{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"l4proto\"}},\"right\":\"tcp\"}},{\"accept\":null}") ","
		RULE("fw", "5", "{\"jump\":{\"target\":\"sub\"}}") ","
		RULE("fw", "6", "{\"drop\":null}") ","
		RULE("sub", "7", "{\"jump\":{\"target\":\"sub\"}}") ","
		RULE("sub", "8", "{\"match\":{\"op\":\"in\",\"left\":{\"ct\":{\"key\":\"state\"}},\"right\":[\"new\"]}},"
			"{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"tcp\",\"field\":\"dport\"}},\"right\":\"@p\"}},{\"accept\":null}") ","
		RULE("in", "9", "{\"drop\":null}") "]}"), 0);
	CHECK_INT(s.forward_chains, 1);
	CHECK(!s.passive_closed);
	CHECK_INT(s.admit_count, 1);
	CHECK_INT(s.admit[0].rule.handle, 8);
	CHECK_STR(s.admit[0].rule.chain, "sub");
	CHECK_INT(s.admit[0].ports.low, 8080);
	CHECK_INT(s.admit[0].ports.high, 8080);
	/* a second forward chain that drops by policy closes the range */
	CHECK_INT(read_text("{\"nftables\":["
		"{\"chain\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"fw\",\"type\":\"filter\",\"hook\":\"forward\",\"prio\":0,\"policy\":\"accept\"}},"
		"{\"chain\":{\"family\":\"inet\",\"table\":\"x\",\"name\":\"fw2\",\"type\":\"filter\",\"hook\":\"forward\",\"prio\":10,\"policy\":\"drop\"}},"
		RULE("fw", "1", "{\"accept\":null}") "]}"), 0);
	CHECK_INT(s.forward_chains, 2);
	CHECK_INT(s.admit_count, 1);
	CHECK(s.passive_closed);
	CHECK_STR(s.closed_by, "the drop policy of chain inet x fw2");
}

/* ftpgate's grant rule (rules/ftpgate.nft: ct state new ip saddr . ip
 * daddr . tcp dport @ftpgate_grants_ipv4 accept) admits only what
 * ftpgated put in the set: it does not open the range; the drop after it
 * closes it. A lookup in another set still admits. */
static void test_grant_rule(void)
{
	const char *concat = "{\"concat\":[{\"payload\":{\"protocol\":\"ip\",\"field\":\"saddr\"}},"
		"{\"payload\":{\"protocol\":\"ip\",\"field\":\"daddr\"}},"
		"{\"payload\":{\"protocol\":\"tcp\",\"field\":\"dport\"}}]}";
	char text[2048];

	snprintf(text, sizeof(text), "{\"nftables\":["
		CHAIN("fw", "forward", "0", "filter") ","
		RULE("fw", "1", "{\"match\":{\"op\":\"in\",\"left\":{\"ct\":{\"key\":\"state\"}},\"right\":\"new\"}},"
			"{\"match\":{\"op\":\"==\",\"left\":%s,\"right\":\"@ftpgate_grants_ipv4\"}},{\"counter\":null},{\"accept\":null}") ","
		RULE("fw", "2", "{\"drop\":null}") "]}", concat);
	CHECK_INT(read_text(text), 0);
	CHECK_INT(s.admit_count, 0);
	CHECK(s.passive_closed);
	CHECK_STR(s.closed_by, "rule inet x fw handle 2");
	snprintf(text, sizeof(text), "{\"nftables\":["
		CHAIN("fw", "forward", "0", "filter") ","
		RULE("fw", "1", "{\"match\":{\"op\":\"==\",\"left\":%s,\"right\":\"@mine\"}},{\"accept\":null}") ","
		RULE("fw", "2", "{\"drop\":null}") "]}", concat);
	CHECK_INT(read_text(text), 0);
	CHECK_INT(s.admit_count, 1);
}

static void test_refused(void)
{
	CHECK_INT(read_text("not json"), -EINVAL);
	CHECK_INT(read_text("{\"tables\":[]}"), -EINVAL);
	CHECK_INT(read_text("{\"nftables\":[]}"), 0);
	CHECK_INT(s.tables, 0);
}

int main(int argc, char **argv)
{
	fixtures = argc > 1 ? argv[1] : "tests/unit/nft";
	test_shipped_ruleset();
	test_grant_rule();
	test_admin_forward();
	test_reached_and_named();
	test_admit_forms();
	test_refused();
	return check_report("nftrules");
}
