/* Unit tests for config_load on temporary files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char tmp_path[64];

static void write_file_n(const char *text, size_t len)
{
	int fd;

	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/ftpgate-conf-XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		perror("temp config");
		exit(99);
	}
	close(fd);
}

static void write_file(const char *text)
{
	write_file_n(text, strlen(text));
}

static int load_text(const char *text, struct config *c, char *err,
		     size_t errlen)
{
	write_file(text);
	return config_load(tmp_path, c, err, errlen);
}

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_addr_parse(s, &a) != 0)
		abort();
	return a;
}

/* Expect the file to be refused on `line` with `phrase` in the message,
 * and a config holding a marker value to come back unchanged. */
static void expect_error_at(const char *text, unsigned line, const char *phrase)
{
	struct config c, before;
	char err[512], prefix[128];
	int r;

	config_init_defaults(&c);
	c.queue_number = 4242;
	c.max_sessions = 17;
	memcpy(&before, &c, sizeof(c));
	err[0] = '\0';
	r = load_text(text, &c, err, sizeof(err));
	CHECK_INT(r, -EINVAL);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", tmp_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", tmp_path);
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	CHECK(strstr(err, phrase) != NULL);
	CHECK(strchr(err, ';') != NULL);	/* "problem; fix" */
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, phrase) == NULL)
		fprintf(stderr, "  got \"%s\", want %s... \"%s\"\n", err,
			prefix, phrase);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	config_free(&c);
}

static void test_defaults(void)
{
	struct config c;

	memset(&c, 0x5a, sizeof(c));
	config_init_defaults(&c);
	CHECK_INT(c.queue_number, 7);
	CHECK_INT(c.queue_max_packets, 1024);
	CHECK_INT(c.queue_rcvbuf_bytes, 8388608);
	CHECK_INT(c.max_sessions, 4096);
	CHECK_INT(c.session_buffer_max, 8192);
	CHECK_INT(c.line_max, 512);
	CHECK_INT(c.session_idle_s, 3600);
	CHECK_INT(c.pressure_window_s, 120);
	CHECK_INT(c.time_wait_s, 120);
	CHECK_INT(c.policy.passive_range.low, 1024);
	CHECK_INT(c.policy.passive_range.high, 65535);
	CHECK_INT(c.policy.max_pinholes_per_session, 8);
	CHECK_INT(c.policy.max_pinholes_per_client, 256);
	CHECK_INT(c.policy.expect_timeout_s, 30);
	CHECK(!c.policy.active_mode);
	CHECK_INT(c.policy.active_client_range.low, 1024);
	CHECK_INT(c.policy.active_client_range.high, 65535);
	CHECK_INT(c.policy.active_source_port, POLICY_SOURCE_PORT_ANY);
	CHECK(c.policy.strict);
	CHECK(c.policy.servers == NULL);
	CHECK_INT(c.policy.server_count, 0);
	CHECK_STR(c.audit_log, "");
	CHECK_STR(c.control_socket, "/run/ftpgate/ftpgated.sock");
	CHECK_STR(c.control_group, "");
	CHECK_STR(c.metrics_textfile, "");
	CHECK_STR(c.nft_table, "ftpgate");
	config_free(&c);
	config_free(&c);
}

