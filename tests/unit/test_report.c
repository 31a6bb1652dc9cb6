/* test_report: what ftpgatectl prints (stats, pinholes, sessions, ports;
 * tables and JSON) and the Prometheus metrics, from the same counters. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json_check.h"
#include "metrics.h"
#include "report.h"
#include "stats.h"

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	if (inet_addr_parse(s, &a) < 0)
		abort();
	return a;
}

static bool contains(const struct strbuf *b, const char *s)
{
	return strstr(strbuf_str(b), s) != NULL;
}

/* Prometheus text format: every sample line is NAME[{labels}] VALUE, and
 * every metric name gets exactly one HELP and one TYPE line, before its
 * samples. */
static bool prometheus_ok(const char *text)
{
	char seen[256][96];
	unsigned nseen = 0, i;
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		char name[96];
		size_t n;

		if (end == NULL)
			return false;	/* every line ends in \n */
		if (strncmp(line, "# HELP ", 7) == 0) {
			n = strcspn(line + 7, " ");
			if (n >= sizeof(name))
				return false;
			memcpy(name, line + 7, n);
			name[n] = '\0';
			for (i = 0; i < nseen; i++)
				if (strcmp(seen[i], name) == 0)
					return false;	/* HELP twice */
			if (nseen == 256)
				return false;
			strcpy(seen[nseen++], name);
			if (strncmp(end + 1, "# TYPE ", 7) != 0 ||
			    strncmp(end + 8, name, n) != 0)
				return false;
		} else if (line[0] != '#') {
			n = strcspn(line, "{ ");
			if (n == 0 || strncmp(line, "ftpgate_", 8) != 0)
				return false;
			memcpy(name, line, n);
			name[n] = '\0';
			for (i = 0; i < nseen; i++)
				if (strcmp(seen[i], name) == 0)
					break;
			if (i == nseen)
				return false;	/* sample before its HELP */
			if (memchr(line, ' ', (size_t)(end - line)) == NULL)
				return false;
		}
		line = end + 1;
	}
	return true;
}

static void test_stats(void)
{
	struct stats s;
	struct strbuf b;
	struct json j;

	memset(&s, 0, sizeof(s));
	s.packets = 120;
	s.replies_parsed = 33;
	s.pinholes_opened = 5;
	s.pinholes_closed[PINHOLE_CLOSE_USED] = 3;
	s.pinholes_closed[PINHOLE_CLOSE_EXPIRED] = 1;
	s.refused[POLICY_REFUSE_PRIVILEGED_PORT] = 2;
	s.refused[POLICY_REFUSE_UNSOLICITED] = 1;
	s.data_trouble[STATS_TROUBLE_425] = 4;
	s.nft_sets_problems[STATS_SETS_MISSING] = 2;
	s.nft_sets_problems[STATS_SETS_CHANGED] = 1;
	s.nft_sets_updates = 5;
	s.nft_sets_managed = 1;
	s.nft_sets_out_of_sync = 1;
	s.queue_kernel_dropped = 7;
	s.audit_events_lost = 9;
	s.lines_rejected_rule[SESSION_RULE_BARE_CR] = 1;

	CHECK_INT(stats_refused_total(&s), 3);
	CHECK_INT(stats_trouble_index(425), STATS_TROUBLE_425);
	CHECK_INT(stats_trouble_index(421), STATS_TROUBLE_421);
	CHECK_INT(stats_trouble_index(426), STATS_TROUBLE_426);
	CHECK_INT(stats_trouble_index(450), -1);

	strbuf_init(&b, 1 << 16);
	stats_render_text(&s, &b);
	CHECK(contains(&b, "packets_total "));
	CHECK(contains(&b, "replies_parsed_total "));
	CHECK(contains(&b, "pinholes_closed_total{outcome=\"used\"}"));
	CHECK(contains(&b, "pinholes_refused_total{reason=\"privileged-port\"}"));
	CHECK(contains(&b, "data_trouble_replies_total{code=\"425\"}"));
	CHECK(contains(&b, "queue_kernel_dropped_total "));
	CHECK(contains(&b, "audit_events_lost_total "));
	CHECK(contains(&b, "lines_rejected_total{rule=\"bare-cr\"}"));
	CHECK(contains(&b, "nft_sets_problems_total{problem=\"missing\"}"));
	CHECK(contains(&b, "nft_sets_out_of_sync "));
	strbuf_reset(&b);

	json_init(&j, &b);
	stats_render_json(&s, &j);
	CHECK(!j.error);
	CHECK(json_valid(strbuf_str(&b), b.len));
	CHECK(contains(&b, "\"packets_total\":120,"));
	CHECK(contains(&b, "\"pinholes_closed_total\":{\"used\":3,\"expired\":1,"));
	CHECK(contains(&b, "\"privileged-port\":2"));
	CHECK(contains(&b, "\"data_trouble_replies_total\":{\"421\":0,\"425\":4,\"426\":0}"));
	/* the ruleset's sets, for ftpgatectl doctor */
	CHECK(contains(&b, "\"nft_sets_problems_total\":{\"missing\":2,\"emptied\":0,\"changed\":1,\"update-failed\":0}"));
	CHECK(contains(&b, "\"nft_sets_updates_total\":5,\"nft_sets_managed\":1,\"nft_sets_out_of_sync\":1,"));
	strbuf_free(&b);
}

