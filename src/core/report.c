/* report: tables are fixed-width where the values are bounded (addresses,
 * ports, times) and end with the free text (command, reply, warning), so
 * a long reply never misaligns the columns before it. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "report.h"

void report_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
}

/* ---- tables: columns as wide as their widest cell ---------------------- */

#define REPORT_COLS_MAX 12
#define REPORT_CELL 160

struct report_table {
	unsigned ncols;
	const char *head[REPORT_COLS_MAX];
	bool right[REPORT_COLS_MAX];	/* numbers and durations align right */
	int width[REPORT_COLS_MAX];
};

static void report_widen(struct report_table *t, char cells[][REPORT_CELL])
{
	unsigned c;

	for (c = 0; c < t->ncols; c++) {
		int w = (int)strlen(cells[c]);

		if (w > t->width[c])
			t->width[c] = w;
	}
}

/* The last column is free text: never padded. */
static void report_line(struct strbuf *out, const struct report_table *t,
			char cells[][REPORT_CELL])
{
	unsigned c;

	for (c = 0; c < t->ncols; c++) {
		const char *sep = c + 1 < t->ncols ? "  " : "\n";

		if (c + 1 == t->ncols)
			strbuf_printf(out, "%s%s", cells[c], sep);
		else if (t->right[c])
			strbuf_printf(out, "%*s%s", t->width[c], cells[c], sep);
		else
			strbuf_printf(out, "%-*s%s", t->width[c], cells[c], sep);
	}
}

static void report_head(struct strbuf *out, struct report_table *t)
{
	char cells[REPORT_COLS_MAX][REPORT_CELL];
	unsigned c;

	for (c = 0; c < t->ncols; c++)
		snprintf(cells[c], REPORT_CELL, "%s", t->head[c]);
	report_line(out, t, cells);
}

static void report_table_init(struct report_table *t, const char *const *head,
			      const bool *right, unsigned ncols)
{
	unsigned c;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	for (c = 0; c < ncols; c++) {
		t->head[c] = head[c];
		t->right[c] = right[c];
		t->width[c] = (int)strlen(head[c]);
	}
}

/* One listing (ftpgatectl pinholes, grants, sessions): its columns, its
 * rows and how a row becomes cells or a JSON object. */
struct report_list {
	const char *const *head;
	const bool *right;
	unsigned ncols;
	const void *rows;
	size_t row_size;
	unsigned n;
	uint64_t now_ms;
	int64_t wall_ms;
	void (*cells)(const void *row, uint64_t now_ms, char cells[][REPORT_CELL]);
	void (*json)(struct json *j, const void *row, uint64_t now_ms, int64_t wall_ms);
};

static const void *report_list_row(const struct report_list *l, unsigned i)
{
	return (const char *)l->rows + (size_t)i * l->row_size;
}

/* The rows as a table: a header line, then a line per row, each column as
 * wide as its widest cell. */
static void report_list_text(const struct report_list *l, struct strbuf *out)
{
	char cells[REPORT_COLS_MAX][REPORT_CELL];
	struct report_table t;
	unsigned i;

	report_table_init(&t, l->head, l->right, l->ncols);
	for (i = 0; i < l->n; i++) {
		l->cells(report_list_row(l, i), l->now_ms, cells);
		report_widen(&t, cells);
	}
	report_head(out, &t);
	for (i = 0; i < l->n; i++) {
		l->cells(report_list_row(l, i), l->now_ms, cells);
		report_line(out, &t, cells);
	}
}

/* The rows as one JSON object: {["source": source,] "count": n, key: [...]}
 * and a newline. */
static void report_list_json(const struct report_list *l, const char *source,
			     const char *key, struct strbuf *out)
{
	struct json j;
	unsigned i;

	json_init(&j, out);
	json_object_begin(&j);
	if (source != NULL)
		json_kv_str(&j, "source", source);
	json_kv_uint(&j, "count", l->n);
	json_key(&j, key);
	json_array_begin(&j);
	for (i = 0; i < l->n; i++)
		l->json(&j, report_list_row(l, i), l->now_ms, l->wall_ms);
	json_array_end(&j);
	json_object_end(&j);
	strbuf_putc(out, '\n');
}