/* active-open: global and per server, reply by default. */
static void test_active_open_key(void)
{
	struct config c;
	char err[256] = "";
	struct inet_addr a = addr("192.0.2.10"), b = addr("192.0.2.20");

	config_init_defaults(&c);
	CHECK_INT(c.policy.active_open, POLICY_ACTIVE_OPEN_REPLY);
	CHECK(!policy_active_open_command(&c.policy, &a));
	CHECK_INT(load_text("active-open = command\n"
			    "[server 192.0.2.10]\nactive-open = reply\n"
			    "[server 192.0.2.20]\n", &c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.policy.active_open, POLICY_ACTIVE_OPEN_COMMAND);
	CHECK(!policy_active_open_command(&c.policy, &a));
	CHECK(policy_active_open_command(&c.policy, &b));
	CHECK_INT(load_text("[server 192.0.2.20]\nactive-open = reply\n",
			    &c, err, sizeof(err)), 0);
	CHECK(!policy_active_open_command(&c.policy, &b));
	CHECK(policy_active_open_command(&c.policy, &a));	/* global kept */
	config_free(&c);
	CHECK(!policy_active_open_command(NULL, &a));
	expect_error_at("active-open = 200\n", 1, "bad value '200' for active-open; write active-open = reply or active-open = command");
	expect_error_at("[server 10.0.0.1]\nactive-open = Command\n", 2, "bad value 'Command' for active-open");
	expect_error_at("active-open =\n", 1, "has no value");
}

static void test_active_keys(void)
{
	struct config c;
	char err[256] = "";
	const struct policy_server *s;
	struct inet_addr a;

	config_init_defaults(&c);
	CHECK_INT(load_text(
		"active-mode = on\n"
		"active-client-ports = 50000 - 50999\n"
		"active-source-port = 20\n"
		"strict = off\n"
		"[server 192.0.2.10]\n"
		"active-mode = off\n"
		"strict = on\n"
		"[server 2001:db8::10]\n"
		"active-client-ports = 60000-60000\n"
		"active-source-port = any\n"
		"[server 192.0.2.20]\n",
		&c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK(c.policy.active_mode);
	CHECK_INT(c.policy.active_client_range.low, 50000);
	CHECK_INT(c.policy.active_client_range.high, 50999);
	CHECK_INT(c.policy.active_source_port, POLICY_SOURCE_PORT_20);
	CHECK(!c.policy.strict);
	a = addr("192.0.2.10");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL && s->active_mode == POLICY_SWITCH_OFF &&
	      s->strict == POLICY_SWITCH_ON &&
	      s->active_source_port == POLICY_SOURCE_PORT_INHERIT &&
	      s->active_client_range.low == 0);
	CHECK(!policy_active_mode(&c.policy, &a));
	CHECK(policy_strict(&c.policy, &a));
	CHECK_INT(policy_active_source_port(&c.policy, &a), 20);
	a = addr("2001:db8::10");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL && s->active_mode == POLICY_SWITCH_INHERIT &&
	      s->strict == POLICY_SWITCH_INHERIT &&
	      s->active_source_port == POLICY_SOURCE_PORT_ANY &&
	      s->active_client_range.low == 60000 &&
	      s->active_client_range.high == 60000);
	CHECK(policy_active_mode(&c.policy, &a));
	CHECK(!policy_strict(&c.policy, &a));
	CHECK_INT(policy_active_source_port(&c.policy, &a), 0);
	a = addr("192.0.2.20");
	CHECK(policy_active_mode(&c.policy, &a));
	CHECK(!policy_strict(&c.policy, &a));

	/* a reload without them keeps the global values (like every global
	 * key) and drops the server ones with their sections */
	CHECK_INT(load_text("active-mode = off\n", &c, err, sizeof(err)), 0);
	CHECK(!c.policy.active_mode);
	CHECK(!c.policy.strict);
	CHECK_INT(c.policy.active_source_port, POLICY_SOURCE_PORT_20);
	CHECK_INT(c.policy.server_count, 0);
	config_free(&c);

	expect_error_at("active-mode = yes\n", 1, "bad value 'yes' for active-mode; write active-mode = on or active-mode = off");
	expect_error_at("active-mode = ON\n", 1, "bad value 'ON'");
	expect_error_at("strict = 1\n", 1, "bad value '1' for strict");
	expect_error_at("[server 10.0.0.1]\nstrict = of\n", 2, "bad value 'of' for strict");
	expect_error_at("active-mode = on\nactive-mode = off\n", 2, "set twice");
	expect_error_at("[server 10.0.0.1]\nactive-mode = on\nactive-mode = on\n", 3, "set twice");
	expect_error_at("active-client-ports = 1000-2000\n", 1, "bad active-client-ports value");
	expect_error_at("[server 10.0.0.1]\nactive-client-ports = 3000-2000\n", 2, "bad active-client-ports value");
	expect_error_at("active-source-port = 21\n", 1, "bad value '21' for active-source-port; write active-source-port = any or active-source-port = 20");
	expect_error_at("active-source-port = ANY\n", 1, "bad value 'ANY' for active-source-port");
	expect_error_at("active-source-port =\n", 1, "has no value");
}

static void test_full(void)
{
	struct config c;
	char err[256] = "";
	const struct policy_server *s;
	struct inet_addr a;

	config_init_defaults(&c);
	CHECK_INT(load_text(
		"# ftpgate test\n"
		"\n"
		"queue-number = 12\n"
		"max-sessions=100   # trailing comment\n"
		"\tsession-buffer-bytes\t=\t4096\t\n"
		"line-max-bytes = 1024\r\n"
		"session-idle-seconds = 600\n"
		"expect-timeout-seconds = 3600\n"
		"max-pinholes-per-session = 64\n"
		"max-pinholes-per-client = 65536\n"
		"passive-ports = 30000 - 31000\n"
		"   # indented comment\n"
		"[server 192.0.2.10]\n"
		"passive-ports = 50000-50100\n"
		"announce-address = 203.0.113.5 203.0.113.6\n"
		"\n"
		"[ server   2001:db8::10 ]  # v6\n"
		"announce-address = 2001:db8::11\n"
		"[server 192.0.2.20]\n"
		"[server 192.0.2.30]\n"
		"passive-ports = 1024-1024\n",
		&c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.queue_number, 12);
	CHECK_INT(c.max_sessions, 100);
	CHECK_INT(c.session_buffer_max, 4096);
	CHECK_INT(c.line_max, 1024);
	CHECK_INT(c.session_idle_s, 600);
	CHECK_INT(c.policy.expect_timeout_s, 3600);
	CHECK_INT(c.policy.max_pinholes_per_session, 64);
	CHECK_INT(c.policy.max_pinholes_per_client, 65536);
	CHECK_INT(c.policy.passive_range.low, 30000);
	CHECK_INT(c.policy.passive_range.high, 31000);
	CHECK_INT(c.policy.server_count, 4);

	a = addr("192.0.2.10");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL);
	if (s != NULL) {
		struct inet_addr p1 = addr("203.0.113.5");
		struct inet_addr p2 = addr("203.0.113.6");

		CHECK_INT(s->passive_range.low, 50000);
		CHECK_INT(s->passive_range.high, 50100);
		CHECK_INT(s->announce_count, 2);
		CHECK(inet_addr_equal(&s->announce[0], &p1));
		CHECK(inet_addr_equal(&s->announce[1], &p2));
	}
	a = addr("2001:db8::10");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL);
	if (s != NULL) {
		struct inet_addr p1 = addr("2001:db8::11");

		CHECK_INT(s->passive_range.low, 0);	/* global applies */
		CHECK_INT(s->announce_count, 1);
		CHECK(inet_addr_equal(&s->announce[0], &p1));
	}
	a = addr("192.0.2.20");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL && s->announce_count == 0 && s->passive_range.low == 0);
	a = addr("192.0.2.30");
	s = policy_server_find(&c.policy, &a);
	CHECK(s != NULL && s->passive_range.low == 1024 &&
	      s->passive_range.high == 1024);

	/* the policy uses what was loaded */
	{
		struct inet_addr srv = addr("192.0.2.10");
		struct inet_addr pub = addr("203.0.113.6");
		struct inet_addr srv2 = addr("192.0.2.20");

		CHECK_INT(policy_check_passive(&c.policy, &srv, &pub, 50050, 63), POLICY_ALLOW);
		CHECK_INT(policy_check_passive(&c.policy, &srv, &pub, 30000, 0), POLICY_REFUSE_PORT_RANGE);
		CHECK_INT(policy_check_passive(&c.policy, &srv2, &srv2, 30000, 0), POLICY_ALLOW);
		CHECK_INT(policy_check_passive(&c.policy, &srv2, &srv2, 50050, 0), POLICY_REFUSE_PORT_RANGE);
	}
	config_free(&c);
}

