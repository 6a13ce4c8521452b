/*
 * clock.h - the daemon's two uses of the clock: intervals measured on the
 * monotonic clock, and the absolute CLOCK_REALTIME deadlines that
 * pthread_cond_timedwait takes.
 */
#ifndef FB_CLOCK_H
#define FB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t fb_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t fb_mono_ms(void)
{
	return fb_mono_ns() / 1000000u;
}

/* *until = now + ns, for pthread_cond_timedwait on a default condition. */
static inline void fb_deadline_in(struct timespec *until, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_sec += (time_t)(ns / 1000000000u);
	until->tv_nsec += (long)(ns % 1000000000u);
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

#endif
