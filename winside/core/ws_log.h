/*
 * ws_log.h - timestamped log lines on stderr.
 *
 * One fprintf per line: stdio locks the stream for each call, so lines from
 * different threads never interleave.
 */
#ifndef WS_LOG_H
#define WS_LOG_H

enum ws_log_level {
	WS_LOG_ERROR = 0,
	WS_LOG_WARN = 1,
	WS_LOG_INFO = 2,
	WS_LOG_DEBUG = 3,       /* -v: one line per request */
};

void ws_log_set_level(int level);
int ws_log_enabled(int level);
void ws_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
