/*
 * events_int.h - what the files of the change-event pipeline share:
 *   events.c   the queue from the loop thread, the event thread, counters
 *   replay.c   one event applied: dropped as an echo, replayed through the
 *              mount (answered from the replay view and ghosts), or
 *              invalidated
 *   rescan.c   after lost events: the kernel's cache compared with the
 *              server, each difference handled as an event
 * events.c calls the other two. replay.c and rescan.c call each other: a
 * RESCAN event starts a rescan, and a rescan handles what it finds as
 * events (which are never RESCANs). All of it runs on the event thread.
 */
#ifndef FB_EVENTS_INT_H
#define FB_EVENTS_INT_H

#include <stdint.h>

#include "events.h"
#include "fsb_proto.h"

/* replay.c */
/* Handle r, and the event after it when it belongs to r (the RENAMED_TO
 * of a RENAMED_FROM, the MODIFIED of a file just created): then that one
 * is consumed and *consumed set. */
void fb__handle_event(struct fb_events *ev, struct fb_rev *r, struct fb_rev *next,
                      int *consumed);

/* rescan.c */
/* Diff the kernel's cache against the server and handle what changed. */
void fb__rescan(struct fb_events *ev, const char *prefix, size_t plen);
/* LOOKUP `name` in `parent` on the server; the reference it takes is
 * given back at once. 0 with *out filled, or -errno. */
int fb__sync_lookup(struct fb_events *ev, uint64_t parent, const char *name,
                    struct fsb_entry *out);

#endif
