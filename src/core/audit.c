/* audit: JSON lines. Every field that can carry text from the network
 * goes through json_escape (via json_string), so a reply holding quotes,
 * newlines or bytes above 0x7f still makes exactly one valid line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

void audit_format_time(int64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms / 1000);
	int ms = (int)(wall_ms % 1000);
	struct tm tm;
	char day[32];

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, ms);
}

int64_t audit_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void audit_begin(struct audit_line *l, const char *event, int64_t wall_ms)
{
	char when[40];

	strbuf_init_fixed(&l->buf, l->text, sizeof(l->text));
	json_init(&l->json, &l->buf);
	audit_format_time(wall_ms, when, sizeof(when));
	json_object_begin(&l->json);
	json_kv_uint(&l->json, "v", AUDIT_SCHEMA_VERSION);
	json_kv_str(&l->json, "time", when);
	json_kv_str(&l->json, "event", event);
}

void audit_end(struct audit_line *l)
{
	char when[40], event[64];
	const char *p, *q;

	json_object_end(&l->json);
	strbuf_putc(&l->buf, '\n');
	if (!l->buf.truncated && !l->json.error)
		return;
	/* Cannot happen with the bounded fields we log, but never emit a
	 * broken line: keep time and event, say it was cut. The event name
	 * is ours (no escaping needed); the time is at a fixed place. */
	snprintf(when, sizeof(when), "%.24s", l->text + sizeof("{\"v\":1,\"time\":\"") - 1);
	p = strstr(l->text, "\"event\":\"");
	event[0] = '\0';
	if (p != NULL) {
		p += 9;
		q = strchr(p, '"');
		if (q != NULL && (size_t)(q - p) < sizeof(event))
			snprintf(event, sizeof(event), "%.*s", (int)(q - p), p);
	}
	strbuf_init_fixed(&l->buf, l->text, sizeof(l->text));
	strbuf_printf(&l->buf, "{\"v\":%d,\"time\":\"%s\",\"event\":\"%s\",\"truncated\":true}\n",
		      AUDIT_SCHEMA_VERSION, when, event);
}

const char *audit_text(const struct audit_line *l)
{
	return l->text;
}

size_t audit_len(const struct audit_line *l)
{
	return l->buf.len;
}

void audit_put_family(struct json *j, int family)
{
	json_kv_str(j, "family", family == AF_INET6 ? "ipv6" :
				 family == AF_INET ? "ipv4" : NULL);
}

void audit_put_address(struct json *j, const char *key, const struct inet_addr *a)
{
	char text[INET_ADDR_STRLEN];

	if (a == NULL || (a->family != AF_INET && a->family != AF_INET6)) {
		json_kv_null(j, key);
		return;
	}
	inet_addr_format(a, text, sizeof(text));
	json_kv_str(j, key, text);
}

void audit_put_control(struct json *j, const struct audit_control *c)
{
	json_key(j, "control");
	json_object_begin(j);
	audit_put_address(j, "client", &c->client);
	json_kv_uint(j, "client_port", c->client_port);
	audit_put_address(j, "server", &c->server);
	json_kv_uint(j, "server_port", c->server_port);
	json_kv_uint_or_null(j, "conntrack_id", c->conntrack_id);
	json_object_end(j);
}

/* Text that may be empty: "" becomes null. */
static void audit_put_text(struct json *j, const char *key, const char *s)
{
	json_kv_str(j, key, s != NULL && s[0] ? s : NULL);
}

void audit_fmt_session(struct audit_line *l, int64_t wall_ms, const char *event,
		       const struct audit_control *c, const char *reason,
		       const char *detail)
{
	audit_begin(l, event, wall_ms);
	audit_put_family(&l->json, c->server.family);
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_control(&l->json, c);
	if (reason != NULL)
		json_kv_str(&l->json, "reason", reason);
	if (detail != NULL)
		audit_put_text(&l->json, "detail", detail);
	audit_end(l);
}

