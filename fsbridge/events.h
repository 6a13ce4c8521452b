/*
 * events.h - EVENT pushes from the server.
 *
 * Every EVENT frame lands in fb_events_on_push(), on the connection's loop
 * thread. For now it only counts and logs; cache invalidation and
 * kernel-native replay (DESIGN.md, "Coherence") slot in here. Whatever
 * does that work must run on its own thread: invalidating from the loop
 * thread can deadlock, because the kernel may wait for a WRITE that only
 * the loop thread can complete.
 */
#ifndef FB_EVENTS_H
#define FB_EVENTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "fsb_proto.h"

struct fb_events {
	atomic_uint_fast64_t frames;
	atomic_uint_fast64_t events;
	atomic_uint_fast64_t echoes;       /* caused by our own requests */
	atomic_uint_fast64_t by_kind[FSB_EV__COUNT];
	uint64_t last_seq;                  /* loop thread only */
};

void fb_events_init(struct fb_events *ev);
void fb_events_on_push(struct fb_events *ev, const struct fsb_event_push *push);
/* One summary line, at shutdown. */
void fb_events_log_summary(struct fb_events *ev);

#endif
