/*
 * log.h - one line per event of note, on stderr or (once daemonised) syslog.
 *
 * Safe from any thread: each line is formatted first and written with a
 * single call, so lines from the FUSE workers and the loop thread never mix.
 */
#ifndef FB_LOG_H
#define FB_LOG_H

enum fb_log_level {
	FB_LOG_ERR,
	FB_LOG_WARN,
	FB_LOG_INFO,
	FB_LOG_DEBUG,
};

void fb_log_init(const char *progname);
void fb_log_set_debug(int on);
int fb_log_debug_enabled(void);
/* Switch from stderr to syslog (LOG_DAEMON); used after daemonising. */
void fb_log_use_syslog(void);

void fb_log(enum fb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define fb_err(...) fb_log(FB_LOG_ERR, __VA_ARGS__)
#define fb_warn(...) fb_log(FB_LOG_WARN, __VA_ARGS__)
#define fb_info(...) fb_log(FB_LOG_INFO, __VA_ARGS__)
#define fb_dbg(...) \
	do { if (fb_log_debug_enabled()) fb_log(FB_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
