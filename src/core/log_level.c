/* log_level: the word each syslog priority is printed with, one list for
 * the daemon's log (src/daemon/log.c) and the tests' capture of it. */
#include "log.h"

const char *log_level_name(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}