void audit_fmt_session_ended(struct audit_line *l, int64_t wall_ms,
			     const struct audit_control *c, const char *reason,
			     uint64_t duration_ms, uint64_t pinholes_opened,
			     uint64_t pinholes_refused)
{
	audit_begin(l, "session-ended", wall_ms);
	audit_put_family(&l->json, c->server.family);
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_control(&l->json, c);
	json_kv_str(&l->json, "reason", reason);
	json_kv_double(&l->json, "duration_s", (double)duration_ms / 1000.0);
	json_kv_uint(&l->json, "pinholes_opened", pinholes_opened);
	json_kv_uint(&l->json, "pinholes_refused", pinholes_refused);
	audit_end(l);
}

static void audit_control_of(const struct pinhole *p, struct audit_control *c)
{
	c->client = p->master.src;
	c->server = p->master.dst;
	c->client_port = p->master.sport;
	c->server_port = p->master.dport;
	c->conntrack_id = p->conntrack_id;
}

void audit_put_translated(struct json *j, const struct flow_nat *nat)
{
	audit_put_address(j, "translated_destination", nat->on ? &nat->address : NULL);
	json_kv_uint_or_null(j, "translated_port", nat->on ? nat->port : 0);
}

/* The fields every pinhole event carries. */
static void audit_put_pinhole(struct json *j, const struct pinhole *p)
{
	struct audit_control c;

	audit_control_of(p, &c);
	/* null: not recorded (registry full) */
	json_kv_uint_or_null(j, "pinhole", p->id);
	audit_put_family(j, p->expect.dst.family);
	json_kv_str(j, "protocol", "tcp");
	/* passive: the data connection comes from the control connection's
	 * client; active: from its server */
	json_kv_str(j, "mode", inet_addr_equal(&p->expect.src, &p->master.src) ?
				       "passive" : "active");
	audit_put_address(j, "client", &c.client);
	audit_put_address(j, "server", &c.server);
	audit_put_address(j, "source", &p->expect.src);
	json_kv_uint_or_null(j, "source_port", p->expect.sport);
	audit_put_address(j, "destination", &p->expect.dst);
	json_kv_uint(j, "port", p->expect.dport);
	audit_put_translated(j, &p->nat);
	audit_put_control(j, &c);
	audit_put_text(j, "command", p->command);
	audit_put_text(j, "reply", p->reply);
	json_kv_uint_or_null(j, "reply_code", p->reply_code);
	json_kv_bool(j, "adopted", p->adopted);
}

void audit_fmt_pinhole_opened(struct audit_line *l, int64_t wall_ms,
			      uint64_t now_ms, const struct pinhole *p,
			      bool refreshed)
{
	char expires[40];
	int64_t left = p->expiry_ms > now_ms ? (int64_t)(p->expiry_ms - now_ms) : 0;

	audit_begin(l, p->adopted ? "pinhole-adopted" : "pinhole-opened", wall_ms);
	audit_put_pinhole(&l->json, p);
	json_kv_uint(&l->json, "timeout_s", p->timeout_s);
	audit_format_time(wall_ms + left, expires, sizeof(expires));
	json_kv_str(&l->json, "expires", expires);
	json_kv_bool(&l->json, "refreshed", refreshed);
	audit_end(l);
}

void audit_fmt_pinhole_failed(struct audit_line *l, int64_t wall_ms,
			      const struct audit_control *c,
			      const struct flow *expect,
			      const char *command, const char *reply,
			      int reply_code, const char *error)
{
	audit_begin(l, "pinhole-failed", wall_ms);
	audit_put_family(&l->json, expect->dst.family);
	json_kv_str(&l->json, "protocol", "tcp");
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_address(&l->json, "source", &expect->src);
	json_kv_uint_or_null(&l->json, "source_port", expect->sport);
	audit_put_address(&l->json, "destination", &expect->dst);
	json_kv_uint(&l->json, "port", expect->dport);
	audit_put_control(&l->json, c);
	audit_put_text(&l->json, "command", command);
	audit_put_text(&l->json, "reply", reply);
	json_kv_uint_or_null(&l->json, "reply_code", reply_code);
	audit_put_text(&l->json, "error", error);
	audit_end(l);
}

