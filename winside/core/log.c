/*
 * log.c - timestamped log lines on stderr.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ws_log.h"
#include "ws_platform.h"

/* The level is the one piece of process-wide state; it is set once at
 * startup and only read afterwards. */
static int log_level = WS_LOG_INFO;

void ws_log_set_level(int level)
{
	log_level = level;
}

int ws_log_enabled(int level)
{
	return level <= log_level;
}

void ws_log(int level, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "" };
	char msg[2048];
	struct tm tm;
	long usec;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ws_os_wallclock(&tm, &usec);
	fprintf(stderr, "%04d-%02d-%02d %02d:%02d:%02d.%06ld winside: %s%s\n",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	        tm.tm_sec, usec, tag[level < 0 || level > 3 ? 3 : level], msg);
}
