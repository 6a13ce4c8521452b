/*
 * events.c - see events.h.
 */
#include <string.h>

#include "events.h"
#include "log.h"

void fb_events_init(struct fb_events *ev)
{
	size_t i;

	atomic_init(&ev->frames, 0);
	atomic_init(&ev->events, 0);
	atomic_init(&ev->echoes, 0);
	for (i = 0; i < FSB_EV__COUNT; i++)
		atomic_init(&ev->by_kind[i], 0);
	ev->last_seq = 0;
}

void fb_events_on_push(struct fb_events *ev, const struct fsb_event_push *push)
{
	uint32_t i;

	atomic_fetch_add(&ev->frames, 1);
	for (i = 0; i < push->count; i++) {
		const struct fsb_event *e = &push->events[i];

		atomic_fetch_add(&ev->events, 1);
		if (e->kind < FSB_EV__COUNT)
			atomic_fetch_add(&ev->by_kind[e->kind], 1);
		if (e->flags & FSB_EVF_ECHO)
			atomic_fetch_add(&ev->echoes, 1);
		/* Sequence numbers are strictly increasing per session; a gap
		 * or a step back means events were lost and a rescan is due. */
		if (ev->last_seq && e->seq <= ev->last_seq)
			fb_warn("event sequence went from %llu to %llu",
			        (unsigned long long)ev->last_seq, (unsigned long long)e->seq);
		ev->last_seq = e->seq;
		fb_dbg("event %llu %s%s%s '%.*s'", (unsigned long long)e->seq,
		       fsb_event_kind_name(e->kind),
		       (e->flags & FSB_EVF_DIR) ? " dir" : "",
		       (e->flags & FSB_EVF_ECHO) ? " echo" : "",
		       (int)e->path.len, e->path.ptr ? e->path.ptr : "");
		if (e->kind == FSB_EV_RESCAN)
			fb_info("server lost events under '%.*s' (rescan not implemented yet)",
			        (int)e->path.len, e->path.ptr ? e->path.ptr : "");
	}
}

void fb_events_log_summary(struct fb_events *ev)
{
	unsigned long long n = atomic_load(&ev->events);

	if (n)
		fb_dbg("received %llu change events in %llu frames (%llu echoes)", n,
		       (unsigned long long)atomic_load(&ev->frames),
		       (unsigned long long)atomic_load(&ev->echoes));
}
