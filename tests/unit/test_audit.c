/* test_audit: the audit log's JSON lines (every event type, hostile text),
 * the JSON writer and strbuf underneath, and the writer's loss counting. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "check.h"
#include "json.h"
#include "json_check.h"
#include "strbuf.h"

/* 2024-05-01T12:00:00.123Z */
#define WALL 1714564800123LL

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	if (inet_addr_parse(s, &a) < 0)
		abort();
	return a;
}

/* One complete line: valid JSON, exactly one '\n', at the end. */
static bool one_line(const struct audit_line *l)
{
	const char *t = audit_text(l);
	size_t n = audit_len(l);

	return n > 1 && t[n - 1] == '\n' && memchr(t, '\n', n - 1) == NULL &&
	       strlen(t) == n && json_valid(t, n);
}

static bool has(const struct audit_line *l, const char *s)
{
	return strstr(audit_text(l), s) != NULL;
}

static void test_strbuf(void)
{
	struct strbuf b;
	char small[8];
	int i;

	strbuf_init(&b, 16);
	CHECK_STR(strbuf_str(&b), "");
	CHECK_INT(strbuf_puts(&b, "hello"), 0);
	CHECK_INT(strbuf_printf(&b, " %d", 42), 0);
	CHECK_STR(strbuf_str(&b), "hello 42");
	CHECK_INT(strbuf_puts(&b, "0123456789"), -ENOSPC);
	CHECK(b.truncated);
	CHECK_INT(b.len, 15);		/* 16 with the NUL */
	CHECK_STR(strbuf_str(&b), "hello 420123456");
	strbuf_reset(&b);
	CHECK(!b.truncated);
	for (i = 0; i < 3; i++)
		strbuf_putc(&b, 'x');
	CHECK_STR(strbuf_str(&b), "xxx");
	strbuf_free(&b);

	/* long printf output goes straight into a large buffer */
	strbuf_init(&b, 4096);
	CHECK_INT(strbuf_printf(&b, "%300s|", "a"), 0);
	CHECK_INT(b.len, 301);
	strbuf_free(&b);

	strbuf_init_fixed(&b, small, sizeof(small));
	CHECK_INT(strbuf_puts(&b, "abcdefghij"), -ENOSPC);
	CHECK_STR(small, "abcdefg");
}

static void test_json(void)
{
	struct strbuf b;
	struct json j;
	char hostile[] = "227 \"quoted\" back\\slash\r\nnext\ttab\x01\x7f\xff end";

	strbuf_init(&b, 4096);
	json_init(&j, &b);
	json_object_begin(&j);
	json_kv_str(&j, "a", "plain");
	json_kv_uint(&j, "n", 18446744073709551615ULL);
	json_kv_int(&j, "neg", -5);
	json_kv_bool(&j, "t", true);
	json_kv_null(&j, "z");
	json_kv_str(&j, "null", NULL);
	json_kv_double(&j, "d", 0.5);
	json_kv_double(&j, "nan", 0.0 / 0.0);
	json_key(&j, "list");
	json_array_begin(&j);
	json_uint(&j, 1);
	json_string(&j, "two");
	json_object_begin(&j);
	json_object_end(&j);
	json_array_begin(&j);
	json_array_end(&j);
	json_array_end(&j);
	json_kv_str(&j, "hostile", hostile);
	json_object_end(&j);
	CHECK(!j.error);
	CHECK(json_valid(strbuf_str(&b), b.len));
	CHECK_STR(strbuf_str(&b),
		  "{\"a\":\"plain\",\"n\":18446744073709551615,\"neg\":-5,\"t\":true,"
		  "\"z\":null,\"null\":null,\"d\":0.5,\"nan\":null,"
		  "\"list\":[1,\"two\",{},[]],"
		  "\"hostile\":\"227 \\\"quoted\\\" back\\\\slash\\r\\nnext\\ttab"
		  "\\u0001\\u007f\\u00ff end\"}");
	/* pure ASCII out, whatever came in */
	{
		size_t i;
		bool ascii = true;

		for (i = 0; i < b.len; i++)
			if ((unsigned char)strbuf_str(&b)[i] > 0x7e)
				ascii = false;
		CHECK(ascii);
	}
	strbuf_free(&b);

	/* every byte value escapes to valid JSON */
	{
		char all[256];
		int i;

		for (i = 0; i < 256; i++)
			all[i] = (char)i;
		strbuf_init(&b, 4096);
		json_init(&j, &b);
		json_string_n(&j, all, sizeof(all));
		CHECK(json_valid(strbuf_str(&b), b.len));
		strbuf_free(&b);
	}

	/* misuse is flagged, never out of bounds */
	strbuf_init(&b, 64);
	json_init(&j, &b);
	json_object_end(&j);
	CHECK(j.error);
	strbuf_free(&b);
}

