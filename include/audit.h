/* audit: the audit log, one JSON object per line (schema: doc/audit.md).
 *
 * Formatting is pure: each audit_fmt_* call fills an audit_line with one
 * complete event, escaped so that hostile FTP text cannot break a line or
 * the JSON. The writer appends lines to a file or stdout and keeps count
 * of what it could not write; the first line it manages to write after a
 * failure is an "audit-lost" event saying how many were lost. */
#ifndef FTPGATE_AUDIT_H
#define FTPGATE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"
#include "json.h"
#include "pinhole.h"
#include "policy.h"
#include "strbuf.h"

#define AUDIT_SCHEMA_VERSION 1
#define AUDIT_LINE_MAX 4096		/* text fields are bounded well below */
#define AUDIT_PATH_MAX 256

struct audit_line {
	char text[AUDIT_LINE_MAX];
	struct strbuf buf;
	struct json json;
};

/* The control connection an event belongs to. */
struct audit_control {
	struct inet_addr client, server;
	uint16_t client_port, server_port;
	uint32_t conntrack_id;
};

/* "2024-05-01T12:00:00.123Z" from milliseconds since the epoch. */
void audit_format_time(int64_t wall_ms, char *buf, size_t len);
/* Realtime clock in milliseconds since the epoch. */
int64_t audit_wall_ms(void);

/* Generic: start an event line (writes "v", "time", "event"); add fields
 * with the json_* calls on l->json; finish with audit_end (closes the
 * object, appends '\n'). If the line overflowed, audit_end replaces it with
 * a short valid event carrying "truncated": true. */
void audit_begin(struct audit_line *l, const char *event, int64_t wall_ms);
void audit_end(struct audit_line *l);
const char *audit_text(const struct audit_line *l);
size_t audit_len(const struct audit_line *l);

/* Field groups shared by several events. */
void audit_put_control(struct json *j, const struct audit_control *c);
void audit_put_family(struct json *j, int family);
void audit_put_address(struct json *j, const char *key, const struct inet_addr *a);
/* "translated_destination" and "translated_port" of a pinhole: where its
 * data connection lands after the gateway's NAT; both null when it is
 * not translated, the port null when 0 (unchanged). */
void audit_put_translated(struct json *j, const struct flow_nat *nat);

/* Events (fields: doc/audit.md). */
void audit_fmt_session(struct audit_line *l, int64_t wall_ms, const char *event,
		       const struct audit_control *c, const char *reason,
		       const char *detail);
void audit_fmt_session_ended(struct audit_line *l, int64_t wall_ms,
			     const struct audit_control *c, const char *reason,
			     uint64_t duration_ms, uint64_t pinholes_opened,
			     uint64_t pinholes_refused);
/* pinhole-opened (or pinhole-adopted for one found in the kernel); the
 * expiry is wall_ms + the pinhole's remaining time at now_ms. */
void audit_fmt_pinhole_opened(struct audit_line *l, int64_t wall_ms,
			      uint64_t now_ms, const struct pinhole *p,
			      bool refreshed);
void audit_fmt_pinhole_failed(struct audit_line *l, int64_t wall_ms,
			      const struct audit_control *c,
			      const struct flow *expect,
			      const char *command, const char *reply,
			      int reply_code, const char *error);
void audit_fmt_pinhole_refused(struct audit_line *l, int64_t wall_ms,
			       const struct audit_control *c,
			       enum policy_reason reason, bool active,
			       const struct inet_addr *announced, uint16_t port,
			       const char *command, const char *reply,
			       int reply_code, const char *detail);
/* pinhole-used (data: the new connection's original tuple and conntrack
 * id), pinhole-expired or pinhole-removed. */
void audit_fmt_pinhole_closed(struct audit_line *l, int64_t wall_ms,
			      uint64_t now_ms, const struct pinhole *p,
			      enum pinhole_close how,
			      const struct flow *data,
			      uint32_t data_conntrack_id);
void audit_fmt_data_trouble(struct audit_line *l, int64_t wall_ms,
			    const struct audit_control *c, int code,
			    const char *reply, const char *command);
/* stream-resynchronized: bytes the client (from_client) or the server sent
 * went past ftpgated uninspected; `skipped` of them were skipped. */
void audit_fmt_stream_resync(struct audit_line *l, int64_t wall_ms,
			     const struct audit_control *c, bool from_client,
			     uint64_t skipped, const char *detail);
/* source: "conntrack-events" or "queue"; lost: how many times so far. */
void audit_fmt_events_lost(struct audit_line *l, int64_t wall_ms,
			   const char *source, uint64_t count);

/* ---- writer --------------------------------------------------------- */

struct audit_log {
	int fd;				/* -1: closed or disabled */
	bool disabled;			/* audit-log = none */
	bool is_stdout;
	char path[AUDIT_PATH_MAX];
	int last_error;			/* errno of the last failure, 0 if ok */
	bool partial;			/* a failed write left half a line */
	uint64_t written;
	uint64_t write_errors;
	uint64_t lost;			/* events not written, in total */
	uint64_t lost_pending;		/* not yet reported by audit-lost */
};

/* path: a file (appended to, created 0640), "stdout", or "none". 0 or
 * negative errno with a message in err (-ELOOP: path is a symbolic link,
 * never followed); on error the log stays usable
 * (closed: every event counts as lost until a reopen succeeds). */
int audit_open(struct audit_log *log, const char *path, char *err, size_t errlen);
/* Close and open the same path again (log rotation, SIGHUP). */
int audit_reopen(struct audit_log *log, char *err, size_t errlen);
void audit_close(struct audit_log *log);

/* Append one formatted line. 0, or negative errno when it could not be
 * written (counted in write_errors and lost). */
int audit_write(struct audit_log *log, const struct audit_line *l);

#endif
