/*
 * log.c - see log.h.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "fsbridge";
static atomic_int log_debug;
static atomic_int log_syslog;

void fb_log_init(const char *progname)
{
	if (progname && *progname)
		log_prog = progname;
}

void fb_log_set_debug(int on)
{
	atomic_store(&log_debug, on);
}

int fb_log_debug_enabled(void)
{
	return atomic_load(&log_debug);
}

void fb_log_use_syslog(void)
{
	openlog(log_prog, LOG_PID, LOG_DAEMON);
	atomic_store(&log_syslog, 1);
}

void fb_log(enum fb_log_level level, const char *fmt, ...)
{
	static const int prio[] = {
		[FB_LOG_ERR] = LOG_ERR,
		[FB_LOG_WARN] = LOG_WARNING,
		[FB_LOG_INFO] = LOG_INFO,
		[FB_LOG_DEBUG] = LOG_DEBUG,
	};
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;

	if (atomic_load(&log_syslog)) {
		syslog(prio[level], "%s", line);
		return;
	}
	/* One write(2) per line keeps concurrent lines whole. */
	{
		char out[sizeof(line) + 64];
		int len = snprintf(out, sizeof(out), "%s: %s%s\n", log_prog,
		                   level == FB_LOG_WARN ? "warning: " : "", line);
		if (len > (int)sizeof(out) - 1)
			len = (int)sizeof(out) - 1;
		if (len > 0 && write(STDERR_FILENO, out, (size_t)len) < 0) {
			/* Nowhere left to report it. */
		}
	}
}
