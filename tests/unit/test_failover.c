/* A gateway pair (doc/ha.md, issue 17): what conntrackd commits into
 * this kernel at a failover, through the packet path and the fake kernel
 * of harness.c. A control connection committed with our helper is
 * tracked at once and may act from its second line on, in strict mode;
 * an expectation of our helper another process created is adopted and
 * audited; ftpgated's own expectations and anything else are not. */
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "check.h"
#include "harness.h"

#define C HARNESS_CLIENT
#define S HARNESS_SERVER
#define V4_CLIENT "198.51.100.2"
#define V4_SERVER "203.0.113.2"
#define STARTED_LONG_AGO (3600u * 1000)
/* 195 * 256 + 80 = 50000 */
#define PASV_227 "227 Entering Passive Mode (203,0,113,2,195,80)\r\n"
#define PASV_227_OTHER_HOST "227 Entering Passive Mode (192,0,2,7,195,80)\r\n"

/* The control connection continues on this gateway mid-stream: its
 * sequence numbers are far from the handshake's. */
static void midstream(struct harness *h)
{
	h->next_seq[C] = 77777;
	h->next_seq[S] = 99999;
}

static void pasv(struct harness *h, const char *reply)
{
	harness_send(h, C, "PASV\r\n");
	harness_send(h, S, reply);
}

/* Committed by conntrackd, then picked up: tracked before its first
 * packet, greeted; the first line of each direction is still cut, the
 * second PASV opens its pinhole. */
static void test_synced_session_continues(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_synced(&h);
	CHECK(harness_tracked(&h));
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"synced\""), 1);
	CHECK_INT(h.d.stats.sessions_synced, 1);
	midstream(&h);
	pasv(&h, PASV_227);
	CHECK_INT(harness_installs(&h), 0);	/* first lines: cut */
	pasv(&h, PASV_227);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(harness_audit_count(&h, "picked-up-mid-stream"), 0);
	harness_fini(&h);
}

/* The same connection picked up without the commit (strict mode, long
 * after the start): ungreeted, nothing opens. The contrast that shows the
 * commit is what makes the difference. */
static void test_unsynced_pickup_ungreeted(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	midstream(&h);
	pasv(&h, PASV_227);
	pasv(&h, PASV_227);
	CHECK_INT(harness_installs(&h), 0);
	CHECK_INT(harness_audit_count(&h, "\"reason\":\"synced\""), 0);
	harness_fini(&h);
}

/* Strict rules keep holding for a synced session: a 227 nobody asked for
 * and a 227 naming another host open nothing. */
static void test_synced_strict_rules(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_synced(&h);
	midstream(&h);
	harness_send(&h, C, "NOOP\r\n");
	harness_send(&h, S, "200 ok\r\n");
	harness_send(&h, S, PASV_227);		/* unsolicited */
	pasv(&h, PASV_227_OTHER_HOST);
	CHECK_INT(harness_installs(&h), 0);
	pasv(&h, PASV_227);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	harness_fini(&h);
}

/* A conntrack NEW event for a connection created by a packet (not born
 * SEEN_REPLY), or committed with another helper: not tracked. */
static void test_not_synced(void)
{
	static const struct {
		uint32_t status;
		const char *helper;
	} cases[] = {
		{ IPS_CONFIRMED, "ftpgate" },
		{ IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED, "ftp" },
		{ IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED, "" },
	};
	struct harness h;
	struct ctnl_msg m;
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
		memset(&m, 0, sizeof(m));
		m.kind = CTNL_CT_NEW;
		m.family = h.client.family;
		m.tuple = (struct flow){ h.client, h.server, h.client_port, h.server_port };
		m.proto = IPPROTO_TCP;
		m.id = h.conntrack_id;
		m.status = cases[i].status;
		snprintf(m.helper, sizeof(m.helper), "%s", cases[i].helper);
		pinholes_kernel_event(&m, &h.d);
		CHECK(!harness_tracked(&h));
		harness_fini(&h);
	}
}