static void test_load_semantics(void)
{
	struct config c;
	struct policy_server *servers;
	char err[256];
	int r;

	/* missing file: -ENOENT, config untouched */
	config_init_defaults(&c);
	c.queue_number = 99;
	r = config_load("/nonexistent/ftpgate.conf", &c, err, sizeof(err));
	CHECK_INT(r, -ENOENT);
	CHECK_INT(c.queue_number, 99);
	CHECK(strstr(err, "/nonexistent/ftpgate.conf") != NULL);

	/* a directory is not a config file */
	r = config_load("/tmp", &c, err, sizeof(err));
	CHECK(r < 0 && r != -ENOENT);
	CHECK(strncmp(err, "/tmp", 4) == 0);
	CHECK_INT(c.queue_number, 99);

	/* empty file: nothing changes */
	CHECK_INT(load_text("", &c, err, sizeof(err)), 0);
	CHECK_INT(c.queue_number, 99);
	CHECK_INT(c.max_sessions, 4096);
	/* no trailing newline on the last line */
	CHECK_INT(load_text("queue-number = 3", &c, err, sizeof(err)), 0);
	CHECK_INT(c.queue_number, 3);
	/* keys not in the file keep the values already in c */
	CHECK_INT(load_text("max-sessions = 5\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c.queue_number, 3);
	CHECK_INT(c.max_sessions, 5);

	/* server list is replaced by a reload, kept by a failed one */
	CHECK_INT(load_text("[server 10.0.0.1]\n[server 10.0.0.2]\n", &c, err,
			    sizeof(err)), 0);
	CHECK_INT(c.policy.server_count, 2);
	servers = c.policy.servers;
	r = load_text("queue-number = 8\n[server 10.0.0.3]\nbogus = 1\n", &c,
		      err, sizeof(err));
	CHECK_INT(r, -EINVAL);
	CHECK(c.policy.servers == servers);
	CHECK_INT(c.policy.server_count, 2);
	CHECK_INT(c.queue_number, 3);
	CHECK_INT(load_text("[server 10.0.0.1]\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c.policy.server_count, 1);
	CHECK_INT(load_text("# none\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c.policy.server_count, 0);
	CHECK(c.policy.servers == NULL);

	/* a tiny error buffer is cut, never overrun */
	{
		char small[12];

		memset(small, 'x', sizeof(small));
		r = load_text("nope = 1\n", &c, small, 8);
		CHECK_INT(r, -EINVAL);
		CHECK_INT(strlen(small), 7);
		CHECK_INT(small[8], 'x');
		CHECK_INT(load_text("nope = 1\n", &c, NULL, 0), -EINVAL);
	}
	config_free(&c);
}

static void test_limits(void)
{
	struct config c;
	char err[256];
	char *text;
	size_t i, n;

	config_init_defaults(&c);

	/* a 1024-character line is fine, 1025 is not */
	text = malloc(4096);
	if (text == NULL)
		abort();
	memset(text, ' ', 1024);
	memcpy(text, "queue-number = 5", 16);
	memcpy(text + 1024, "\n", 2);
	CHECK_INT(load_text(text, &c, err, sizeof(err)), 0);
	CHECK_INT(c.queue_number, 5);
	memcpy(text + 1024, "\r\n", 3);		/* CR does not count */
	CHECK_INT(load_text(text, &c, err, sizeof(err)), 0);
	memcpy(text + 1024, " \n", 3);
	expect_error_at(text, 1, "longer than 1024");
	memset(text, '#', 4000);
	memcpy(text + 4000, "\n", 2);
	expect_error_at(text, 1, "longer than 1024");
	memcpy(text, "\n\n", 2);
	text[3000] = '\n';
	expect_error_at(text, 3, "longer than 1024");
	free(text);

	/* POLICY_SERVERS_MAX sections load; one more is refused */
	n = (size_t)(POLICY_SERVERS_MAX + 1) * 32;
	text = malloc(n);
	if (text == NULL)
		abort();
	text[0] = '\0';
	for (i = 0, n = 0; i < POLICY_SERVERS_MAX; i++)
		n += (size_t)sprintf(text + n, "[server 10.1.%zu.%zu]\n",
				     i / 256, i % 256);
	CHECK_INT(load_text(text, &c, err, sizeof(err)), 0);
	CHECK_INT(c.policy.server_count, POLICY_SERVERS_MAX);
	{
		struct inet_addr last = addr("10.1.3.255");

		CHECK(policy_server_find(&c.policy, &last) != NULL);
	}
	sprintf(text + n, "[server 10.2.0.0]\n");
	expect_error_at(text, POLICY_SERVERS_MAX + 1, "more than 1024");
	free(text);

	/* NUL and other control bytes */
	{
		static const char nul[] = "queue-number = 5\nmax-sessions = 1\0" "0\n";
		struct config d;

		write_file_n(nul, sizeof(nul) - 1);
		config_init_defaults(&d);
		CHECK_INT(config_load(tmp_path, &d, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, ":2: control character (0x00)") != NULL);
		CHECK_INT(d.queue_number, 7);
		config_free(&d);
	}
	expect_error_at("queue-number = 5\x1b\n", 1, "control character (0x1b)");
	expect_error_at("queue-number = 5\rmax-sessions = 3\n", 1,
			"control character (0x0d)");
	config_free(&c);
}

static void test_errors(void)
{
	expect_error_at("queue-number 5\n", 1, "missing '='");
	expect_error_at("# c\n\nqueue-number\n", 3, "missing '='");
	expect_error_at("= 5\n", 1, "missing key");
	expect_error_at("queue-number =\n", 1, "has no value");
	expect_error_at("queue-number = # comment\n", 1, "has no value");
	expect_error_at("queue_number = 5\n", 1, "unknown key 'queue_number'");
	expect_error_at("Queue-Number = 5\n", 1, "unknown key");
	expect_error_at("\n\nfoo = bar\n", 3, "unknown key 'foo'");
	expect_error_at("queue-number = 5\nqueue-number = 6\n", 2,
			"set twice (first at line 1)");

	/* numbers */
	expect_error_at("queue-number = 65536\n", 1, "bad value '65536' for queue-number");
	expect_error_at("queue-number = -1\n", 1, "bad value");
	expect_error_at("queue-number = +1\n", 1, "bad value");
	expect_error_at("queue-number = 0x10\n", 1, "bad value");
	expect_error_at("queue-number = 1 2\n", 1, "bad value");
	expect_error_at("queue-number = 99999999999999999999999\n", 1, "bad value");
	expect_error_at("queue-number = five\n", 1, "bad value");
	expect_error_at("max-sessions = 0\n", 1, "from 1 to");
	expect_error_at("line-max-bytes = 63\n", 1, "from 64 to 4096");
	expect_error_at("line-max-bytes = 4097\n", 1, "from 64 to 4096");
	expect_error_at("expect-timeout-seconds = 0\n", 1, "from 1 to 3600");
	expect_error_at("expect-timeout-seconds = 3601\n", 1, "from 1 to 3600");
	expect_error_at("max-pinholes-per-session = 0\n", 1, "from 1 to 64");
	expect_error_at("max-pinholes-per-session = 65\n", 1, "from 1 to 64");
	expect_error_at("max-pinholes-per-client = 0\n", 1, "from 1 to 65536");
	expect_error_at("max-pinholes-per-client = 65537\n", 1, "from 1 to 65536");
	expect_error_at("[server 192.0.2.1]\nmax-pinholes-per-client = 4\n", 2, "global");
	expect_error_at("session-idle-seconds = 0\n", 1, "bad value");
	expect_error_at("session-buffer-bytes = 100\n", 1, "bad value");
	/* cross check names the later of the two lines */
	expect_error_at("session-buffer-bytes = 1024\nline-max-bytes = 2048\n", 2,
			"smaller than line-max-bytes");
	expect_error_at("line-max-bytes = 4096\n#\nsession-buffer-bytes = 4095\n", 3,
			"smaller than line-max-bytes");
	expect_error_at("session-buffer-bytes = 512\nline-max-bytes = 513\n", 2,
			"at least 513");

	/* port ranges */
	expect_error_at("passive-ports = 1023-2000\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 0-65535\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000-1999\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000-65536\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000-\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = -2000\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000-3000-4000\n", 1, "bad passive-ports");
	expect_error_at("passive-ports = 2000:3000\n", 1, "bad passive-ports");
	expect_error_at("[server 10.0.0.1]\npassive-ports = 80-90\n", 2,
			"bad passive-ports");

	/* sections */
	expect_error_at("[server]\n", 1, "bad section header");
	expect_error_at("[server 10.0.0.1\n", 1, "bad section header");
	expect_error_at("[server 10.0.0.1] x\n", 1, "bad section header");
	expect_error_at("[client 10.0.0.1]\n", 1, "bad section header");
	expect_error_at("[servers 10.0.0.1]\n", 1, "bad section header");
	expect_error_at("[Server 10.0.0.1]\n", 1, "bad section header");
	expect_error_at("[server 10.0.0.1 10.0.0.2]\n", 1, "one address");
	expect_error_at("[server ftp.example.org]\n", 1, "bad server address 'ftp.example.org'");
	expect_error_at("[server 10.0.0.256]\n", 1, "bad server address");
	expect_error_at("[]\n", 1, "bad section header");
	expect_error_at("[\n", 1, "bad section header");
	expect_error_at("[server 10.0.0.1]\n\n[server 10.0.0.1]\n", 3,
			"duplicate server 10.0.0.1 (first at line 1)");
	expect_error_at("[server 2001:db8::1]\n[server 2001:DB8:0::1]\n", 2,
			"duplicate server");
	expect_error_at("[server 10.0.0.1]\nqueue-number = 3\n", 2,
			"global setting but appears inside");
	expect_error_at("[server 10.0.0.1]\nmax-sessions = 3\n", 2,
			"move it above the first [server] line");
	expect_error_at("announce-address = 10.0.0.2\n", 1,
			"only valid inside a [server ADDRESS] section");
	expect_error_at("[server 10.0.0.1]\npassive-ports = 2000-3000\npassive-ports = 2000-3000\n",
			3, "set twice (first at line 2)");
	/* a key may appear once per section, in every section */
	{
		struct config c;
		char err[256];

		config_init_defaults(&c);
		CHECK_INT(load_text("passive-ports = 2000-3000\n"
				    "[server 10.0.0.1]\npassive-ports = 2000-3000\n"
				    "[server 10.0.0.2]\npassive-ports = 2000-3000\n",
				    &c, err, sizeof(err)), 0);
		config_free(&c);
	}

	/* announce-address */
	expect_error_at("[server 10.0.0.1]\nannounce-address = \n", 2, "has no value");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 2001:db8::1\n", 2,
			"is IPv6 but the server is IPv4");
	expect_error_at("[server 2001:db8::1]\nannounce-address = 10.0.0.1\n", 2,
			"is IPv4 but the server is IPv6");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 10.0.0.2 bogus\n", 2,
			"bad announce-address 'bogus'");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 10.0.0.2,10.0.0.3\n", 2,
			"bad announce-address");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 10.0.0.2 10.0.0.2\n", 2,
			"listed twice");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 10.0.0.2\nannounce-address = 10.0.0.3\n",
			3, "set twice");
	expect_error_at("[server 10.0.0.1]\nannounce-address = 10.0.0.2 10.0.0.3 "
			"10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 "
			"10.0.0.10\n", 2, "more than 8");
	{
		struct config c;
		char err[256];

		config_init_defaults(&c);
		CHECK_INT(load_text("[server 10.0.0.1]\nannounce-address = 10.0.0.2 10.0.0.3 "
				    "10.0.0.4 10.0.0.5\t10.0.0.6 10.0.0.7 10.0.0.8  10.0.0.9\n",
				    &c, err, sizeof(err)), 0);
		CHECK_INT(c.policy.server_count, 1);
		if (c.policy.server_count == 1)
			CHECK_INT(c.policy.servers[0].announce_count, 8);
		config_free(&c);
	}
}

/* Audit, control socket, metrics and pressure keys (doc/config.md). */
static void test_audit_keys(void)
{
	struct config c;
	char err[512];

	config_init_defaults(&c);
	CHECK_STR(c.audit_log, "");
	CHECK_STR(c.control_socket, "/run/ftpgate/ftpgated.sock");
	CHECK_STR(c.control_group, "");
	CHECK_STR(c.metrics_textfile, "");
	CHECK_INT(c.pressure_window_s, 120);
	CHECK_INT(c.time_wait_s, 120);
	CHECK_INT(load_text("audit-log = /var/log/ftpgate/audit.log\n"
			    "control-socket = /run/ftpgate-test/ctl.sock\n"
			    "control-socket-group = ftpgate-adm\n"
			    "metrics-textfile = /var/lib/prometheus/node-exporter/ftpgate.prom\n"
			    "pressure-window-seconds = 300\n"
			    "time-wait-seconds = 60\n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.audit_log, "/var/log/ftpgate/audit.log");
	CHECK_STR(c.control_socket, "/run/ftpgate-test/ctl.sock");
	CHECK_STR(c.control_group, "ftpgate-adm");
	CHECK_STR(c.metrics_textfile, "/var/lib/prometheus/node-exporter/ftpgate.prom");
	CHECK_INT(c.pressure_window_s, 300);
	CHECK_INT(c.time_wait_s, 60);
	config_free(&c);

	config_init_defaults(&c);
	CHECK_INT(load_text("audit-log = stdout\ncontrol-socket-group = 4711\n",
			    &c, err, sizeof(err)), 0);
	CHECK_STR(c.audit_log, "stdout");
	CHECK_STR(c.control_group, "4711");
	CHECK_INT(load_text("audit-log = none\n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.audit_log, "none");
	config_free(&c);

	expect_error_at("audit-log = audit.log\n", 1, "bad audit-log 'audit.log'");
	expect_error_at("audit-log = \n", 1, "has no value");
	expect_error_at("control-socket = run/x.sock\n", 1, "bad control-socket");
	expect_error_at("control-socket = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
			1, "at most 107 characters");
	expect_error_at("control-socket-group = wheel users\n", 1, "bad control-socket-group");
	expect_error_at("control-socket-group = -x\n", 1, "bad control-socket-group");
	expect_error_at("metrics-textfile = ftpgate.prom\n", 1, "bad metrics-textfile");
	expect_error_at("pressure-window-seconds = 5\n", 1, "from 10 to 86400");
	expect_error_at("time-wait-seconds = 0\n", 1, "from 1 to 3600");
	expect_error_at("[server 192.0.2.1]\naudit-log = stdout\n", 2, "global setting");
	expect_error_at("audit-log = stdout\naudit-log = none\n", 2, "set twice");
}

/* queue-max-packets and queue-receive-buffer-bytes: ranges, scope. */
static void test_queue_keys(void)
{
	struct config c;
	char err[512];

	config_init_defaults(&c);
	CHECK_INT(load_text("queue-max-packets = 1\n"
			    "queue-receive-buffer-bytes = 4096\n", &c, err,
			    sizeof(err)), 0);
	CHECK_INT(c.queue_max_packets, 1);
	CHECK_INT(c.queue_rcvbuf_bytes, 4096);
	CHECK_INT(load_text("queue-max-packets = 65536\n"
			    "queue-receive-buffer-bytes = 268435456\n", &c, err,
			    sizeof(err)), 0);
	CHECK_INT(c.queue_max_packets, 65536);
	CHECK_INT(c.queue_rcvbuf_bytes, 268435456);
	/* missing from the file: the value in use stays (reload) */
	CHECK_INT(load_text("queue-number = 9\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c.queue_max_packets, 65536);
	CHECK_INT(c.queue_rcvbuf_bytes, 268435456);
	config_free(&c);

	expect_error_at("queue-max-packets = 0\n", 1,
			"bad value '0' for queue-max-packets; use a whole number from 1 to 65536");
	expect_error_at("queue-max-packets = 65537\n", 1, "from 1 to 65536");
	expect_error_at("queue-max-packets = -1\n", 1, "from 1 to 65536");
	expect_error_at("queue-receive-buffer-bytes = 4095\n", 1,
			"bad value '4095' for queue-receive-buffer-bytes; use a whole number from 4096 to 268435456");
	expect_error_at("queue-receive-buffer-bytes = 268435457\n", 1,
			"from 4096 to 268435456");
	expect_error_at("queue-receive-buffer-bytes = 8M\n", 1,
			"from 4096 to 268435456");
	expect_error_at("queue-receive-buffer-bytes = 99999999999999999999999\n", 1,
			"from 4096 to 268435456");
	expect_error_at("[server 192.0.2.1]\nqueue-max-packets = 64\n", 2,
			"global setting");
	expect_error_at("queue-receive-buffer-bytes = 65536\n"
			"queue-receive-buffer-bytes = 65536\n", 2, "set twice");
}

/* nft-table: the inet table whose sets ftpgated fills; "none". */
static void test_nft_table_key(void)
{
	struct config c;
	char err[512];

	config_init_defaults(&c);
	CHECK_STR(c.nft_table, "ftpgate");
	CHECK_INT(load_text("nft-table = inet filter\n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.nft_table, "filter");
	CHECK_INT(load_text("nft-table = inet\tmy-fw_2\n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.nft_table, "my-fw_2");
	CHECK_INT(load_text("nft-table = none\n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.nft_table, "");
	config_free(&c);

	expect_error_at("nft-table = ip filter\n", 1, "write inet NAME");
	expect_error_at("nft-table = filter\n", 1, "write inet NAME");
	expect_error_at("nft-table = inet 2fw\n", 1, "bad nft-table name '2fw'");
	expect_error_at("nft-table = inet a b\n", 1, "bad nft-table name 'a b'");
	expect_error_at("nft-table = inet aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
			1, "at most 63 characters");
	expect_error_at("[server 192.0.2.1]\nnft-table = inet x\n", 2, "global setting");
}

/* tls, max-grants-per-client, grant-lifetime-seconds, grant-max-ports
 * (issue 15). */
static void test_grant_keys(void)
{
	struct config c;
	char err[512];
	struct inet_addr a = addr("192.0.2.10"), b = addr("192.0.2.20");

	config_init_defaults(&c);
	CHECK_INT(c.policy.tls, POLICY_TLS_OPAQUE);
	CHECK_INT(c.policy.max_grants_per_client, 4);
	CHECK_INT(c.policy.grant_lifetime_s, 86400);
	CHECK_INT(c.policy.grant_max_ports, 1000);
	CHECK_INT(load_text("max-grants-per-client = 2\n"
			    "grant-lifetime-seconds = 600\n"
			    "grant-max-ports = 200\n"
			    "[server 192.0.2.10]\n"
			    "passive-ports = 40000-40099\n"
			    "tls = client-range\n"
			    "[server 192.0.2.20]\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c.policy.max_grants_per_client, 2);
	CHECK_INT(c.policy.grant_lifetime_s, 600);
	CHECK_INT(c.policy.grant_max_ports, 200);
	CHECK_INT(policy_tls(&c.policy, &a), POLICY_TLS_CLIENT_RANGE);
	CHECK_INT(policy_tls(&c.policy, &b), POLICY_TLS_OPAQUE);
	CHECK_INT(load_text("tls = client-range\n[server 192.0.2.20]\ntls = opaque\n",
			    &c, err, sizeof(err)), 0);
	CHECK_INT(policy_tls(&c.policy, &a), POLICY_TLS_CLIENT_RANGE);
	CHECK_INT(policy_tls(&c.policy, &b), POLICY_TLS_OPAQUE);
	CHECK_STR(policy_tls_name(POLICY_TLS_CLIENT_RANGE), "client-range");
	config_free(&c);
	expect_error_at("tls = on\n", 1, "bad value 'on' for tls; write tls = opaque or tls = client-range");
	expect_error_at("[server 10.0.0.1]\ntls = Client-Range\n", 2, "bad value 'Client-Range' for tls");
	expect_error_at("[server 10.0.0.1]\nmax-grants-per-client = 3\n", 2, "'max-grants-per-client' is a global setting");
	expect_error_at("grant-lifetime-seconds = 59\n", 1, "bad value '59' for grant-lifetime-seconds; use a whole number from 60 to 604800");
	expect_error_at("grant-max-ports = 0\n", 1, "bad value '0' for grant-max-ports");
	expect_error_at("max-grants-per-client = 1025\n", 1, "from 1 to 1024");
}

int main(void)
{
	test_defaults();
	test_full();
	test_load_semantics();
	test_limits();
	test_errors();
	test_active_keys();
	test_active_open_key();
	test_audit_keys();
	test_queue_keys();
	test_nft_table_key();
	test_grant_keys();
	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	return check_report("config");
}