void audit_fmt_pinhole_refused(struct audit_line *l, int64_t wall_ms,
			       const struct audit_control *c,
			       enum policy_reason reason, bool active,
			       const struct inet_addr *announced, uint16_t port,
			       const char *command, const char *reply,
			       int reply_code, const char *detail)
{
	audit_begin(l, "pinhole-refused", wall_ms);
	json_kv_str(&l->json, "reason", policy_reason_name(reason));
	json_kv_str(&l->json, "reason_text", policy_reason_text(reason));
	/* passive: the server announced in its reply; active: the client
	 * in its PORT/EPRT command */
	json_kv_str(&l->json, "mode", active ? "active" : "passive");
	audit_put_family(&l->json, c->server.family);
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_address(&l->json, "announced", announced);
	if (announced != NULL && announced->family != 0)
		json_kv_uint(&l->json, "port", port);
	else
		json_kv_null(&l->json, "port");
	audit_put_control(&l->json, c);
	audit_put_text(&l->json, "command", command);
	audit_put_text(&l->json, "reply", reply);
	json_kv_uint_or_null(&l->json, "reply_code", reply_code);
	audit_put_text(&l->json, "detail", detail);
	audit_end(l);
}

void audit_fmt_pinhole_closed(struct audit_line *l, int64_t wall_ms,
			      uint64_t now_ms, const struct pinhole *p,
			      enum pinhole_close how,
			      const struct flow *data,
			      uint32_t data_conntrack_id)
{
	uint64_t at = p->state == PINHOLE_GONE ? p->gone_ms : now_ms;
	uint64_t lifetime = at > p->opened_ms ? at - p->opened_ms : 0;

	audit_begin(l, pinhole_close_event(how), wall_ms);
	audit_put_pinhole(&l->json, p);
	json_kv_str(&l->json, "outcome", pinhole_close_name(how));
	if (how != PINHOLE_CLOSE_USED && how != PINHOLE_CLOSE_EXPIRED)
		json_kv_str(&l->json, "reason", pinhole_close_name(how));
	if (how == PINHOLE_CLOSE_FTPGATE)
		json_kv_str(&l->json, "cause", p->remove_cause[0] ?
				  p->remove_cause : NULL);
	json_kv_double(&l->json, "lifetime_s", (double)lifetime / 1000.0);
	if (how == PINHOLE_CLOSE_USED && data != NULL) {
		json_key(&l->json, "data");
		json_object_begin(&l->json);
		audit_put_address(&l->json, "source", &data->src);
		json_kv_uint(&l->json, "source_port", data->sport);
		audit_put_address(&l->json, "destination", &data->dst);
		json_kv_uint(&l->json, "destination_port", data->dport);
		json_kv_uint_or_null(&l->json, "conntrack_id", data_conntrack_id);
		json_object_end(&l->json);
	}
	audit_end(l);
}

void audit_fmt_stream_resync(struct audit_line *l, int64_t wall_ms,
			     const struct audit_control *c, bool from_client,
			     uint64_t skipped, const char *detail)
{
	audit_begin(l, "stream-resynchronized", wall_ms);
	audit_put_family(&l->json, c->server.family);
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_control(&l->json, c);
	json_kv_str(&l->json, "from", from_client ? "client" : "server");
	json_kv_uint(&l->json, "skipped_bytes", skipped);
	audit_put_text(&l->json, "detail", detail);
	audit_end(l);
}

void audit_fmt_data_trouble(struct audit_line *l, int64_t wall_ms,
			    const struct audit_control *c, int code,
			    const char *reply, const char *command)
{
	audit_begin(l, "data-trouble", wall_ms);
	json_kv_int(&l->json, "code", code);
	audit_put_family(&l->json, c->server.family);
	audit_put_address(&l->json, "client", &c->client);
	audit_put_address(&l->json, "server", &c->server);
	audit_put_control(&l->json, c);
	audit_put_text(&l->json, "reply", reply);
	audit_put_text(&l->json, "command", command);
	audit_end(l);
}