/* An expectation conntrackd committed is adopted (audited, listed),
 * and its data connection ends it as used. */
static void test_synced_expect_adopted(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_synced(&h);
	harness_synced_expect(&h, V4_SERVER, 50123);
	CHECK_INT(harness_audit_count(&h, "pinhole-adopted"), 1);
	CHECK_INT(harness_audit_count(&h, "\"port\":50123"), 1);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 1);
	CHECK_INT(h.d.stats.pinholes_adopted, 1);
	CHECK_INT(h.d.stats.pinholes_opened, 0);
	harness_data_connection(&h, V4_SERVER, 50123);
	CHECK_INT(harness_audit_count(&h, "pinhole-used"), 1);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 0);
	harness_fini(&h);
}

/* conntrackd commits the same expectation again (measured: a bare
 * "conntrackd -c" commits the expectations too, and "-c expect" after it
 * replaced them): the first record is settled (removed-in-kernel) and the
 * expectation the kernel holds now is adopted, so the listing knows it. */
static void test_synced_expect_replaced(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_synced(&h);
	harness_synced_expect(&h, V4_SERVER, 50123);
	harness_expect_replace(&h, V4_SERVER, 50123);
	CHECK_INT(harness_audit_count(&h, "pinhole-adopted"), 2);
	CHECK_INT(harness_audit_count(&h, "\"outcome\":\"removed-in-kernel\""), 1);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 1);
	harness_data_connection(&h, V4_SERVER, 50123);
	CHECK_INT(harness_audit_count(&h, "pinhole-used"), 1);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 0);
	harness_fini(&h);
}

/* A data connection in progress that conntrackd commits (born with a
 * reply seen, its master a synced session) used no pinhole here: no
 * pinhole-used, and a pinhole open for the same port stays open. */
static void test_synced_data_connection(void)
{
	struct harness h;
	struct ctnl_msg m;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_synced(&h);
	harness_synced_expect(&h, V4_SERVER, 50123);
	memset(&m, 0, sizeof(m));
	m.kind = CTNL_CT_NEW;
	m.family = h.client.family;
	m.tuple = (struct flow){ h.client, h.server, 40000, 50123 };
	m.proto = IPPROTO_TCP;
	m.has_master = true;
	m.master = (struct flow){ h.client, h.server, h.client_port, h.server_port };
	m.id = 4321;
	m.status = IPS_EXPECTED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED;
	pinholes_kernel_event(&m, &h.d);
	CHECK_INT(harness_audit_count(&h, "pinhole-used"), 0);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 1);
	harness_fini(&h);
}

/* ftpgated's own expectations are reported by the kernel too (EXP_NEW):
 * they are opened, never adopted, and counted once. */
static void test_own_expect_not_adopted(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(&h);
	pasv(&h, PASV_227);
	CHECK(harness_pinhole(&h, V4_SERVER, 50000));
	CHECK_INT(harness_audit_count(&h, "pinhole-opened"), 1);
	CHECK_INT(harness_audit_count(&h, "pinhole-adopted"), 0);
	CHECK_INT(h.d.stats.pinholes_adopted, 0);
	CHECK_INT(h.d.stats.pinholes_refreshed, 0);
	harness_data_connection(&h, V4_SERVER, 50000);
	CHECK_INT(harness_audit_count(&h, "pinhole-used"), 1);
	harness_fini(&h);
}

/* An EXP_NEW event read after its expectation left the kernel, or whose
 * tuple the kernel now holds under another ID: nothing is adopted. */
