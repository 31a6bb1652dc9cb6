/* config: ftpgate.conf, the format of doc/config.md.
 *
 * The file is parsed into a copy of the caller's config and swapped in only
 * when every line was good, so a typo in a reload leaves the running
 * settings alone. Each error names the file and line, what is wrong and
 * what to write instead: the person reading it is fixing a firewall. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "session.h"

#define CONFIG_LINE_MAX 1024

enum config_key {
	CONFIG_KEY_QUEUE,
	CONFIG_KEY_QUEUE_MAX_PACKETS,
	CONFIG_KEY_QUEUE_RCVBUF,
	CONFIG_KEY_CAPTURE,
	CONFIG_KEY_CAPTURE_QUEUE,
	CONFIG_KEY_CAPTURE_LOG_GROUP,
	CONFIG_KEY_MAX_SESSIONS,
	CONFIG_KEY_BUFFER,
	CONFIG_KEY_LINE_MAX,
	CONFIG_KEY_IDLE,
	CONFIG_KEY_EXPECT_TIMEOUT,
	CONFIG_KEY_MAX_PINHOLES,
	CONFIG_KEY_MAX_CLIENT_PINHOLES,
	CONFIG_KEY_PASSIVE_PORTS,
	CONFIG_KEY_ANNOUNCE,
	CONFIG_KEY_ACTIVE_MODE,
	CONFIG_KEY_ACTIVE_CLIENT_PORTS,
	CONFIG_KEY_ACTIVE_SOURCE_PORT,
	CONFIG_KEY_ACTIVE_OPEN,
	CONFIG_KEY_STRICT,
	CONFIG_KEY_AUDIT_LOG,
	CONFIG_KEY_CONTROL_SOCKET,
	CONFIG_KEY_CONTROL_GROUP,
	CONFIG_KEY_METRICS_TEXTFILE,
	CONFIG_KEY_PRESSURE_WINDOW,
	CONFIG_KEY_TIME_WAIT,
	CONFIG_KEY_NFT_TABLE,
	CONFIG_KEY_TLS,
	CONFIG_KEY_MAX_CLIENT_GRANTS,
	CONFIG_KEY_GRANT_LIFETIME,
	CONFIG_KEY_GRANT_MAX_PORTS,
	CONFIG_KEY_COUNT
};

#define CONFIG_GLOBAL 0x1
#define CONFIG_SERVER 0x2

/* The one table of ftpgate.conf's keys: each key's scope, range and
 * default. config_init_defaults applies the defaults as if they were
 * lines of the file; doc/config.md's key tables, its man page and the
 * example file are checked against this table by the unit test
 * config_doc (tests/unit/config-doc.py), which can also rewrite them. */
