/* answer: what ftpgated says to ftpgatectl, and the metrics textfile.
 *
 * `pinholes` and the occupancy in `ports` come from the kernel at the time
 * of the request (the expectation table filtered to our helper, and the
 * connections expectations created), joined with what the daemon
 * recorded: the kernel is the source of truth, the daemon adds the why.
 * These are synchronous dumps, so they cost the packet path a few
 * milliseconds on a large table; they run only when someone asks. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "report.h"

#define ANSWER_METRICS_INTERVAL_MS 15000
#define ANSWER_ROWS_MAX (1u << 20)	/* bound on one listing */

/* ---- counters ----------------------------------------------------------- */

static void answer_queue_proc(struct daemon *d)
{
	struct queue_proc_row row;

	if (queue_proc_read(capture_queue_number(d), &row) == 0) {
		d->stats.queue_kernel_dropped = row.dropped;
		d->stats.queue_user_dropped = row.user_dropped;
	}
}

/* Heap bytes allocated and not freed (glibc's count: arena chunks in use
 * plus mmapped blocks). RSS can stay above it: the allocator keeps freed
 * memory for reuse, so RSS shows a past peak, this shows a leak. Under
 * AddressSanitizer it is 0: ASan's allocator replaces glibc's and does
 * not answer mallinfo2 (gcc 12's and clang 14's runtimes). */
static uint64_t answer_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

void answer_refresh_stats(struct daemon *d)
{
	d->stats.queue_overruns = queue_overruns(d->queue);
	d->stats.queue_verdict_errors = queue_verdict_errors(d->queue);
	capture_refresh_stats(d);
	answer_queue_proc(d);
	d->stats.conntrack_event_overruns = events_overruns(d->events);
	d->stats.audit_events = d->audit.written;
	d->stats.audit_write_errors = d->audit.write_errors;
	d->stats.audit_events_lost = d->audit.lost;
	d->stats.grants_live = grant_table_count(d->grants.table);
	if (d->ctl != NULL) {
		const struct ctl_counters *c = ctl_counters(d->ctl);

		d->stats.ctl_requests = c->requests;
		d->stats.ctl_denied = c->denied;
		d->stats.ctl_errors = c->errors;
	}
	d->stats.sessions_tracked = session_table_count(d->sessions);
	d->stats.pinholes_recorded = pinhole_table_count(d->pinholes);
	d->stats.heap_in_use = answer_heap_in_use();
}

/* ---- pinholes ----------------------------------------------------------- */

struct answer_rows {
	struct daemon *d;
	struct report_pinhole_row *row;
	unsigned count, cap;
	bool overflow;
};

static void answer_pinhole_cb(const struct ctnl_msg *m, void *data)
{
	struct answer_rows *a = data;
	struct report_pinhole_row *r;

	if (a->count == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 64;
		struct report_pinhole_row *n;

		if (cap > ANSWER_ROWS_MAX ||
		    (n = realloc(a->row, cap * sizeof(*n))) == NULL) {
			a->overflow = true;
			return;
		}
		a->row = n;
		a->cap = cap;
	}
	r = &a->row[a->count++];
	memset(r, 0, sizeof(*r));
	r->expect = m->tuple;
	r->master = m->master;
	r->timeout_s = m->timeout_s;
	r->nat = m->nat;
	r->known = pinhole_find(a->d->pinholes, &r->expect, &r->master);
	/* one hash chain per listed pinhole, not a walk of the table */
	r->session_tracked = session_table_find_control(a->d->sessions,
		&r->master.src, r->master.sport, &r->master.dst,
		r->master.dport, NULL) != NULL;
}

static int answer_addr_cmp(const struct inet_addr *a, const struct inet_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->family == AF_INET6)
		return memcmp(&a->v6, &b->v6, sizeof(a->v6));
	return memcmp(&a->v4, &b->v4, sizeof(a->v4));
}

static int answer_row_cmp(const void *x, const void *y)
{
	const struct report_pinhole_row *a = x, *b = y;
	int c = answer_addr_cmp(&a->expect.dst, &b->expect.dst);

	if (c != 0)
		return c;
	if (a->expect.dport != b->expect.dport)
		return a->expect.dport < b->expect.dport ? -1 : 1;
	return answer_addr_cmp(&a->expect.src, &b->expect.src);
}

