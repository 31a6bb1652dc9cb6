/* log_capture: log.h for the host tests of the packet path. Instead of
 * stderr or syslog, every line (LOG_DEBUG included) is kept in memory as
 * "LEVEL: text", the level named as log.c names it ("warning", "notice",
 * ...), so a test can compare the daemon's log lines exactly. The last
 * LOG_CAPTURE_MAX lines are kept. */
#ifndef FTPGATE_LOG_CAPTURE_H
#define FTPGATE_LOG_CAPTURE_H

#include <stdbool.h>

#define LOG_CAPTURE_MAX 64
#define LOG_CAPTURE_LINE_MAX 1024

/* Forget every line kept so far. */
void log_capture_reset(void);
/* Lines kept since the last reset (at most LOG_CAPTURE_MAX). */
unsigned log_capture_count(void);
/* Line i, oldest first; NULL past the end. */
const char *log_capture_line(unsigned i);
/* How many kept lines equal `line` exactly. */
unsigned log_capture_has(const char *line);

#endif