static const struct config_key_info {
	const char *name;
	unsigned scope;
	unsigned long min, max;		/* for plain numbers */
	const char *value_doc;		/* values, when not a plain number */
	const char *def;		/* the default as the file writes it;
					   NULL: no value of the key */
	const char *def_note;		/* after def in the docs, or alone */
} config_keys[CONFIG_KEY_COUNT] = {
	[CONFIG_KEY_QUEUE] = { "queue-number", CONFIG_GLOBAL, 0, 65535, NULL, "7", NULL },
	/* 1: the least that inspects anything (tiny values provoke
	 * fail-open in tests); 65536 waiting full-size packets hold a few
	 * hundred MiB of kernel memory. 1024 is the kernel's own default. */
	[CONFIG_KEY_QUEUE_MAX_PACKETS] = { "queue-max-packets", CONFIG_GLOBAL, 1, 65536, NULL,
					   "1024", "the kernel's default" },
	/* 4096: the kernel books twice that, room for two full-size packet
	 * messages (2.7-3.6 KiB each, measured: doc/config.md); 256 MiB is
	 * far below the kernel's cap of INT_MAX / 2. */
	[CONFIG_KEY_QUEUE_RCVBUF] = { "queue-receive-buffer-bytes", CONFIG_GLOBAL, 4096, 268435456, NULL,
				      "8388608", "8 MiB" },
	/* doc/config.md "Capture": which packets the kernel holds for
	 * ftpgated, and where the capture ruleset sends the others */
	[CONFIG_KEY_CAPTURE] = { "capture", CONFIG_GLOBAL, 0, 0,
				 "`helper` or `replies`", "helper", NULL },
	[CONFIG_KEY_CAPTURE_QUEUE] = { "capture-queue-number", CONFIG_GLOBAL, 0, 65535, NULL, "8", NULL },
	[CONFIG_KEY_CAPTURE_LOG_GROUP] = { "capture-log-group", CONFIG_GLOBAL, 0, 65535, NULL, "8", NULL },
	[CONFIG_KEY_MAX_SESSIONS] = { "max-sessions", CONFIG_GLOBAL, 1, 1000000, NULL, "4096", NULL },
	[CONFIG_KEY_BUFFER] = { "session-buffer-bytes", CONFIG_GLOBAL, 512, 1048576, NULL, "8192", NULL },
	[CONFIG_KEY_LINE_MAX] = { "line-max-bytes", CONFIG_GLOBAL, 64, 4096, NULL, "512", NULL },
	[CONFIG_KEY_IDLE] = { "session-idle-seconds", CONFIG_GLOBAL, 1, 604800, NULL, "3600", NULL },
	[CONFIG_KEY_EXPECT_TIMEOUT] = { "expect-timeout-seconds", CONFIG_GLOBAL, 1, 3600, NULL, "30", NULL },
	[CONFIG_KEY_MAX_PINHOLES] = { "max-pinholes-per-session", CONFIG_GLOBAL, 1, SESSION_PINHOLES_MAX, NULL,
				      "8", NULL },
	[CONFIG_KEY_MAX_CLIENT_PINHOLES] = { "max-pinholes-per-client", CONFIG_GLOBAL, 1, 65536, NULL,
					     "256", NULL },
	[CONFIG_KEY_PASSIVE_PORTS] = { "passive-ports", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
				       "`LOW-HIGH`", "1024-65535", NULL },
	[CONFIG_KEY_ANNOUNCE] = { "announce-address", CONFIG_SERVER, 0, 0,
				  "1-8 addresses, separated by spaces or tabs", NULL, "none" },
	[CONFIG_KEY_ACTIVE_MODE] = { "active-mode", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
				     "`on` or `off`", "off", NULL },
	[CONFIG_KEY_ACTIVE_CLIENT_PORTS] = { "active-client-ports", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
					     "`LOW-HIGH`", "1024-65535", NULL },
	[CONFIG_KEY_ACTIVE_SOURCE_PORT] = { "active-source-port", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
					    "`any` or `20`", "any", NULL },
	[CONFIG_KEY_ACTIVE_OPEN] = { "active-open", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
				     "`reply` or `command`", "reply", NULL },
	[CONFIG_KEY_STRICT] = { "strict", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
				"`on` or `off`", "on", NULL },
	/* "": decided when the daemon starts (auditlog.c) */
	[CONFIG_KEY_AUDIT_LOG] = { "audit-log", CONFIG_GLOBAL, 0, 0,
				   "a path, `stdout` or `none`", NULL,
				   "stdout with `--foreground`, else `" CONFIG_DEFAULT_AUDIT_LOG "`" },
	[CONFIG_KEY_CONTROL_SOCKET] = { "control-socket", CONFIG_GLOBAL, 0, 0,
					"an absolute path, at most 107 characters", CONFIG_DEFAULT_CONTROL_SOCKET, NULL },
	[CONFIG_KEY_CONTROL_GROUP] = { "control-socket-group", CONFIG_GLOBAL, 0, 0,
				       "a group name or number", NULL, "ftpgated's own group" },
	[CONFIG_KEY_METRICS_TEXTFILE] = { "metrics-textfile", CONFIG_GLOBAL, 0, 0,
					  "an absolute path", NULL, "none" },
	[CONFIG_KEY_PRESSURE_WINDOW] = { "pressure-window-seconds", CONFIG_GLOBAL, 10, 86400, NULL,
					 "120", NULL },
	[CONFIG_KEY_TIME_WAIT] = { "time-wait-seconds", CONFIG_GLOBAL, 1, 3600, NULL, "120", NULL },
	[CONFIG_KEY_NFT_TABLE] = { "nft-table", CONFIG_GLOBAL, 0, 0,
				   "`inet NAME` or `none`", "inet ftpgate", NULL },
	[CONFIG_KEY_TLS] = { "tls", CONFIG_GLOBAL | CONFIG_SERVER, 0, 0,
			     "`opaque` or `client-range`", "opaque", NULL },
	[CONFIG_KEY_MAX_CLIENT_GRANTS] = { "max-grants-per-client", CONFIG_GLOBAL, 1, 1024, NULL, "4", NULL },
	/* the grant's nft element timeout: the backstop should ftpgated
	 * miss the end of its control connection (doc/config.md) */
	[CONFIG_KEY_GRANT_LIFETIME] = { "grant-lifetime-seconds", CONFIG_GLOBAL, 60, 604800, NULL,
					"86400", NULL },
	[CONFIG_KEY_GRANT_MAX_PORTS] = { "grant-max-ports", CONFIG_GLOBAL, 1, 64512, NULL, "1000", NULL },
};