static int answer_pinholes(struct daemon *d, bool json, struct strbuf *body)
{
	struct answer_rows a = { .d = d };
	int rc;

	/* settle what the kernel already told us before joining */
	pinholes_drain_events(d);
	rc = expect_list(d->expect, CONFIG_HELPER_NAME, answer_pinhole_cb, &a);
	if (rc < 0 || a.overflow) {
		strbuf_printf(body, "cannot list the kernel's expectations: %s",
			      a.overflow ? "too many" : strerror(-rc));
		free(a.row);
		return rc < 0 ? rc : -EFBIG;
	}
	if (a.count > 1)
		qsort(a.row, a.count, sizeof(*a.row), answer_row_cmp);
	report_pinholes(a.row, a.count, json, daemon_now_ms(), audit_wall_ms(), body);
	free(a.row);
	return 0;
}

/* ---- sessions ----------------------------------------------------------- */

struct answer_sessions {
	struct daemon *d;
	struct report_session_row *row;
	unsigned count, cap;
	uint64_t now;
};

static void answer_session_cb(struct session_entry *e, void *data)
{
	struct answer_sessions *a = data;
	struct report_session_row *r;

	if (a->count == a->cap)
		return;
	r = &a->row[a->count++];
	memset(r, 0, sizeof(*r));
	r->control.client = e->session.client;
	r->control.server = e->session.server;
	r->control.client_port = e->session.client_port;
	r->control.server_port = e->session.server_port;
	r->control.conntrack_id = e->conntrack_id;
	r->age_ms = a->now > e->started_ms ? a->now - e->started_ms : 0;
	r->idle_ms = a->now > e->session.last_seen_ms ? a->now - e->session.last_seen_ms : 0;
	r->lost = e->session.lost || e->session.encrypted;
	r->pending = e->session.pending_count;
	r->pinholes_opened = e->pinholes_opened;
	r->pinholes_refused = e->pinholes_refused;
	r->packets = e->packets;
}

static int answer_session_cmp(const void *x, const void *y)
{
	const struct report_session_row *a = x, *b = y;

	return a->control.conntrack_id < b->control.conntrack_id ? -1 :
	       a->control.conntrack_id > b->control.conntrack_id;
}

static void answer_count_open_cb(struct pinhole *p, void *data)
{
	struct answer_sessions *a = data;
	struct report_session_row key, *r;

	if (p->state != PINHOLE_OPEN || p->conntrack_id == 0)
		return;
	key.control.conntrack_id = p->conntrack_id;
	r = bsearch(&key, a->row, a->count, sizeof(*a->row), answer_session_cmp);
	if (r != NULL)
		r->pinholes_open++;
}

static int answer_sessions(struct daemon *d, bool json, struct strbuf *body)
{
	struct answer_sessions a = { .d = d, .now = daemon_now_ms() };

	a.cap = session_table_count(d->sessions);
	a.row = calloc(a.cap ? a.cap : 1, sizeof(*a.row));
	if (a.row == NULL) {
		strbuf_puts(body, "out of memory");
		return -ENOMEM;
	}
	session_table_foreach(d->sessions, answer_session_cb, &a);
	qsort(a.row, a.count, sizeof(*a.row), answer_session_cmp);
	pinhole_foreach(d->pinholes, answer_count_open_cb, &a);
	report_sessions(a.row, a.count, json, body);
	free(a.row);
	return 0;
}

/* ---- ports ------------------------------------------------------------- */

struct answer_ports {
	struct daemon *d;
	struct pressure_report *rep;
	uint8_t **busy;			/* per report: bitmap of 65536 ports */
	unsigned count;
	bool no_memory;
};

static void answer_range(const struct policy *p, const struct inet_addr *server,
			 unsigned *low, unsigned *high)
{
	const struct policy_server *srv = policy_server_find(p, server);

	*low = p->passive_range.low;
	*high = p->passive_range.high;
	if (srv != NULL && srv->passive_range.low != 0) {
		*low = srv->passive_range.low;
		*high = srv->passive_range.high;
	}
}

static struct pressure_report *answer_port_row(struct answer_ports *a,
					       const struct inet_addr *server)
{
	unsigned i;

	for (i = 0; i < a->count; i++)
		if (inet_addr_equal(&a->rep[i].server, server))
			return &a->rep[i];
	return NULL;
}