static void test_stale_expect_event(void)
{
	struct harness h;
	struct ctnl_msg m;
	unsigned i;

	for (i = 0; i < 2; i++) {
		harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
		h.k.master_no_events = true;	/* queue no event of our own */
		harness_synced_expect(&h, V4_SERVER, 50123);
		CHECK_INT(harness_audit_count(&h, "pinhole-adopted"), 0);
		memset(&m, 0, sizeof(m));
		m.kind = CTNL_EXP_NEW;
		m.family = h.client.family;
		m.tuple = h.k.expect[0].r.expect;
		m.proto = IPPROTO_TCP;
		m.has_master = true;
		m.master = h.k.expect[0].r.master;
		m.id = h.k.expect[0].id + 1;		/* another ID */
		snprintf(m.helper, sizeof(m.helper), "%s", CONFIG_HELPER_NAME);
		if (i == 1) {
			h.k.expect[0].live = false;	/* gone */
			m.id = h.k.expect[0].id;
		}
		pinholes_kernel_event(&m, &h.d);
		CHECK_INT(harness_audit_count(&h, "pinhole-adopted"), 0);
		CHECK_INT(pinhole_table_count(h.d.pinholes), 0);
		harness_fini(&h);
	}
}

/* The control socket's answer to REQUEST ("role backup") from a peer
 * privileged (root, ftpgated's user) or not, in buf; role_answer must
 * return rc. */
static const char *role_from(struct harness *h, const char *request, bool privileged,
			     int rc, char *buf, size_t len)
{
	struct ctl_request req;
	struct strbuf body;
	const char *why = NULL;

	CHECK_INT(ctl_request_parse(request, strlen(request), &req, &why), 0);
	req.privileged = privileged;
	strbuf_init(&body, 4096);
	CHECK_INT(role_answer(&h->d, &req, &body, daemon_now_ms()), rc);
	snprintf(buf, len, "%s", strbuf_str(&body));
	strbuf_free(&body);
	return buf;
}

/* role REQUEST from root, as the failover script sends it. */
static const char *role(struct harness *h, const char *request, char *buf, size_t len)
{
	return role_from(h, request, true, 0, buf, len);
}

/* A tracked session whose PASV opened its pinhole (to port 50000). */
static void session_with_pinhole(struct harness *h)
{
	harness_init(h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	harness_login(h);
	pasv(h, PASV_227);
}

/* Setting the role needs root (or the daemon's user): a member of the
 * socket's group may show it, not relabel what the kernel removes. */
static void test_role_needs_privilege(void)
{
	struct harness h;
	char buf[512];

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	CHECK(strstr(role_from(&h, "role backup", false, -EPERM, buf, sizeof(buf)),
		     "only root") != NULL);
	CHECK(!h.d.backup);
	CHECK_INT(harness_audit_count(&h, "role-changed"), 0);
	CHECK(strncmp(role_from(&h, "role", false, 0, buf, sizeof(buf)),
		      "role: primary for ", 18) == 0);
	harness_fini(&h);
}

/* The role changes between the kernel's removal and ftpgated's decision
 * about the pinhole (a second later, waiting for a data connection): the
 * pinhole is judged by the role it went in, as its session was, so the
 * two lines agree and neither node counts it twice or not at all. */
static void test_role_kept_from_removal(void)
{
	struct harness h;
	char buf[512];
	unsigned i;

	for (i = 0; i < 2; i++) {
		session_with_pinhole(&h);
		if (i == 1)
			role(&h, "role backup", buf, sizeof(buf));
		harness_conntrack_destroy(&h);
		role(&h, i == 1 ? "role primary" : "role backup", buf, sizeof(buf));
		pinholes_tick(&h.d, daemon_now_ms() + 5000);
		CHECK_INT(harness_audit_count(&h, "\"reason\":\"handed-over\""), i == 1 ? 2 : 0);
		CHECK_INT(harness_audit_count(&h, "\"reason\":\"conntrack-destroyed\""), i == 1 ? 0 : 1);
		CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_HANDED_OVER], i == 1 ? 1 : 0);
		CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_SESSION], i == 1 ? 0 : 1);
		harness_fini(&h);
	}
}

/* The kernel removes a session with its pinhole: on the primary an end
 * (session-ended conntrack-destroyed, pinhole removed session-ended); on a
 * backup (ftpgatectl role backup, before conntrackd -t flushes its
 * table) a handover, counted apart, so a pair's two logs do not count
 * the session and the pinhole twice; primary again, an end again. */
