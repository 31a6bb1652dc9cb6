/* metrics: Prometheus text format. Names are ftpgate_<stats name>; label
 * values are escaped as the format requires (backslash, quote, newline). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

static void metrics_escape(struct strbuf *out, const char *s, bool label)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_puts(out, "\\\\");
		else if (*s == '\n')
			strbuf_puts(out, "\\n");
		else if (*s == '"' && label)
			strbuf_puts(out, "\\\"");
		else
			strbuf_putc(out, *s);
	}
}

static void metrics_header(struct strbuf *out, const char *name,
			   const char *help, const char *type)
{
	strbuf_printf(out, "# HELP ftpgate_%s ", name);
	metrics_escape(out, help, false);
	strbuf_printf(out, "\n# TYPE ftpgate_%s %s\n", name, type);
}

static void metrics_item(const struct stats_item *it, void *data)
{
	struct strbuf *out = data;

	if (it->help != NULL)
		metrics_header(out, it->name, it->help,
			       it->type == STATS_COUNTER ? "counter" : "gauge");
	strbuf_printf(out, "ftpgate_%s", it->name);
	if (it->label != NULL) {
		strbuf_printf(out, "{%s=\"", it->label);
		metrics_escape(out, it->label_value, true);
		strbuf_puts(out, "\"}");
	}
	strbuf_printf(out, " %lld\n", (long long)it->value);
}

enum metrics_field {
	METRICS_RANGE, METRICS_ANNOUNCED, METRICS_RATE, METRICS_SUSTAINABLE,
	METRICS_TROUBLE, METRICS_LEVEL, METRICS_FIELD_COUNT
};

static const struct {
	const char *name, *help, *type;
} metrics_pressure[METRICS_FIELD_COUNT] = {
	[METRICS_RANGE] = { "passive_range_ports", "Size of the server's passive port range as configured in ftpgate.", "gauge" },
	[METRICS_ANNOUNCED] = { "passive_announcements_total", "Passive data endpoints the server announced (227/229).", "counter" },
	[METRICS_RATE] = { "passive_demand_per_second", "Announcements per second over the pressure window.", "gauge" },
	[METRICS_SUSTAINABLE] = { "passive_sustainable_per_second", "Data connections per second the passive range sustains: range size / time-wait-seconds.", "gauge" },
	[METRICS_TROUBLE] = { "passive_trouble_replies_total", "Data-connection error replies (421, 425, 426) from the server.", "counter" },
	[METRICS_LEVEL] = { "passive_pressure_level", "0 ok, 1 demand approaches what the range sustains, 2 at or beyond it.", "gauge" },
};

void metrics_render(const struct stats *s, const struct pressure_report *reports,
		    unsigned n, struct strbuf *out)
{
	char addr[INET_ADDR_STRLEN];
	unsigned f, i;

	stats_foreach(s, metrics_item, out);
	if (n == 0)
		return;
	for (f = 0; f < METRICS_FIELD_COUNT; f++) {
		metrics_header(out, metrics_pressure[f].name,
			       metrics_pressure[f].help, metrics_pressure[f].type);
		for (i = 0; i < n; i++) {
			const struct pressure_report *r = &reports[i];

			inet_addr_format(&r->server, addr, sizeof(addr));
			strbuf_printf(out, "ftpgate_%s{server=\"", metrics_pressure[f].name);
			metrics_escape(out, addr, true);
			strbuf_puts(out, "\"} ");
			switch (f) {
			case METRICS_RANGE: strbuf_printf(out, "%u\n", r->range_size); break;
			case METRICS_ANNOUNCED: strbuf_printf(out, "%llu\n", (unsigned long long)r->announcements_total); break;
			case METRICS_RATE: strbuf_printf(out, "%.6g\n", r->rate_per_s); break;
			case METRICS_SUSTAINABLE: strbuf_printf(out, "%.6g\n", r->sustainable_per_s); break;
			case METRICS_TROUBLE: strbuf_printf(out, "%llu\n", (unsigned long long)r->trouble_total); break;
			default: strbuf_printf(out, "%d\n", (int)r->level); break;
			}
		}
	}
}

int metrics_write_textfile(const char *path, const char *text, size_t len,
			   char *err, size_t errlen)
{
	char tmp[4200];
	size_t off = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "metrics textfile path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(-rc));
		return rc;
	}
	/* node_exporter runs as another user: readable whatever our umask
	 * (the shipped systemd unit sets 0027) */
	fchmod(fd, 0644);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-rc));
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-rc));
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(-rc));
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}
