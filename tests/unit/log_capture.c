/* log_capture: log.h's functions, kept in memory for the tests. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "log_capture.h"

static char log_capture_lines[LOG_CAPTURE_MAX][LOG_CAPTURE_LINE_MAX];
static unsigned log_capture_total;

void log_open(const char *ident, bool to_syslog, bool verbose)
{
	(void)ident;
	(void)to_syslog;
	(void)verbose;
}

void log_close(void)
{
}

void log_msg(int priority, const char *fmt, ...)
{
	char *line = log_capture_lines[log_capture_total % LOG_CAPTURE_MAX];
	int n;
	va_list ap;

	n = snprintf(line, LOG_CAPTURE_LINE_MAX, "%s: ", log_level_name(priority));
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_CAPTURE_LINE_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	log_capture_total++;
}

void log_capture_reset(void)
{
	log_capture_total = 0;
}

unsigned log_capture_count(void)
{
	return log_capture_total < LOG_CAPTURE_MAX ? log_capture_total : LOG_CAPTURE_MAX;
}

const char *log_capture_line(unsigned i)
{
	unsigned n = log_capture_count();

	if (i >= n)
		return NULL;
	return log_capture_lines[(log_capture_total - n + i) % LOG_CAPTURE_MAX];
}

unsigned log_capture_has(const char *line)
{
	unsigned i, n = 0;

	for (i = 0; i < log_capture_count(); i++)
		n += strcmp(log_capture_line(i), line) == 0;
	return n;
}