/* A port of `server` in use (open pinhole or tracked data connection). */
static void answer_port_busy(struct answer_ports *a, const struct inet_addr *server,
			     uint16_t port)
{
	struct pressure_report *r = answer_port_row(a, server);
	unsigned i;

	if (r == NULL || port < r->range_low || port > r->range_high)
		return;
	i = (unsigned)(r - a->rep);
	if (a->busy[i] == NULL && (a->busy[i] = calloc(8192, 1)) == NULL) {
		a->no_memory = true;
		return;
	}
	if (!(a->busy[i][port / 8] & (1u << (port % 8)))) {
		a->busy[i][port / 8] |= (uint8_t)(1u << (port % 8));
		r->occupied++;
	}
}

static void answer_busy_expect_cb(const struct ctnl_msg *m, void *data)
{
	answer_port_busy(data, &m->tuple.dst, m->tuple.dport);
}

static void answer_busy_conn_cb(const struct ctnl_msg *m, void *data)
{
	if (m->proto == IPPROTO_TCP)
		answer_port_busy(data, &m->tuple.dst, m->tuple.dport);
}

static int answer_port_cmp(const void *x, const void *y)
{
	const struct pressure_report *a = x, *b = y;

	return answer_addr_cmp(&a->server, &b->server);
}

/* One report per configured or active server. occupancy: ask the kernel
 * which ports are busy (ports); without it (metrics) occupied stays 0. */
static int answer_pressure(struct daemon *d, bool occupancy,
			   struct pressure_report **out, unsigned *n)
{
	const struct policy *pol = &d->config.policy;
	struct answer_ports a = { .d = d };
	uint64_t now = daemon_now_ms();
	unsigned cap = (unsigned)pol->server_count + d->pressure.count, i, low, high;
	int rc = 0;

	*out = NULL;
	*n = 0;
	a.rep = calloc(cap ? cap : 1, sizeof(*a.rep));
	a.busy = calloc(cap ? cap : 1, sizeof(*a.busy));
	if (a.rep == NULL || a.busy == NULL) {
		free(a.rep);
		free(a.busy);
		return -ENOMEM;
	}
	for (i = 0; i < pol->server_count; i++) {
		const struct inet_addr *s = &pol->servers[i].addr;

		answer_range(pol, s, &low, &high);
		pressure_report(&d->pressure, pressure_find(&d->pressure, s), s,
				low, high, 0, now, &a.rep[a.count++]);
	}
	for (i = 0; i < d->pressure.count; i++) {
		const struct inet_addr *s = &d->pressure.servers[i].addr;

		if (answer_port_row(&a, s) != NULL)
			continue;
		answer_range(pol, s, &low, &high);
		pressure_report(&d->pressure, &d->pressure.servers[i], s, low,
				high, 0, now, &a.rep[a.count++]);
	}
	if (occupancy && a.count > 0) {
		rc = expect_list(d->expect, CONFIG_HELPER_NAME, answer_busy_expect_cb, &a);
		if (rc == 0)
			rc = conntrack_list_expected(d->ctnl, answer_busy_conn_cb, &a);
	}
	for (i = 0; i < a.count; i++) {
		struct pressure_report *r = &a.rep[i];
		struct inet_addr server = r->server;
		unsigned occupied = r->occupied;

		/* again, now with the occupancy: level and warning use it */
		low = r->range_low;
		high = r->range_high;
		pressure_report(&d->pressure, pressure_find(&d->pressure, &server),
				&server, low, high, occupied, now, r);
		free(a.busy[i]);
	}
	free(a.busy);
	if (a.count > 1)
		qsort(a.rep, a.count, sizeof(*a.rep), answer_port_cmp);
	*out = a.rep;
	*n = a.count;
	return rc;
}

static int answer_ports(struct daemon *d, bool json, struct strbuf *body)
{
	struct pressure_report *rep;
	unsigned n;
	int rc;

	pinholes_drain_events(d);
	rc = answer_pressure(d, true, &rep, &n);
	if (rc == -ENOMEM) {
		strbuf_puts(body, "out of memory");
		return rc;
	}
	report_ports(rep, n, json, d->pressure.window_s, d->pressure.time_wait_s, body);
	if (rc < 0 && !json)
		strbuf_printf(body, "note: occupancy incomplete, the kernel did not answer: %s\n",
			      strerror(-rc));
	free(rep);
	return 0;
}

/* ---- metrics ------------------------------------------------------------ */