static void test_time(void)
{
	char t[40];

	audit_format_time(WALL, t, sizeof(t));
	CHECK_STR(t, "2024-05-01T12:00:00.123Z");
	audit_format_time(0, t, sizeof(t));
	CHECK_STR(t, "1970-01-01T00:00:00.000Z");
	audit_format_time(WALL + 999, t, sizeof(t));
	CHECK_STR(t, "2024-05-01T12:00:01.122Z");
}

static struct audit_control control4(void)
{
	struct audit_control c = {
		.client = addr("198.51.100.2"), .server = addr("203.0.113.2"),
		.client_port = 41234, .server_port = 21, .conntrack_id = 77,
	};
	return c;
}

static struct pinhole pinhole4(void)
{
	struct pinhole p;

	memset(&p, 0, sizeof(p));
	p.id = 17;
	p.expect.src = addr("198.51.100.2");
	p.expect.dst = addr("203.0.113.2");
	p.expect.dport = 40012;
	p.master.src = addr("198.51.100.2");
	p.master.dst = addr("203.0.113.2");
	p.master.sport = 41234;
	p.master.dport = 21;
	p.conntrack_id = 77;
	p.opened_ms = 1000;
	p.expiry_ms = 31000;
	p.timeout_s = 30;
	p.reply_code = 227;
	snprintf(p.command, sizeof(p.command), "PASV");
	snprintf(p.reply, sizeof(p.reply), "227 Entering Passive Mode (203,0,113,2,156,76).");
	return p;
}