void audit_fmt_events_lost(struct audit_line *l, int64_t wall_ms,
			   const char *source, uint64_t count)
{
	audit_begin(l, "events-lost", wall_ms);
	json_kv_str(&l->json, "source", source);
	json_kv_uint(&l->json, "count", count);
	audit_end(l);
}

/* ---- writer --------------------------------------------------------- */

static int audit_do_open(struct audit_log *log, char *err, size_t errlen)
{
	int fd, rc;

	if (log->disabled)
		return 0;
	if (log->is_stdout) {
		log->fd = STDOUT_FILENO;
		return 0;
	}
	/* O_NOFOLLOW: a symbolic link put where the log goes (in a
	 * directory someone else can write) would make a root daemon append
	 * to any file it names. */
	fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
			     O_NOCTTY | O_NOFOLLOW, 0640);
	if (fd < 0 && errno == ELOOP) {
		snprintf(err, errlen, "cannot open audit log %s: it is a symbolic link, which ftpgated does not follow; set audit-log to the file itself",
			 log->path);
		log->last_error = ELOOP;
		return -ELOOP;
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open audit log %s: %s", log->path,
			 strerror(-rc));
		log->last_error = -rc;
		return rc;
	}
	log->fd = fd;
	return 0;
}

int audit_open(struct audit_log *log, const char *path, char *err, size_t errlen)
{
	memset(log, 0, sizeof(*log));
	log->fd = -1;
	if (path == NULL || strcmp(path, "none") == 0) {
		log->disabled = true;
		snprintf(log->path, sizeof(log->path), "none");
		return 0;
	}
	if (strlen(path) >= sizeof(log->path)) {
		snprintf(err, errlen, "audit log path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(log->path, sizeof(log->path), "%s", path);
	log->is_stdout = strcmp(path, "stdout") == 0;
	return audit_do_open(log, err, errlen);
}

int audit_reopen(struct audit_log *log, char *err, size_t errlen)
{
	if (log->fd >= 0 && !log->is_stdout)
		close(log->fd);
	log->fd = -1;
	return audit_do_open(log, err, errlen);
}

void audit_close(struct audit_log *log)
{
	if (log->fd >= 0 && !log->is_stdout)
		close(log->fd);
	log->fd = -1;
}

/* One line in one write() where possible (O_APPEND keeps concurrent
 * writers' lines whole); a short write is finished, never dropped. */
static int audit_put(struct audit_log *log, const char *text, size_t len)
{
	size_t off = 0;

	if (log->fd < 0)
		return -(log->last_error ? log->last_error : EBADF);
	/* End the half line a failed write left, so that only that one
	 * line is damaged, not the next. */
	if (log->partial) {
		if (write(log->fd, "\n", 1) != 1)
			return -(errno ? errno : EIO);
		log->partial = false;
	}
	while (off < len) {
		ssize_t w = write(log->fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log->partial = off > 0;
			return w < 0 ? -errno : -EIO;
		}
		off += (size_t)w;
	}
	return 0;
}

int audit_write(struct audit_log *log, const struct audit_line *l)
{
	int rc;

	if (log->disabled)
		return 0;
	if (log->lost_pending > 0) {
		struct audit_line lost;

		audit_begin(&lost, "audit-lost", audit_wall_ms());
		json_kv_uint(&lost.json, "count", log->lost_pending);
		json_kv_uint(&lost.json, "total", log->lost);
		audit_end(&lost);
		if (audit_put(log, audit_text(&lost), audit_len(&lost)) == 0) {
			log->written++;
			log->lost_pending = 0;
		}
	}
	rc = audit_put(log, audit_text(l), audit_len(l));
	if (rc < 0) {
		log->last_error = -rc;
		log->write_errors++;
		log->lost++;
		log->lost_pending++;
		return rc;
	}
	log->last_error = 0;
	log->written++;
	return 0;
}