static int answer_metrics(struct daemon *d, struct strbuf *body)
{
	struct pressure_report *rep;
	unsigned n;

	answer_refresh_stats(d);
	if (answer_pressure(d, false, &rep, &n) == -ENOMEM)
		n = 0;
	metrics_render(&d->stats, rep, n, body);
	free(rep);
	return 0;
}

void answer_metrics_tick(struct daemon *d, uint64_t now_ms)
{
	struct strbuf text;
	char err[512] = "";
	int rc;

	if (d->config.metrics_textfile[0] == '\0' ||
	    (d->metrics_written_ms != 0 &&
	     now_ms - d->metrics_written_ms < ANSWER_METRICS_INTERVAL_MS))
		return;
	d->metrics_written_ms = now_ms;
	strbuf_init(&text, CTL_RESPONSE_MAX);
	answer_metrics(d, &text);
	rc = metrics_write_textfile(d->config.metrics_textfile, strbuf_str(&text),
				    text.len, err, sizeof(err));
	strbuf_free(&text);
	if (rc < 0 && !d->metrics_failing)
		log_msg(LOG_ERR, "metrics textfile: %s (said once until it works again)", err);
	else if (rc == 0 && d->metrics_failing)
		log_msg(LOG_NOTICE, "metrics textfile %s written again",
			d->config.metrics_textfile);
	d->metrics_failing = rc < 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static int answer_ping(struct daemon *d, bool json, struct strbuf *body)
{
	uint64_t up = daemon_now_ms() - d->start_ms;

	if (json) {
		char table[CONFIG_NFT_NAME_MAX + 8] = "none";
		struct json j;

		if (d->config.nft_table[0])
			snprintf(table, sizeof(table), "inet %s", d->config.nft_table);
		json_init(&j, body);
		json_object_begin(&j);
		json_kv_str(&j, "daemon", "ftpgated");
		json_kv_str(&j, "version", DAEMON_VERSION);
		json_kv_int(&j, "pid", (int64_t)getpid());
		json_kv_double(&j, "uptime_s", (double)up / 1000.0);
		json_kv_uint(&j, "queue", d->config.queue_number);
		json_kv_str(&j, "audit_log", d->audit_path);
		json_kv_str(&j, "nft_table", table);
		json_kv_bool(&j, "nft_sets_out_of_sync", d->stats.nft_sets_out_of_sync != 0);
		json_object_end(&j);
		strbuf_putc(body, '\n');
	} else {
		char t[16];

		report_duration(up, t, sizeof(t));
		strbuf_printf(body, "ftpgated %s, pid %ld, up %s, queue %u, audit log %s\n",
			      DAEMON_VERSION, (long)getpid(), t,
			      d->config.queue_number, d->audit_path);
	}
	return 0;
}

/* ---- grants ------------------------------------------------------------ */

static int answer_grants(struct daemon *d, bool json, struct strbuf *body)
{
	size_t n = grant_table_count(d->grants.table), i;
	struct grant *rows = calloc(n ? n : 1, sizeof(*rows));

	if (rows == NULL) {
		strbuf_puts(body, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		rows[i] = *grant_table_at(d->grants.table, i);
	report_grants(rows, (unsigned)n, json, daemon_now_ms(), audit_wall_ms(), body);
	free(rows);
	return 0;
}

int answer_request(const struct ctl_request *req, struct strbuf *body,
		   void *daemon)
{
	struct daemon *d = daemon;

	switch (req->command) {
	case CTL_PING:
		return answer_ping(d, req->json, body);
	case CTL_PINHOLES:
		return answer_pinholes(d, req->json, body);
	case CTL_SESSIONS:
		return answer_sessions(d, req->json, body);
	case CTL_STATS:
		answer_refresh_stats(d);
		if (req->json) {
			struct json j;

			json_init(&j, body);
			stats_render_json(&d->stats, &j);
			strbuf_putc(body, '\n');
		} else {
			stats_render_text(&d->stats, body);
		}
		return 0;
	case CTL_PORTS:
		return answer_ports(d, req->json, body);
	case CTL_METRICS:
		return answer_metrics(d, body);
	case CTL_GRANTS:
		return answer_grants(d, req->json, body);
	case CTL_ROLE:
		return role_answer(d, req, body, daemon_now_ms());
	case CTL_COMMAND_COUNT:
		break;
	}
	strbuf_puts(body, "unknown command");
	return -EINVAL;
}
