/* log: the daemon's human log, to stderr (foreground) or syslog. One line
 * per event, prefixed with its level; the machine-readable audit log is a
 * separate concern. */
#ifndef FTPGATE_LOG_H
#define FTPGATE_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_open(const char *ident, bool to_syslog, bool verbose);
void log_close(void);

/* The word a log line shows for priority: "error" (LOG_ERR and worse),
 * "warning", "notice", "info", "debug" (src/core/log_level.c). */
const char *log_level_name(int priority);

/* priority: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG.
 * LOG_DEBUG is printed only when verbose. */
void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