static void test_events(void)
{
	struct audit_control c = control4();
	struct pinhole p = pinhole4();
	struct flow data;
	struct audit_line l;
	struct inet_addr a6 = addr("2001:db8:2::2");

	audit_fmt_session(&l, WALL, "session-started", &c, "new-connection", NULL);
	CHECK(one_line(&l));
	CHECK_STR(audit_text(&l),
		  "{\"v\":1,\"time\":\"2024-05-01T12:00:00.123Z\",\"event\":\"session-started\","
		  "\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\","
		  "\"control\":{\"client\":\"198.51.100.2\",\"client_port\":41234,"
		  "\"server\":\"203.0.113.2\",\"server_port\":21,\"conntrack_id\":77},"
		  "\"reason\":\"new-connection\"}\n");

	audit_fmt_stream_resync(&l, WALL, &c, false, 47,
				"47 bytes of the reply stream passed uninspected; resynchronized at the next line");
	CHECK(one_line(&l));
	CHECK_STR(audit_text(&l),
		  "{\"v\":1,\"time\":\"2024-05-01T12:00:00.123Z\",\"event\":\"stream-resynchronized\","
		  "\"family\":\"ipv4\",\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\","
		  "\"control\":{\"client\":\"198.51.100.2\",\"client_port\":41234,"
		  "\"server\":\"203.0.113.2\",\"server_port\":21,\"conntrack_id\":77},"
		  "\"from\":\"server\",\"skipped_bytes\":47,"
		  "\"detail\":\"47 bytes of the reply stream passed uninspected; resynchronized at the next line\"}\n");
	audit_fmt_stream_resync(&l, WALL, &c, true, 0x7fffffff, "");
	CHECK(one_line(&l));
	CHECK(has(&l, "\"from\":\"client\",\"skipped_bytes\":2147483647,\"detail\":null}"));

	audit_fmt_session_ended(&l, WALL, &c, "closed", 12345, 3, 1);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"session-ended\""));
	CHECK(has(&l, "\"duration_s\":12.345,\"pinholes_opened\":3,\"pinholes_refused\":1}"));

	audit_fmt_pinhole_opened(&l, WALL, 1000, &p, false);
	CHECK(one_line(&l));
	CHECK_STR(audit_text(&l),
		  "{\"v\":1,\"time\":\"2024-05-01T12:00:00.123Z\",\"event\":\"pinhole-opened\","
		  "\"pinhole\":17,\"family\":\"ipv4\",\"protocol\":\"tcp\",\"mode\":\"passive\","
		  "\"client\":\"198.51.100.2\",\"server\":\"203.0.113.2\","
		  "\"source\":\"198.51.100.2\",\"source_port\":null,"
		  "\"destination\":\"203.0.113.2\",\"port\":40012,"
		  "\"translated_destination\":null,\"translated_port\":null,"
		  "\"control\":{\"client\":\"198.51.100.2\",\"client_port\":41234,"
		  "\"server\":\"203.0.113.2\",\"server_port\":21,\"conntrack_id\":77},"
		  "\"command\":\"PASV\",\"reply\":\"227 Entering Passive Mode (203,0,113,2,156,76).\","
		  "\"reply_code\":227,\"adopted\":false,\"timeout_s\":30,"
		  "\"expires\":\"2024-05-01T12:00:30.123Z\",\"refreshed\":false}\n");

	p.adopted = true;
	audit_fmt_pinhole_opened(&l, WALL, 1000, &p, false);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"pinhole-adopted\""));
	p.adopted = false;

	/* active mode: the data connection comes from the server's port 20 */
	{
		struct pinhole q = p;

		q.expect.src = addr("203.0.113.2");
		q.expect.sport = 20;
		q.expect.dst = addr("198.51.100.2");
		q.expect.dport = 50000;
		audit_fmt_pinhole_opened(&l, WALL, 1000, &q, true);
		CHECK(one_line(&l));
		CHECK(has(&l, "\"mode\":\"active\""));
		CHECK(has(&l, "\"source_port\":20"));
		CHECK(has(&l, "\"refreshed\":true"));
	}

	memset(&data, 0, sizeof(data));
	data.src = addr("198.51.100.2");
	data.sport = 50123;
	data.dst = addr("203.0.113.2");
	data.dport = 40012;
	p.state = PINHOLE_GONE;
	p.gone_ms = 3500;
	audit_fmt_pinhole_closed(&l, WALL, 4000, &p, PINHOLE_CLOSE_USED, &data, 99);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"pinhole-used\""));
	CHECK(has(&l, "\"outcome\":\"used\",\"lifetime_s\":2.5,"
		      "\"data\":{\"source\":\"198.51.100.2\",\"source_port\":50123,"
		      "\"destination\":\"203.0.113.2\",\"destination_port\":40012,"
		      "\"conntrack_id\":99}}\n"));
	CHECK(!has(&l, "\"reason\""));

	p.state = PINHOLE_OPEN;
	audit_fmt_pinhole_closed(&l, WALL, 31500, &p, PINHOLE_CLOSE_EXPIRED, NULL, 0);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"pinhole-expired\""));
	CHECK(has(&l, "\"outcome\":\"expired\",\"lifetime_s\":30.5}"));

	audit_fmt_pinhole_closed(&l, WALL, 5000, &p, PINHOLE_CLOSE_SESSION, NULL, 0);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"pinhole-removed\""));
	CHECK(has(&l, "\"outcome\":\"session-ended\",\"reason\":\"session-ended\""));

	snprintf(p.remove_cause, sizeof(p.remove_cause), "transfer-done");
	audit_fmt_pinhole_closed(&l, WALL, 5000, &p, PINHOLE_CLOSE_FTPGATE, NULL, 0);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"reason\":\"removed-by-ftpgate\",\"cause\":\"transfer-done\""));

	audit_fmt_pinhole_closed(&l, WALL, 5000, &p, PINHOLE_CLOSE_UNKNOWN, NULL, 0);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"reason\":\"unknown-events-lost\""));

	/* refused, with the announced address, and without one */
	audit_fmt_pinhole_refused(&l, WALL, &c, POLICY_REFUSE_PRIVILEGED_PORT, false,
				  &c.server, 22, "PASV",
				  "227 Entering Passive Mode (203,0,113,2,0,22).", 227, "");
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"pinhole-refused\",\"reason\":\"privileged-port\""));
	CHECK(has(&l, "\"mode\":\"passive\""));
	CHECK(has(&l, "\"announced\":\"203.0.113.2\",\"port\":22,"));
	CHECK(has(&l, "\"detail\":null}"));
	audit_fmt_pinhole_refused(&l, WALL, &c, POLICY_REFUSE_MALFORMED, false, NULL,
				  0, "PASV", "227 (1,2,3)", 227, "expected six numbers");
	CHECK(one_line(&l));
	CHECK(has(&l, "\"announced\":null,\"port\":null,"));
	CHECK(has(&l, "\"detail\":\"expected six numbers\"}"));

	/* failed install, IPv6 */
	{
		struct audit_control c6 = c;
		struct flow t;

		c6.client = addr("2001:db8:1::2");
		c6.server = a6;
		memset(&t, 0, sizeof(t));
		t.src = c6.client;
		t.dst = a6;
		t.dport = 40000;
		audit_fmt_pinhole_failed(&l, WALL, &c6, &t, "EPSV",
					 "229 Entering Extended Passive Mode (|||40000|)",
					 229, "cannot install expectation: table full");
		CHECK(one_line(&l));
		CHECK(has(&l, "\"event\":\"pinhole-failed\",\"family\":\"ipv6\""));
		CHECK(has(&l, "\"destination\":\"2001:db8:2::2\",\"port\":40000"));
		CHECK(has(&l, "\"error\":\"cannot install expectation: table full\"}"));
	}

	audit_fmt_data_trouble(&l, WALL, &c, 425, "425 Can't open data connection.", "RETR x");
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"data-trouble\",\"code\":425,"));
	CHECK(has(&l, "\"reply\":\"425 Can't open data connection.\",\"command\":\"RETR x\"}"));

	audit_fmt_events_lost(&l, WALL, "conntrack-events", 3);
	CHECK(one_line(&l));
	CHECK(has(&l, "\"event\":\"events-lost\",\"source\":\"conntrack-events\",\"count\":3}"));
}

