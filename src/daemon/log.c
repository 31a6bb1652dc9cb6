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

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000,
			log_ident, log_level_name(priority));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
