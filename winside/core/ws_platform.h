/*
 * ws_platform.h - the only place in the server core that knows which OS it
 * is built for. Everything else in winside/core is plain C11 + pthreads
 * (winpthreads on Windows); per-OS code lives under winside/posix and
 * winside/win32 and is picked by the build.
 */
#ifndef WS_PLATFORM_H
#define WS_PLATFORM_H

#include <stdint.h>
#include <time.h>

#include <pthread.h>

#ifdef _WIN32
#include <pthread_time.h>
#endif

/* Monotonic microseconds, for request timing. */
static inline uint64_t ws_os_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Local wall-clock time for log lines. */
static inline void ws_os_wallclock(struct tm *tm, long *usec)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
#ifdef _WIN32
	localtime_s(tm, &t);
#else
	localtime_r(&t, tm);
#endif
	*usec = ts.tv_nsec / 1000;
}

/* Name the calling thread (at most 15 characters) for top -H, perf and
 * debuggers; a no-op where the platform has no way to. */
static inline void ws_os_thread_name(const char *name)
{
#if defined(__linux__)
	pthread_setname_np(pthread_self(), name);
#else
	(void)name;
#endif
}

#endif