static void report_json_endpoint(struct json *j, const char *addr_key,
				 const char *port_key,
				 const struct inet_addr *a, uint16_t port)
{
	audit_put_address(j, addr_key, a);
	json_kv_uint_or_null(j, port_key, port);
}

static void report_pinhole_json(struct json *j, const void *row,
				uint64_t now_ms, int64_t wall_ms)
{
	const struct report_pinhole_row *r = row;
	const struct pinhole *p = r->known;
	struct audit_control c = {
		.client = r->master.src, .server = r->master.dst,
		.client_port = r->master.sport, .server_port = r->master.dport,
		.conntrack_id = p ? p->conntrack_id : 0,
	};
	char when[40];

	json_object_begin(j);
	if (p)
		json_kv_uint(j, "pinhole", p->id);
	else
		json_kv_null(j, "pinhole");
	audit_put_family(j, r->expect.dst.family);
	json_kv_str(j, "protocol", "tcp");
	json_kv_str(j, "mode", inet_addr_equal(&r->expect.src, &r->master.src) ?
				       "passive" : "active");
	audit_put_address(j, "client", &r->master.src);
	audit_put_address(j, "server", &r->master.dst);
	report_json_endpoint(j, "source", "source_port", &r->expect.src, r->expect.sport);
	audit_put_address(j, "destination", &r->expect.dst);
	json_kv_uint(j, "port", r->expect.dport);
	audit_put_translated(j, &r->nat);
	json_kv_uint(j, "timeout_s", r->timeout_s);
	audit_format_time(wall_ms + (int64_t)r->timeout_s * 1000, when, sizeof(when));
	json_kv_str(j, "expires", when);
	audit_put_control(j, &c);
	json_kv_bool(j, "session_tracked", r->session_tracked);
	json_kv_bool(j, "known", p != NULL);
	if (p != NULL) {
		audit_format_time(p->opened_wall_ms, when, sizeof(when));
		json_kv_str(j, "opened", when);
		json_kv_double(j, "age_s", now_ms > p->opened_ms ?
			       (double)(now_ms - p->opened_ms) / 1000.0 : 0.0);
		json_kv_bool(j, "adopted", p->adopted);
		json_kv_str(j, "command", p->command[0] ? p->command : NULL);
		json_kv_str(j, "reply", p->reply[0] ? p->reply : NULL);
		json_kv_uint_or_null(j, "reply_code", p->reply_code);
	} else {
		json_kv_null(j, "opened");
		json_kv_null(j, "age_s");
		json_kv_null(j, "adopted");
		json_kv_null(j, "command");
		json_kv_null(j, "reply");
		json_kv_null(j, "reply_code");
	}
	json_object_end(j);
}

/* The TO cell: the destination, and where the gateway's NAT delivers a
 * translated pinhole ("198.51.100.1:50000 => 203.0.113.2:50000"). */
static void report_pinhole_to(const struct report_pinhole_row *r,
			      char cell[REPORT_CELL])
{
	char to[64], lands[64];

	flow_endpoint_format(&r->expect.dst, r->expect.dport, to, sizeof(to));
	if (!r->nat.on) {
		snprintf(cell, REPORT_CELL, "%s", to);
		return;
	}
	flow_endpoint_format(&r->nat.address,
			     r->nat.port ? r->nat.port : r->expect.dport,
			     lands, sizeof(lands));
	snprintf(cell, REPORT_CELL, "%s => %s", to, lands);
}