/* Text from the network cannot break a line or the JSON. */
static void test_hostile(void)
{
	struct audit_control c = control4();
	struct audit_line l;
	struct pinhole p = pinhole4();
	char evil[PINHOLE_TEXT_MAX];
	int i;

	/* quotes, backslashes, newlines and high bytes: every one escapes
	 * to several characters, all at once */
	for (i = 0; i < PINHOLE_TEXT_MAX - 1; i++)
		evil[i] = "\"\\\n\r\x01\xff}{"[i % 8];
	evil[PINHOLE_TEXT_MAX - 1] = '\0';
	memcpy(p.command, evil, sizeof(evil));
	memcpy(p.reply, evil, sizeof(evil));
	memcpy(p.remove_cause, evil, sizeof(p.remove_cause) - 1);
	p.remove_cause[sizeof(p.remove_cause) - 1] = '\0';
	audit_fmt_pinhole_opened(&l, WALL, 0, &p, false);
	CHECK(one_line(&l));
	audit_fmt_pinhole_closed(&l, WALL, 0, &p, PINHOLE_CLOSE_FTPGATE, NULL, 0);
	CHECK(one_line(&l));
	audit_fmt_pinhole_refused(&l, WALL, &c, POLICY_REFUSE_UNSOLICITED, false,
				  &c.server, 4000, evil, evil, 227, evil);
	CHECK(one_line(&l));
	audit_fmt_data_trouble(&l, WALL, &c, 421, evil, evil);
	CHECK(one_line(&l));
	audit_fmt_session(&l, WALL, "session-lost", &c, "bounds", evil);
	CHECK(one_line(&l));
	audit_fmt_stream_resync(&l, WALL, &c, true, 1, evil);
	CHECK(one_line(&l));

	/* an overflowing line is replaced, never cut */
	audit_begin(&l, "pinhole-opened", WALL);
	for (i = 0; i < 100; i++)
		json_kv_str(&l.json, "x", evil);
	audit_end(&l);
	CHECK(one_line(&l));
	CHECK_STR(audit_text(&l), "{\"v\":1,\"time\":\"2024-05-01T12:00:00.123Z\","
		  "\"event\":\"pinhole-opened\",\"truncated\":true}\n");
}