static void test_metrics(void)
{
	struct stats s;
	struct strbuf b;
	struct pressure p;
	struct pressure_report r[2];
	struct inet_addr s4 = addr("203.0.113.2"), s6 = addr("2001:db8:2::2");
	char dir[] = "/tmp/test_report.XXXXXX", path[64], err[256], back[256];
	FILE *f;

	memset(&s, 0, sizeof(s));
	s.packets = 120;
	s.refused[POLICY_REFUSE_PORT_RANGE] = 2;
	s.start_time_s = 1714564800;
	CHECK_INT(pressure_init(&p, 60, 120), 0);
	pressure_announce(&p, &s4, 40100, 100000);
	pressure_trouble(&p, &s4, 425, "425 \"busy\"", 100500);
	pressure_report(&p, pressure_find(&p, &s4), &s4, 40100, 40101, 0, 110000, &r[0]);
	pressure_report(&p, NULL, &s6, 40000, 40099, 0, 110000, &r[1]);

	strbuf_init(&b, 1 << 20);
	metrics_render(&s, r, 2, &b);
	CHECK(prometheus_ok(strbuf_str(&b)));
	CHECK(contains(&b, "# HELP ftpgate_packets_total "));
	CHECK(contains(&b, "# TYPE ftpgate_packets_total counter\nftpgate_packets_total 120\n"));
	CHECK(contains(&b, "ftpgate_pinholes_refused_total{reason=\"port-out-of-range\"} 2\n"));
	CHECK(contains(&b, "# TYPE ftpgate_sessions gauge\n"));
	CHECK(contains(&b, "ftpgate_start_time_seconds 1714564800\n"));
	CHECK(contains(&b, "ftpgate_passive_range_ports{server=\"203.0.113.2\"} 2\n"));
	CHECK(contains(&b, "ftpgate_passive_range_ports{server=\"2001:db8:2::2\"} 100\n"));
	CHECK(contains(&b, "ftpgate_passive_sustainable_per_second{server=\"203.0.113.2\"} 0.0166667\n"));
	CHECK(contains(&b, "ftpgate_passive_trouble_replies_total{server=\"203.0.113.2\"} 1\n"));
	CHECK(contains(&b, "# TYPE ftpgate_passive_pressure_level gauge\n"));

	/* the textfile is replaced whole */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/ftpgate.prom", dir);
	CHECK_INT(metrics_write_textfile(path, strbuf_str(&b), b.len, err, sizeof(err)), 0);
	f = fopen(path, "r");
	CHECK(f != NULL && fgets(back, sizeof(back), f) != NULL);
	CHECK(strncmp(back, "# HELP ftpgate_packets_total", 28) == 0);
	if (f)
		fclose(f);
	CHECK(metrics_write_textfile("/nonexistent/x.prom", "x", 1, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/x.prom") != NULL);
	unlink(path);
	rmdir(dir);
	strbuf_free(&b);
	pressure_free(&p);
}

static void test_pinholes(void)
{
	struct report_pinhole_row rows[2];
	struct pinhole known;
	struct strbuf b;

	memset(rows, 0, sizeof(rows));
	memset(&known, 0, sizeof(known));
	rows[0].expect.src = addr("198.51.100.2");
	rows[0].expect.dst = addr("203.0.113.2");
	rows[0].expect.dport = 40012;
	rows[0].master.src = addr("198.51.100.2");
	rows[0].master.dst = addr("203.0.113.2");
	rows[0].master.sport = 41234;
	rows[0].master.dport = 21;
	rows[0].timeout_s = 25;
	rows[0].session_tracked = true;
	known.id = 7;
	known.opened_ms = 5000;
	known.opened_wall_ms = 1714564800000LL;
	known.conntrack_id = 77;
	known.reply_code = 227;
	snprintf(known.command, sizeof(known.command), "PASV");
	snprintf(known.reply, sizeof(known.reply), "227 \"x\" (203,0,113,2,156,76).");
	rows[0].known = &known;
	/* one the daemon did not record (opened before a restart) */
	rows[1] = rows[0];
	rows[1].known = NULL;
	rows[1].expect.dport = 40013;
	rows[1].session_tracked = false;

	strbuf_init(&b, 1 << 16);
	report_pinholes(rows, 2, true, 10000, 1714564805000LL, &b);
	CHECK(json_valid(strbuf_str(&b), b.len));
	CHECK(contains(&b, "\"count\":2,\"pinholes\":[{\"pinhole\":7,"));
	CHECK(contains(&b, "\"port\":40012,\"translated_destination\":null,\"translated_port\":null,\"timeout_s\":25,\"expires\":\"2024-05-01T12:00:30.000Z\""));
	CHECK(contains(&b, "\"known\":true,\"opened\":\"2024-05-01T12:00:00.000Z\",\"age_s\":5,"));
	CHECK(contains(&b, "\"reply\":\"227 \\\"x\\\" (203,0,113,2,156,76).\""));
	CHECK(contains(&b, "{\"pinhole\":null,"));
	CHECK(contains(&b, "\"known\":false,\"opened\":null"));
	strbuf_reset(&b);

	report_pinholes(rows, 2, false, 10000, 1714564805000LL, &b);
	CHECK(contains(&b, "198.51.100.2:*"));
	CHECK(contains(&b, "203.0.113.2:40012"));
	CHECK(contains(&b, "PASV / 227"));
	CHECK(contains(&b, "not recorded by this daemon"));
	CHECK(contains(&b, "2 pinholes open"));
	strbuf_reset(&b);
	/* a translated one (DNAT-published server): both sides */
	rows[0].expect.dst = addr("198.51.100.1");
	rows[0].nat = (struct flow_nat){ true, addr("203.0.113.2"), 40012 };
	report_pinholes(rows, 1, true, 10000, 1714564805000LL, &b);
	CHECK(contains(&b, "\"destination\":\"198.51.100.1\",\"port\":40012,\"translated_destination\":\"203.0.113.2\",\"translated_port\":40012,"));
	strbuf_reset(&b);
	report_pinholes(rows, 1, false, 10000, 1714564805000LL, &b);
	CHECK(contains(&b, "198.51.100.1:40012 => 203.0.113.2:40012"));
	strbuf_reset(&b);
	report_pinholes(rows, 0, false, 0, 0, &b);
	CHECK(contains(&b, "no pinholes open"));
	strbuf_reset(&b);
	report_pinholes(rows, 0, true, 0, 0, &b);
	CHECK_STR(strbuf_str(&b), "{\"source\":\"kernel expectation table, helper ftpgate\",\"count\":0,\"pinholes\":[]}\n");
	strbuf_free(&b);
}

static void test_sessions_ports(void)
{
	struct report_session_row s;
	struct pressure p;
	struct pressure_report r;
	struct inet_addr sv = addr("203.0.113.2");
	struct strbuf b;
	char t[16];

	memset(&s, 0, sizeof(s));
	s.control.client = addr("2001:db8:1::2");
	s.control.server = addr("2001:db8:2::2");
	s.control.client_port = 50000;
	s.control.server_port = 21;
	s.control.conntrack_id = 12;
	s.age_ms = 65000;
	s.pinholes_open = 1;
	strbuf_init(&b, 1 << 16);
	report_sessions(&s, 1, true, &b);
	CHECK(json_valid(strbuf_str(&b), b.len));
	CHECK(contains(&b, "\"age_s\":65,"));
	CHECK(contains(&b, "\"tracking\":true"));
	strbuf_reset(&b);
	report_sessions(&s, 1, false, &b);
	CHECK(contains(&b, "[2001:db8:1::2]:50000"));
	CHECK(contains(&b, "1m05s"));
	strbuf_reset(&b);

	CHECK_INT(pressure_init(&p, 60, 60), 0);
	pressure_announce(&p, &sv, 40100, 100000);
	pressure_announce(&p, &sv, 40101, 101000);
	pressure_trouble(&p, &sv, 425, "425 Try later", 102000);
	pressure_report(&p, pressure_find(&p, &sv), &sv, 40100, 40101, 2, 110000, &r);
	report_ports(&r, 1, false, 60, 60, &b);
	CHECK(contains(&b, "203.0.113.2"));
	CHECK(contains(&b, "40100-40101"));
	CHECK(contains(&b, "2/2"));
	CHECK(contains(&b, "saturated"));
	CHECK(contains(&b, "WARNING 203.0.113.2: passive ports exhausted"));
	strbuf_reset(&b);
	report_ports(&r, 1, true, 60, 60, &b);
	CHECK(json_valid(strbuf_str(&b), b.len));
	CHECK(contains(&b, "\"range_size\":2,"));
	CHECK(contains(&b, "\"occupied\":2,"));
	CHECK(contains(&b, "\"trouble_replies\":1,"));
	CHECK(contains(&b, "\"level\":\"saturated\",\"warning\":\"passive ports exhausted"));
	strbuf_free(&b);
	pressure_free(&p);

	report_duration(0, t, sizeof(t));
	CHECK_STR(t, "0s");
	report_duration(3600 * 1000 + 60 * 1000, t, sizeof(t));
	CHECK_STR(t, "1h01m");
	report_duration(2 * 86400 * 1000ULL + 4 * 3600 * 1000, t, sizeof(t));
	CHECK_STR(t, "2d04h");
}

int main(void)
{
	test_stats();
	test_metrics();
	test_pinholes();
	test_sessions_ports();
	return check_report("report");
}