static void report_pinhole_cells(const void *row, uint64_t now_ms,
				 char cells[][REPORT_CELL])
{
	const struct report_pinhole_row *r = row;
	const struct pinhole *p = r->known;
	char ctl[64], ctl2[64];

	if (p)
		snprintf(cells[0], REPORT_CELL, "%llu", (unsigned long long)p->id);
	else
		snprintf(cells[0], REPORT_CELL, "-");
	flow_endpoint_format(&r->expect.src, r->expect.sport, cells[1], REPORT_CELL);
	report_pinhole_to(r, cells[2]);
	report_duration((uint64_t)r->timeout_s * 1000, cells[3], REPORT_CELL);
	if (p)
		report_duration(now_ms > p->opened_ms ? now_ms - p->opened_ms : 0,
				cells[4], REPORT_CELL);
	else
		snprintf(cells[4], REPORT_CELL, "?");
	flow_endpoint_format(&r->master.src, r->master.sport, ctl, sizeof(ctl));
	flow_endpoint_format(&r->master.dst, r->master.dport, ctl2, sizeof(ctl2));
	snprintf(cells[5], REPORT_CELL, "%s -> %s", ctl, ctl2);
	if (p && (p->command[0] || p->reply[0]))
		snprintf(cells[6], REPORT_CELL, "%.20s / %.130s",
			 p->command[0] ? p->command : "-", p->reply[0] ? p->reply : "-");
	else if (p)
		snprintf(cells[6], REPORT_CELL, "(found in the kernel at start-up)");
	else
		snprintf(cells[6], REPORT_CELL, "(not recorded by this daemon: opened before it started)");
}

void report_pinholes(const struct report_pinhole_row *rows, unsigned n,
		     bool json, uint64_t now_ms, int64_t wall_ms,
		     struct strbuf *out)
{
	static const char *const head[7] = {
		"ID", "FROM", "TO", "EXPIRES", "AGE", "CONTROL CONNECTION",
		"COMMAND / REPLY",
	};
	static const bool right[7] = { true, false, false, true, true, false, false };
	const struct report_list l = {
		head, right, 7, rows, sizeof(*rows), n, now_ms, wall_ms,
		report_pinhole_cells, report_pinhole_json,
	};

	if (json) {
		report_list_json(&l, "kernel expectation table, helper ftpgate", "pinholes", out);
		return;
	}
	if (n == 0) {
		strbuf_puts(out, "no pinholes open (kernel expectation table, helper ftpgate)\n");
		return;
	}
	report_list_text(&l, out);
	strbuf_printf(out, "%u pinhole%s open (kernel expectation table, helper ftpgate)\n",
		      n, n == 1 ? "" : "s");
}

static void report_grant_cells(const void *row, uint64_t now_ms,
			       char cells[][REPORT_CELL])
{
	const struct grant *g = row;
	char range[16];

	snprintf(cells[0], REPORT_CELL, "%llu", (unsigned long long)g->id);
	inet_addr_format(&g->client, cells[1], REPORT_CELL);
	inet_addr_format(&g->server, cells[2], REPORT_CELL);
	snprintf(range, sizeof(range), "%u-%u", g->range.low, g->range.high);
	snprintf(cells[3], REPORT_CELL, "%s", range);
	report_duration(now_ms > g->opened_ms ? now_ms - g->opened_ms : 0, cells[4], REPORT_CELL);
	report_duration(g->expiry_ms > now_ms ? g->expiry_ms - now_ms : 0, cells[5], REPORT_CELL);
	snprintf(cells[6], REPORT_CELL, "%llu", (unsigned long long)g->data_connections);
	flow_endpoint_format(&g->client, g->client_port, cells[7], REPORT_CELL);
	snprintf(cells[7] + strlen(cells[7]), REPORT_CELL - strlen(cells[7]), " (conntrack %u)",
		 g->conntrack_id);
}

static void report_grant_json(struct json *j, const void *row,
			      uint64_t now_ms, int64_t wall_ms)
{
	const struct grant *g = row;
	struct audit_control c = {
		.client = g->client, .server = g->server,
		.client_port = g->client_port, .server_port = g->server_port,
		.conntrack_id = g->conntrack_id,
	};
	char range[16], t[40];

	json_object_begin(j);
	json_kv_uint(j, "grant_id", g->id);
	audit_put_address(j, "client", &g->client);
	audit_put_address(j, "server", &g->server);
	snprintf(range, sizeof(range), "%u-%u", g->range.low, g->range.high);
	json_kv_str(j, "ports", range);
	audit_format_time(g->opened_wall_ms, t, sizeof(t));
	json_kv_str(j, "opened", t);
	audit_format_time(wall_ms + (int64_t)(g->expiry_ms > now_ms ? g->expiry_ms - now_ms : 0),
			  t, sizeof(t));
	json_kv_str(j, "lifetime_ends", t);
	json_kv_uint(j, "data_connections", g->data_connections);
	audit_put_control(j, &c);
	json_object_end(j);
}