_Static_assert(CONFIG_SOCKET_MAX == 108,
	       "control-socket's value_doc says at most 107 characters");

struct config_parser {
	const char *path;
	unsigned line;
	char *err;
	size_t errlen;
	struct config tmp;
	size_t server_cap;
	bool in_server;			/* a [server] section is open */
	/* line on which each key was set, 0 if not: in the global part and
	 * in the current section */
	unsigned global_seen[CONFIG_KEY_COUNT];
	unsigned server_seen[CONFIG_KEY_COUNT];
	unsigned *server_lines;		/* header line of each server */
};

void config_free(struct config *c)
{
	if (c != NULL)
		policy_free(&c->policy);
}

__attribute__((format(printf, 2, 3)))
static int config_error(struct config_parser *cp, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cp->err == NULL || cp->errlen == 0)
		return -EINVAL;
	if (cp->line > 0)
		n = snprintf(cp->err, cp->errlen, "%s:%u: ", cp->path, cp->line);
	else
		n = snprintf(cp->err, cp->errlen, "%s: ", cp->path);
	if (n < 0 || (size_t)n >= cp->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(cp->err + n, cp->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool config_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim spaces and tabs in place; returns the start within s. */
static char *config_trim(char *s)
{
	size_t n;

	while (config_is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && config_is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Decimal digits only: no sign, no space, no hex, no empty string. */
static bool config_number(const char *s, unsigned long min, unsigned long max,
			  unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return false;		/* would pass max */
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min)
		return false;
	*out = v;
	return true;
}

/* "LOW-HIGH", spaces allowed around the '-'; 1024 <= LOW <= HIGH. */
static bool config_range(char *s, struct policy_port_range *out)
{
	unsigned long low, high;
	char *dash = strchr(s, '-');

	if (dash == NULL)
		return false;
	*dash = '\0';
	if (!config_number(config_trim(s), 1024, 65535, &low) ||
	    !config_number(config_trim(dash + 1), 1024, 65535, &high) ||
	    low > high)
		return false;
	out->low = (uint16_t)low;
	out->high = (uint16_t)high;
	return true;
}

static const char *config_family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* "[server ADDRESS]", spaces allowed inside the brackets. */
static int config_section(struct config_parser *cp, char *s)
{
	struct policy *p = &cp->tmp.policy;
	struct policy_server *srv;
	struct inet_addr addr;
	size_t n = strlen(s), i;
	char *word, *rest;

	if (n < 2 || s[n - 1] != ']')
		return config_error(cp, "bad section header; write [server ADDRESS]");
	s[n - 1] = '\0';
	word = config_trim(s + 1);
	if (strncmp(word, "server", 6) != 0 || !config_is_space(word[6]))
		return config_error(cp, "bad section header; write [server ADDRESS]");
	rest = config_trim(word + 6);
	if (rest[0] == '\0' || strpbrk(rest, " \t") != NULL)
		return config_error(cp, "bad section header; write [server ADDRESS] with one address");
	if (inet_addr_parse(rest, &addr) < 0)
		return config_error(cp, "bad server address '%s'; use a numeric IPv4 or IPv6 address", rest);
	for (i = 0; i < p->server_count; i++) {
		if (inet_addr_equal(&p->servers[i].addr, &addr))
			return config_error(cp, "duplicate server %s (first at line %u); merge the two sections",
					    rest, cp->server_lines[i]);
	}
	if (p->server_count >= POLICY_SERVERS_MAX)
		return config_error(cp, "more than %d [server] sections; remove some",
				    POLICY_SERVERS_MAX);
	if (p->server_count == cp->server_cap) {
		size_t cap = cp->server_cap ? cp->server_cap * 2 : 8;
		struct policy_server *ns;
		unsigned *nl;

		if (cap > POLICY_SERVERS_MAX)
			cap = POLICY_SERVERS_MAX;
		ns = realloc(p->servers, cap * sizeof(*ns));
		if (ns == NULL)
			return -ENOMEM;
		p->servers = ns;
		nl = realloc(cp->server_lines, cap * sizeof(*nl));
		if (nl == NULL)
			return -ENOMEM;
		cp->server_lines = nl;
		cp->server_cap = cap;
	}
	srv = &p->servers[p->server_count];
	memset(srv, 0, sizeof(*srv));
	srv->addr = addr;
	/* passive_range stays 0-0: "not set, use the global range". */
	cp->server_lines[p->server_count] = cp->line;
	p->server_count++;
	cp->in_server = true;
	memset(cp->server_seen, 0, sizeof(cp->server_seen));
	return 0;
}

static int config_announce(struct config_parser *cp, struct policy_server *srv,
			   char *value)
{
	char *tok, *save = NULL;
	unsigned i;

	srv->announce_count = 0;
	for (tok = strtok_r(value, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		struct inet_addr a;

		if (inet_addr_parse(tok, &a) < 0)
			return config_error(cp, "bad announce-address '%s'; use numeric IPv4 or IPv6 addresses separated by spaces", tok);
		if (a.family != srv->addr.family)
			return config_error(cp, "announce-address %s is %s but the server is %s; use addresses of the server's family",
					    tok, config_family_name(a.family),
					    config_family_name(srv->addr.family));
		for (i = 0; i < srv->announce_count; i++)
			if (inet_addr_equal(&srv->announce[i], &a))
				return config_error(cp, "announce-address %s listed twice; remove one", tok);
		if (srv->announce_count >= POLICY_ANNOUNCE_MAX)
			return config_error(cp, "announce-address lists more than %d addresses; remove some",
					    POLICY_ANNOUNCE_MAX);
		srv->announce[srv->announce_count++] = a;
	}
	if (srv->announce_count == 0)
		return config_error(cp, "announce-address needs at least one address; write announce-address = ADDR [ADDR...]");
	return 0;
}

/* `key = first` or `key = second`, exactly: 0 for first, 1 for second,
 * else config_error's -EINVAL naming both. */
static int config_word(struct config_parser *cp, const char *key,
		       const char *value, const char *first, const char *second)
{
	if (strcmp(value, first) == 0)
		return 0;
	if (strcmp(value, second) == 0)
		return 1;
	return config_error(cp, "bad value '%s' for %s; write %s = %s or %s = %s",
			    value, key, key, first, key, second);
}

/* The keys that take a word or a range rather than a number. Returns 1
 * when k is not one of them. */
static int config_active_setting(struct config_parser *cp, int k,
				 const char *key, char *value)
{
	struct policy *p = &cp->tmp.policy;
	struct policy_server *srv = cp->in_server ? &p->servers[p->server_count - 1] : NULL;
	struct policy_port_range r;
	int w;

	switch (k) {
	case CONFIG_KEY_ACTIVE_MODE:
	case CONFIG_KEY_STRICT:
		if ((w = config_word(cp, key, value, "on", "off")) < 0)
			return w;
		if (srv == NULL && k == CONFIG_KEY_ACTIVE_MODE)
			p->active_mode = w == 0;
		else if (srv == NULL)
			p->strict = w == 0;
		else if (k == CONFIG_KEY_ACTIVE_MODE)
			srv->active_mode = w == 0 ? POLICY_SWITCH_ON : POLICY_SWITCH_OFF;
		else
			srv->strict = w == 0 ? POLICY_SWITCH_ON : POLICY_SWITCH_OFF;
		return 0;
	case CONFIG_KEY_ACTIVE_CLIENT_PORTS:
		if (!config_range(value, &r))
			return config_error(cp, "bad active-client-ports value; write LOW-HIGH with 1024 <= LOW <= HIGH <= 65535");
		if (srv != NULL)
			srv->active_client_range = r;
		else
			p->active_client_range = r;
		return 0;
	case CONFIG_KEY_TLS:
		if ((w = config_word(cp, key, value, "opaque", "client-range")) < 0)
			return w;
		*(srv != NULL ? &srv->tls : &p->tls) =
			w ? POLICY_TLS_CLIENT_RANGE : POLICY_TLS_OPAQUE;
		return 0;
	case CONFIG_KEY_ACTIVE_OPEN:
		if ((w = config_word(cp, key, value, "reply", "command")) < 0)
			return w;
		*(srv != NULL ? &srv->active_open : &p->active_open) =
			w ? POLICY_ACTIVE_OPEN_COMMAND : POLICY_ACTIVE_OPEN_REPLY;
		return 0;
	case CONFIG_KEY_ACTIVE_SOURCE_PORT:
		if ((w = config_word(cp, key, value, "any", "20")) < 0)
			return w;
		*(srv != NULL ? &srv->active_source_port : &p->active_source_port) =
			w ? POLICY_SOURCE_PORT_20 : POLICY_SOURCE_PORT_ANY;
		return 0;
	default:
		return 1;
	}
}

/* An absolute path of at most `max` - 1 characters, or one of the words
 * in `words` (NULL-terminated). */
static bool config_path(const char *value, size_t max, const char *const *words)
{
	for (; words != NULL && *words != NULL; words++)
		if (strcmp(value, *words) == 0)
			return true;
	return value[0] == '/' && strlen(value) < max;
}

/* A group name (letters, digits, '_', '-', '.'; not starting with '-')
 * or a numeric gid; resolved when the daemon starts. */
static bool config_group(const char *value)
{
	size_t i, n = strlen(value);

	if (n == 0 || n >= CONFIG_GROUP_MAX || value[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char ch = value[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/* An nft table name as nft accepts it unquoted: a letter, then letters,
 * digits, '_' and '-'; shorter than CONFIG_NFT_NAME_MAX. */
static bool config_nft_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= CONFIG_NFT_NAME_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* nft-table = inet NAME | none */
static int config_nft_table(struct config_parser *cp, char *value)
{
	struct config *c = &cp->tmp;
	char *name;

	if (strcmp(value, "none") == 0) {
		c->nft_table[0] = '\0';
		return 0;
	}
	if (strncmp(value, "inet", 4) != 0 || (value[4] != ' ' && value[4] != '\t'))
		return config_error(cp, "bad nft-table '%s'; write inet NAME (an inet table, e.g. inet ftpgate) or none", value);
	name = config_trim(value + 5);
	if (!config_nft_name(name))
		return config_error(cp, "bad nft-table name '%s'; a letter, then letters, digits, '_' or '-', at most %d characters",
				    name, CONFIG_NFT_NAME_MAX - 1);
	snprintf(c->nft_table, sizeof(c->nft_table), "%s", name);
	return 0;
}

/* The audit and control keys that take a path or a name. Returns 1 when k
 * is not one of them. */
static int config_audit_setting(struct config_parser *cp, int k, char *value)
{
	static const char *const audit_words[] = { "stdout", "none", NULL };
	struct config *c = &cp->tmp;

	switch (k) {
	case CONFIG_KEY_AUDIT_LOG:
		if (!config_path(value, sizeof(c->audit_log), audit_words))
			return config_error(cp, "bad audit-log '%s'; write an absolute file path (at most %zu characters), stdout or none",
					    value, sizeof(c->audit_log) - 1);
		snprintf(c->audit_log, sizeof(c->audit_log), "%s", value);
		return 0;
	case CONFIG_KEY_CONTROL_SOCKET:
		if (!config_path(value, sizeof(c->control_socket), NULL))
			return config_error(cp, "bad control-socket '%s'; write an absolute path of at most %zu characters",
					    value, sizeof(c->control_socket) - 1);
		snprintf(c->control_socket, sizeof(c->control_socket), "%s", value);
		return 0;
	case CONFIG_KEY_CONTROL_GROUP:
		if (!config_group(value))
			return config_error(cp, "bad control-socket-group '%s'; write a group name or number",
					    value);
		snprintf(c->control_group, sizeof(c->control_group), "%s", value);
		return 0;
	case CONFIG_KEY_NFT_TABLE:
		return config_nft_table(cp, value);
	case CONFIG_KEY_CAPTURE:
		if (strcmp(value, "helper") != 0 && strcmp(value, "replies") != 0)
			return config_error(cp, "bad capture '%s'; write helper (the helper holds every packet of a control connection) or replies (the ruleset holds only the server's data and copies the rest; doc/config.md)",
					    value);
		c->capture_replies = strcmp(value, "replies") == 0;
		return 0;
	case CONFIG_KEY_METRICS_TEXTFILE:
		if (!config_path(value, sizeof(c->metrics_textfile), NULL))
			return config_error(cp, "bad metrics-textfile '%s'; write an absolute path of at most %zu characters (e.g. /var/lib/prometheus/node-exporter/ftpgate.prom)",
					    value, sizeof(c->metrics_textfile) - 1);
		snprintf(c->metrics_textfile, sizeof(c->metrics_textfile), "%s", value);
		return 0;
	default:
		return 1;
	}
}

static int config_setting(struct config_parser *cp, char *s)
{
	struct config *c = &cp->tmp;
	const struct config_key_info *ki = NULL;
	char *eq = strchr(s, '='), *key, *value;
	unsigned *seen;
	unsigned long v = 0;
	int k, ret;

	if (eq == NULL)
		return config_error(cp, "missing '='; write settings as key = value");
	*eq = '\0';
	key = config_trim(s);
	value = config_trim(eq + 1);
	if (key[0] == '\0')
		return config_error(cp, "missing key before '='; write settings as key = value");
	for (k = 0; k < CONFIG_KEY_COUNT; k++) {
		if (strcmp(key, config_keys[k].name) == 0) {
			ki = &config_keys[k];
			break;
		}
	}
	if (ki == NULL)
		return config_error(cp, "unknown key '%s'; see doc/config.md for the valid keys", key);
	if (cp->in_server && !(ki->scope & CONFIG_SERVER))
		return config_error(cp, "'%s' is a global setting but appears inside a [server] section; move it above the first [server] line", key);
	if (!cp->in_server && !(ki->scope & CONFIG_GLOBAL))
		return config_error(cp, "'%s' is only valid inside a [server ADDRESS] section; add one before it", key);
	seen = cp->in_server ? cp->server_seen : cp->global_seen;
	if (seen[k] != 0)
		return config_error(cp, "'%s' is set twice (first at line %u); remove one", key, seen[k]);
	seen[k] = cp->line;
	if (value[0] == '\0')
		return config_error(cp, "'%s' has no value; write %s = VALUE", key, key);

	if (k == CONFIG_KEY_PASSIVE_PORTS) {
		struct policy_port_range r;

		if (!config_range(value, &r))
			return config_error(cp, "bad passive-ports value; write LOW-HIGH with 1024 <= LOW <= HIGH <= 65535");
		if (cp->in_server)
			c->policy.servers[c->policy.server_count - 1].passive_range = r;
		else
			c->policy.passive_range = r;
		return 0;
	}
	if (k == CONFIG_KEY_ANNOUNCE)
		return config_announce(cp, &c->policy.servers[c->policy.server_count - 1], value);
	ret = config_active_setting(cp, k, key, value);
	if (ret <= 0)
		return ret;
	ret = config_audit_setting(cp, k, value);
	if (ret <= 0)
		return ret;

	if (!config_number(value, ki->min, ki->max, &v))
		return config_error(cp, "bad value '%s' for %s; use a whole number from %lu to %lu",
				    value, key, ki->min, ki->max);
	switch (k) {
	case CONFIG_KEY_QUEUE:		c->queue_number = (uint16_t)v; break;
	case CONFIG_KEY_QUEUE_MAX_PACKETS: c->queue_max_packets = (uint32_t)v; break;
	case CONFIG_KEY_QUEUE_RCVBUF:	c->queue_rcvbuf_bytes = (uint32_t)v; break;
	case CONFIG_KEY_CAPTURE_QUEUE:	c->capture_queue_number = (uint16_t)v; break;
	case CONFIG_KEY_CAPTURE_LOG_GROUP: c->capture_log_group = (uint16_t)v; break;
	case CONFIG_KEY_MAX_SESSIONS:	c->max_sessions = (unsigned)v; break;
	case CONFIG_KEY_BUFFER:		c->session_buffer_max = (size_t)v; break;
	case CONFIG_KEY_LINE_MAX:	c->line_max = (size_t)v; break;
	case CONFIG_KEY_IDLE:		c->session_idle_s = (unsigned)v; break;
	case CONFIG_KEY_EXPECT_TIMEOUT:	c->policy.expect_timeout_s = (unsigned)v; break;
	case CONFIG_KEY_MAX_PINHOLES:	c->policy.max_pinholes_per_session = (unsigned)v; break;
	case CONFIG_KEY_MAX_CLIENT_PINHOLES: c->policy.max_pinholes_per_client = (unsigned)v; break;
	case CONFIG_KEY_PRESSURE_WINDOW: c->pressure_window_s = (unsigned)v; break;
	case CONFIG_KEY_TIME_WAIT:	c->time_wait_s = (unsigned)v; break;
	case CONFIG_KEY_MAX_CLIENT_GRANTS: c->policy.max_grants_per_client = (unsigned)v; break;
	case CONFIG_KEY_GRANT_LIFETIME:	c->policy.grant_lifetime_s = (unsigned)v; break;
	case CONFIG_KEY_GRANT_MAX_PORTS: c->policy.grant_max_ports = (unsigned)v; break;
	default:			break;
	}
	return 0;
}

/* Apply every default of config_keys as if it were a line of the file,
 * so a default is held to the same rules as a setting. */
static int config_apply_defaults(struct config_parser *cp)
{
	char line[CONFIG_LINE_MAX + 1];
	int k, r;

	for (k = 0; k < CONFIG_KEY_COUNT; k++) {
		if (config_keys[k].def == NULL)
			continue;
		snprintf(line, sizeof(line), "%s = %s", config_keys[k].name,
			 config_keys[k].def);
		r = config_setting(cp, line);
		if (r < 0)
			return r;
	}
	return 0;
}

void config_init_defaults(struct config *c)
{
	struct config_parser cp;
	char err[256];

	memset(&cp, 0, sizeof(cp));
	cp.path = "built-in defaults (src/core/config.c)";
	cp.err = err;
	cp.errlen = sizeof(err);
	if (config_apply_defaults(&cp) < 0) {
		/* a wrong table, caught by test_config: never in a build */
		fprintf(stderr, "%s\n", err);
		abort();
	}
	*c = cp.tmp;
}

size_t config_key_count(void)
{
	return CONFIG_KEY_COUNT;
}

int config_key_describe(size_t i, struct config_key_doc *out)
{
	const struct config_key_info *ki;

	if (i >= CONFIG_KEY_COUNT || out == NULL)
		return -EINVAL;
	ki = &config_keys[i];
	memset(out, 0, sizeof(*out));
	out->name = ki->name;
	out->global = (ki->scope & CONFIG_GLOBAL) != 0;
	out->server = (ki->scope & CONFIG_SERVER) != 0;
	out->number = ki->value_doc == NULL;
	out->min = ki->min;
	out->max = ki->max;
	out->value_doc = ki->value_doc;
	out->def = ki->def;
	out->def_note = ki->def_note;
	return 0;
}

/* One line into buf (without its "\n" or "\r\n"; buf holds
 * CONFIG_LINE_MAX + 2). Returns 1, 0 at end of file, -E2BIG for a line
 * over CONFIG_LINE_MAX (reading stops there: the file is refused anyway),
 * or -errno for a read error. */
static int config_read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	bool any = false;
	int ch;

	errno = 0;
	while ((ch = getc(f)) != EOF) {
		any = true;
		if (ch == '\n')
			break;
		if (n > CONFIG_LINE_MAX)	/* room for one '\r' more */
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	if (ferror(f))
		return errno ? -errno : -EIO;
	if (!any)
		return 0;
	if (n > 0 && buf[n - 1] == '\r')	/* tolerate CRLF files */
		n--;
	if (n > CONFIG_LINE_MAX)
		return -E2BIG;
	buf[n] = '\0';
	*len = n;
	return 1;
}

static int config_parse_line(struct config_parser *cp, char *buf, size_t len)
{
	char *s, *hash;
	size_t i;

	/* strlen-based code below must see the whole line */
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return config_error(cp, "control character (0x%02x) in line; remove it", ch);
	}
	hash = strchr(buf, '#');
	if (hash != NULL)
		*hash = '\0';
	s = config_trim(buf);
	if (s[0] == '\0')
		return 0;
	if (s[0] == '[')
		return config_section(cp, s);
	return config_setting(cp, s);
}

/* Checks between settings, once the whole file is read. */
static int config_check(struct config_parser *cp)
{
	struct config *c = &cp->tmp;
	unsigned lb = cp->global_seen[CONFIG_KEY_BUFFER];
	unsigned ll = cp->global_seen[CONFIG_KEY_LINE_MAX];

	/* A stream must be able to hold one whole line. */
	if (c->session_buffer_max < c->line_max) {
		cp->line = lb > ll ? lb : ll;
		return config_error(cp, "session-buffer-bytes (%zu) is smaller than line-max-bytes (%zu); raise session-buffer-bytes to at least %zu",
				    c->session_buffer_max, c->line_max, c->line_max);
	}
	return 0;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	struct config_parser cp;
	char buf[CONFIG_LINE_MAX + 2];
	size_t len = 0;
	FILE *f;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || c == NULL)
		return -EINVAL;
	memset(&cp, 0, sizeof(cp));
	cp.path = path;
	cp.err = err;
	cp.errlen = errlen;

	f = fopen(path, "re");
	if (f == NULL) {
		r = -errno;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}

	/* Global settings start from the caller's values; the server list
	 * is the file's alone, so a reload can drop a section. */
	cp.tmp = *c;
	cp.tmp.policy.servers = NULL;
	cp.tmp.policy.server_count = 0;

	for (;;) {
		r = config_read_line(f, buf, &len);
		if (r == 0)
			break;
		cp.line++;
		if (r == -E2BIG) {
			r = config_error(&cp, "line longer than %d characters; shorten it",
					 CONFIG_LINE_MAX);
			goto fail;
		}
		if (r < 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s:%u: read error: %s",
					 path, cp.line, strerror(-r));
			goto fail;
		}
		r = config_parse_line(&cp, buf, len);
		if (r == -ENOMEM)
			config_error(&cp, "out of memory");
		if (r < 0)
			goto fail;
	}
	r = config_check(&cp);
	if (r < 0)
		goto fail;

	fclose(f);
	free(cp.server_lines);
	policy_free(&c->policy);
	*c = cp.tmp;
	return 0;

fail:
	fclose(f);
	free(cp.server_lines);
	policy_free(&cp.tmp.policy);
	return r;
}