static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

static void test_writer(void)
{
	struct audit_log log;
	struct audit_line l;
	struct audit_control c = control4();
	char dir[] = "/tmp/test_audit.XXXXXX", path[64], err[256] = "";
	const char *text;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/audit.log", dir);

	CHECK_INT(audit_open(&log, "none", err, sizeof(err)), 0);
	audit_fmt_session(&l, WALL, "session-started", &c, "new-connection", NULL);
	CHECK_INT(audit_write(&log, &l), 0);
	CHECK_INT(log.written, 0);
	CHECK_INT(log.lost, 0);

	/* a file that cannot take the lines: every event counted as lost */
	CHECK_INT(audit_open(&log, "/dev/full", err, sizeof(err)), 0);
	CHECK_INT(audit_write(&log, &l), -ENOSPC);
	CHECK_INT(audit_write(&log, &l), -ENOSPC);
	CHECK_INT(log.write_errors, 2);
	CHECK_INT(log.lost, 2);
	CHECK_INT(log.lost_pending, 2);
	CHECK_INT(log.last_error, ENOSPC);
	audit_close(&log);

	/* an unopenable path: the open fails, and so does every write */
	CHECK_INT(audit_open(&log, "/nonexistent/dir/audit.log", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/dir/audit.log") != NULL);
	CHECK_INT(audit_write(&log, &l), -ENOENT);
	CHECK_INT(log.lost, 1);

	/* a symbolic link where the log goes is not followed (issue 11,
	 * finding 9): the file it names stays untouched */
	{
		char target[96], link[96];

		snprintf(target, sizeof(target), "%s/target", dir);
		snprintf(link, sizeof(link), "%s/link.log", dir);
		CHECK(close(open(target, O_WRONLY | O_CREAT, 0600)) == 0);
		CHECK(symlink(target, link) == 0);
		CHECK_INT(audit_open(&log, link, err, sizeof(err)), -ELOOP);
		CHECK(strstr(err, "symbolic link") != NULL);
		CHECK(strstr(err, link) != NULL);
		CHECK_INT(audit_write(&log, &l), -ELOOP);
		CHECK_STR(slurp(target), "");
		audit_close(&log);
		unlink(link);
		unlink(target);
	}

	/* an unopenable path again, as before the symbolic link */
	CHECK_INT(audit_open(&log, "/nonexistent/dir/audit.log", err, sizeof(err)), -ENOENT);
	CHECK_INT(audit_write(&log, &l), -ENOENT);

	/* it comes back (SIGHUP after the fix): the first line says what
	 * was lost, then the event */
	snprintf(log.path, sizeof(log.path), "%s", path);
	CHECK_INT(audit_reopen(&log, err, sizeof(err)), 0);
	CHECK_INT(audit_write(&log, &l), 0);
	CHECK_INT(log.lost_pending, 0);
	CHECK_INT(log.written, 2);
	text = slurp(path);
	CHECK(strncmp(text, "{\"v\":1,\"time\":", 14) == 0);
	CHECK(strstr(text, "\"event\":\"audit-lost\",\"count\":1,\"total\":1}\n{\"v\":1") != NULL);
	CHECK(strstr(text, "\"event\":\"session-started\"") != NULL);
	CHECK(json_valid(text, (size_t)(strchr(text, '\n') - text)));
	audit_write(&log, &l);
	CHECK_INT(log.written, 3);
	audit_close(&log);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_strbuf();
	test_json();
	test_time();
	test_events();
	test_hostile();
	test_writer();
	return check_report("audit");
}