void report_grants(const struct grant *rows, unsigned n, bool json,
		   uint64_t now_ms, int64_t wall_ms, struct strbuf *out)
{
	static const char *const head[8] = {
		"ID", "CLIENT", "SERVER", "PORTS", "AGE", "LIFETIME LEFT",
		"DATA CONNS", "CONTROL CONNECTION",
	};
	static const bool right[8] = { true, false, false, false, true, true, true, false };
	const struct report_list l = {
		head, right, 8, rows, sizeof(*rows), n, now_ms, wall_ms,
		report_grant_cells, report_grant_json,
	};

	if (json) {
		report_list_json(&l, NULL, "grants", out);
		return;
	}
	if (n == 0) {
		strbuf_puts(out, "no grants (tls = client-range admits a client of an encrypted control connection to its server's passive range)\n");
		return;
	}
	report_list_text(&l, out);
	strbuf_printf(out, "%u grant%s: each admits new connections from CLIENT to SERVER's PORTS while its control connection lives\n",
		      n, n == 1 ? "" : "s");
}

static void report_session_json(struct json *j, const void *row,
				uint64_t now_ms, int64_t wall_ms)
{
	const struct report_session_row *r = row;

	(void)now_ms;
	(void)wall_ms;
	json_object_begin(j);
	audit_put_family(j, r->control.server.family);
	audit_put_address(j, "client", &r->control.client);
	audit_put_address(j, "server", &r->control.server);
	audit_put_control(j, &r->control);
	json_kv_double(j, "age_s", (double)r->age_ms / 1000.0);
	json_kv_double(j, "idle_s", (double)r->idle_ms / 1000.0);
	json_kv_bool(j, "tracking", !r->lost);
	json_kv_uint(j, "commands_pending", r->pending);
	json_kv_uint(j, "pinholes_open", r->pinholes_open);
	json_kv_uint(j, "pinholes_opened", r->pinholes_opened);
	json_kv_uint(j, "pinholes_refused", r->pinholes_refused);
	json_kv_uint(j, "packets", r->packets);
	json_object_end(j);
}

static void report_session_cells(const void *row, uint64_t now_ms,
				 char cells[][REPORT_CELL])
{
	const struct report_session_row *r = row;

	(void)now_ms;
	snprintf(cells[0], REPORT_CELL, "%u", r->control.conntrack_id);
	flow_endpoint_format(&r->control.client, r->control.client_port, cells[1], REPORT_CELL);
	flow_endpoint_format(&r->control.server, r->control.server_port, cells[2], REPORT_CELL);
	report_duration(r->age_ms, cells[3], REPORT_CELL);
	report_duration(r->idle_ms, cells[4], REPORT_CELL);
	snprintf(cells[5], REPORT_CELL, "%u", r->pinholes_open);
	snprintf(cells[6], REPORT_CELL, "%llu", (unsigned long long)r->pinholes_opened);
	snprintf(cells[7], REPORT_CELL, "%llu", (unsigned long long)r->pinholes_refused);
	snprintf(cells[8], REPORT_CELL, "%llu", (unsigned long long)r->packets);
	snprintf(cells[9], REPORT_CELL, "%s", r->lost ?
		 "not tracking (TLS or bounds)" : "tracking");
}

void report_sessions(const struct report_session_row *rows, unsigned n,
		     bool json, struct strbuf *out)
{
	static const char *const head[10] = {
		"CONNTRACK", "CLIENT", "SERVER", "AGE", "IDLE", "OPEN",
		"OPENED", "REFUSED", "PACKETS", "STATE",
	};
	static const bool right[10] = {
		true, false, false, true, true, true, true, true, true, false,
	};
	const struct report_list l = {
		head, right, 10, rows, sizeof(*rows), n, 0, 0,
		report_session_cells, report_session_json,
	};

	if (json) {
		report_list_json(&l, NULL, "sessions", out);
		return;
	}
	if (n == 0) {
		strbuf_puts(out, "no control connections tracked\n");
		return;
	}
	report_list_text(&l, out);
	strbuf_printf(out, "%u control connection%s tracked\n", n, n == 1 ? "" : "s");
}

