#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static bool log_syslog;
static bool log_verbose;
static const char *log_ident = "ftpgated";

void log_open(const char *ident, bool to_syslog, bool verbose)
{
	log_ident = ident;
	log_syslog = to_syslog;
	log_verbose = verbose;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (log_syslog)
		closelog();
}

/* Room for one whole line of the foreground log; a longer one is written
 * in pieces (still one line, no longer one write). */
#define LOG_LINE_MAX 4096

/* The foreground line: its prefix and text into one buffer, so that a
 * line is one write() on unbuffered stderr (three before: prefix, text,
 * newline), which also keeps it whole beside other writers. */
static __attribute__((format(printf, 2, 0))) void
log_stderr(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list again;
	int head, body;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	head = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", stamp,
			ts.tv_nsec / 1000000, log_ident, log_level_name(priority));
	if (head < 0 || (size_t)head >= sizeof(line))
		return;
	va_copy(again, ap);
	body = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, again);
	va_end(again);
	if (body >= 0 && (size_t)head + (size_t)body + 1 < sizeof(line)) {
		line[head + body] = '\n';
		fwrite(line, 1, (size_t)head + (size_t)body + 1, stderr);
		return;
	}
	line[head] = '\0';
	fputs(line, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	if (log_syslog)
		vsyslog(priority, fmt, ap);
	else
		log_stderr(priority, fmt, ap);
	va_end(ap);
}