static void test_backup_hands_over(void)
{
	struct harness h;
	char buf[512];
	unsigned i;

	for (i = 0; i < 3; i++) {
		session_with_pinhole(&h);
		CHECK(harness_pinhole(&h, V4_SERVER, 50000));
		if (i >= 1) {
			CHECK_STR(role(&h, "role backup", buf, sizeof(buf)), "role: backup (was primary)\n");
			CHECK_INT(harness_audit_count(&h, "\"event\":\"role-changed\",\"role\":\"backup\",\"previous\":\"primary\",\"sessions_tracked\":1,\"pinholes_recorded\":1"), 1);
			CHECK_STR(role(&h, "role backup", buf, sizeof(buf)), "role: backup (was backup)\n");
			CHECK_INT(harness_audit_count(&h, "role-changed"), 1);	/* no change */
			CHECK(strncmp(role(&h, "role", buf, sizeof(buf)), "role: backup for ", 17) == 0);
		}
		if (i == 2)
			CHECK_STR(role(&h, "role primary --json", buf, sizeof(buf)),
				  "{\"role\":\"primary\",\"previous\":\"backup\",\"for_s\":0}\n");
		harness_conntrack_destroy(&h);
		CHECK(!harness_tracked(&h));
		pinholes_tick(&h.d, daemon_now_ms() + 5000);	/* no data connection came */
		if (i == 1) {
			CHECK_INT(harness_audit_count(&h, "\"reason\":\"handed-over\""), 2);
			CHECK_INT(harness_audit_count(&h, "conntrack-destroyed"), 0);
			CHECK_INT(h.d.stats.sessions_handed_over, 1);
			CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_HANDED_OVER], 1);
			CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_SESSION], 0);
		} else {
			CHECK_INT(harness_audit_count(&h, "handed-over"), 0);
			CHECK_INT(harness_audit_count(&h, "\"reason\":\"conntrack-destroyed\""), 1);
			CHECK_INT(h.d.stats.sessions_handed_over, 0);
			CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_SESSION], 1);
		}
		CHECK_INT(h.d.stats.sessions_ended, 1);
		CHECK_INT(harness_audit_count(&h, "pinhole-removed"), 1);
		harness_fini(&h);
	}
}

/* A full registry reads the kernel's events and tries again: a pinhole
 * used meanwhile, whose events were not read yet, makes room, so the new
 * one is recorded (audited whole), not installed unrecorded. */
static void test_full_registry_makes_room(void)
{
	struct harness h;

	harness_init(&h, V4_CLIENT, V4_SERVER, NULL, STARTED_LONG_AGO);
	pinhole_table_destroy(h.d.pinholes);
	CHECK_INT(pinhole_table_create(&h.d.pinholes, 1), 0);	/* one slot */
	harness_login(&h);
	pasv(&h, PASV_227);					/* port 50000 */
	CHECK_INT(pinhole_table_count(h.d.pinholes), 1);
	harness_data_connection_unread(&h, V4_SERVER, 50000);
	pasv(&h, "227 Entering Passive Mode (203,0,113,2,195,81)\r\n");
	CHECK_INT(h.d.stats.pinholes_unrecorded, 0);
	CHECK_INT(h.d.stats.pinholes_closed[PINHOLE_CLOSE_USED], 1);
	CHECK_INT(pinhole_table_count(h.d.pinholes), 1);
	CHECK(harness_pinhole(&h, V4_SERVER, 50001));
	CHECK_INT(harness_audit_count(&h, "\"event\":\"pinhole-used\""), 1);
	harness_fini(&h);
}

int main(void)
{
	test_full_registry_makes_room();
	test_synced_session_continues();
	test_unsynced_pickup_ungreeted();
	test_synced_strict_rules();
	test_not_synced();
	test_synced_expect_adopted();
	test_synced_expect_replaced();
	test_synced_data_connection();
	test_own_expect_not_adopted();
	test_stale_expect_event();
	test_backup_hands_over();
	test_role_kept_from_removal();
	test_role_needs_privilege();
	return check_report("failover");
}