void report_ports(const struct pressure_report *rows, unsigned n, bool json,
		  unsigned window_s, unsigned time_wait_s, struct strbuf *out)
{
	char addr[INET_ADDR_STRLEN];
	unsigned i;

	if (json) {
		struct json j;

		json_init(&j, out);
		json_object_begin(&j);
		json_kv_uint(&j, "window_s", window_s);
		json_kv_uint(&j, "time_wait_s", time_wait_s);
		json_key(&j, "servers");
		json_array_begin(&j);
		for (i = 0; i < n; i++) {
			const struct pressure_report *r = &rows[i];

			json_object_begin(&j);
			audit_put_address(&j, "server", &r->server);
			json_kv_uint(&j, "range_low", r->range_low);
			json_kv_uint(&j, "range_high", r->range_high);
			json_kv_uint(&j, "range_size", r->range_size);
			json_kv_uint(&j, "window_s", r->window_s);
			json_kv_uint(&j, "announcements", r->announcements);
			json_kv_uint(&j, "distinct_ports", r->distinct_ports);
			json_kv_double(&j, "rate_per_s", r->rate_per_s);
			json_kv_double(&j, "rate_per_min", r->rate_per_s * 60.0);
			json_kv_uint(&j, "time_wait_s", r->time_wait_s);
			json_kv_double(&j, "sustainable_per_s", r->sustainable_per_s);
			json_kv_double(&j, "sustainable_per_min", r->sustainable_per_s * 60.0);
			json_kv_uint(&j, "occupied", r->occupied);
			json_kv_double(&j, "utilisation", r->utilisation);
			json_kv_uint(&j, "trouble_replies", r->trouble_window);
			json_kv_uint(&j, "trouble_replies_total", r->trouble_total);
			json_kv_uint(&j, "announcements_total", r->announcements_total);
			if (r->last_trouble_code) {
				json_kv_int(&j, "last_trouble_code", r->last_trouble_code);
				json_kv_str(&j, "last_trouble_reply", r->last_trouble_text);
			} else {
				json_kv_null(&j, "last_trouble_code");
				json_kv_null(&j, "last_trouble_reply");
			}
			json_kv_str(&j, "level", pressure_level_name(r->level));
			json_kv_str(&j, "warning", r->warning[0] ? r->warning : NULL);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
		strbuf_putc(out, '\n');
		return;
	}
	strbuf_printf(out, "passive-port pressure over the last %us; each data port assumed busy for %us after use (time-wait-seconds)\n",
		      window_s, time_wait_s);
	if (n == 0) {
		strbuf_puts(out, "no server announced a passive port yet, and none is configured\n");
		return;
	}
	strbuf_printf(out, "%-40s %-12s %6s %7s %9s %8s %9s %12s %9s %7s  %s\n",
		      "SERVER", "RANGE", "PORTS", "WINDOW", "ANNOUNCED", "DISTINCT",
		      "RATE/MIN", "SUSTAIN/MIN", "OCCUPIED", "425/421", "LEVEL");
	for (i = 0; i < n; i++) {
		const struct pressure_report *r = &rows[i];
		char range[16], window[16], occupied[24];

		inet_addr_format(&r->server, addr, sizeof(addr));
		snprintf(range, sizeof(range), "%u-%u", r->range_low, r->range_high);
		snprintf(window, sizeof(window), "%us", r->window_s);
		snprintf(occupied, sizeof(occupied), "%u/%u", r->occupied, r->range_size);
		strbuf_printf(out, "%-40s %-12s %6u %7s %9u %8u %9.2f %12.2f %9s %7u  %s\n",
			      addr, range, r->range_size, window, r->announcements,
			      r->distinct_ports, r->rate_per_s * 60.0,
			      r->sustainable_per_s * 60.0, occupied, r->trouble_window,
			      pressure_level_name(r->level));
		if (r->warning[0])
			strbuf_printf(out, "  WARNING %s: %s\n", addr, r->warning);
	}
}
