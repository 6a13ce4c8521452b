/*
 * ws_events.h - per-export change hub: watcher batches to EVENT frames.
 *
 * One hub per export whose backend can watch. Sessions that agreed on
 * FSB_CAP_EVENTS subscribe at HELLO; the backend watcher runs while at
 * least one session is subscribed (started by the first, stopped by the
 * last, and in any case before the hub is freed). Each watcher batch is
 * coalesced once (consecutive MODIFIED of one path), matched once against
 * the echo expectations, then encoded per subscriber with that session's
 * own sequence numbers and ECHO tags and queued on its writer.
 *
 * Echo expectations. A request handler that is about to change the file
 * system says so first (ws_echo_*), because the watcher may report the
 * change before the backend call returns:
 *   - name changes (CREATED, REMOVED, RENAMED_FROM, RENAMED_TO) are keyed
 *     by (directory identity, name) and consumed by the first matching
 *     change; unconsumed ones expire WS_ECHO_NAME_TTL_US after the request
 *     ends;
 *   - content and attribute changes (MODIFIED, ATTRIB) are keyed by the
 *     object's identity (or by (directory, name) when the object is not
 *     known yet) and tag every matching change while the request runs and
 *     for WS_ECHO_CONTENT_TTL_US after it ends.
 * A failed request withdraws its expectations. A change that matches is
 * tagged FSB_EVF_ECHO only in the copy sent to the session that made it.
 *
 * Locks (extends the list in ws_session.h):
 *   hub->ctl   subscribe/unsubscribe: starting and stopping the watcher.
 *              Never held by the watcher thread, so watch_stop may join
 *              it while holding ctl.
 *   hub->lock  the subscriber list and every subscriber's ws_evsub; held
 *              while queueing frames, so it is taken before s->lock.
 *   hub->xlock the expectation table and the recent-names table; a leaf
 *              (request handlers take it alone, the watcher inside lock).
 * Order: ctl -> lock -> {xlock, s->lock}. The watcher never waits for a
 * session's writer (a session that does not read its events loses them
 * and is owed a RESCAN), and session teardown unsubscribes holding no
 * other lock, so teardown and fan-out cannot deadlock.
 */
#ifndef WS_EVENTS_H
#define WS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ws_backend.h"

/* How long an unconsumed name expectation outlives its request. */
#define WS_ECHO_NAME_TTL_US 2000000u
/* How long content/attribute changes still count as echoes after the
 * request that caused them ended. */
#define WS_ECHO_CONTENT_TTL_US 250000u
/* Expectations kept per export; beyond this the oldest finished ones go,
 * and if every one is still in flight new requests go untracked. */
#define WS_ECHO_MAX 65536u
/* Names whose object the hub remembers for changes reported without
 * attributes. */
#define WS_ECHO_RECENT_MAX 8192u
/* Encoded events waiting for one session's writer. Beyond this events for
 * that session are dropped and a RESCAN of the whole export is owed. */
#define WS_EV_OUT_HIGH (32u << 20)

struct ws_events;
struct ws_session;
struct ws_expect;

/* A new hub for an export served by `be` (which must have watch_start).
 * 0 or -FSB_ENOMEM. */
int ws_events_new(struct ws_backend *be, const char *export_name, struct ws_events **out);
/* Stop the watcher if it still runs and free the hub. Only once no
 * session is subscribed any more and no request is in flight. */
void ws_events_free(struct ws_events *hub);

/*
 * Subscribe `s` (starting the watcher if it is the first). Events do not
 * flow to it until ws_events_arm, which queues `first` (the HELLO reply)
 * and starts the flow in one step: nothing is pushed before the reply,
 * and nothing the watcher reports after the reply is missed. 0, or a
 * negative status when the watcher cannot start.
 */
int ws_events_subscribe(struct ws_events *hub, struct ws_session *s);
void ws_events_arm(struct ws_events *hub, struct ws_session *s, const uint8_t *first, size_t len);
/* Nothing is pushed to `s` after this returns; stops the watcher after
 * the last subscriber. Harmless when `s` never subscribed. */
void ws_events_unsubscribe(struct ws_events *hub, struct ws_session *s);

/* ---- echo expectations, for request handlers ------------------------ */

#define WS_ECHO_SLOTS 4u

/* The expectations of one request; on the handler's stack. */
struct ws_echo {
	struct ws_events *hub;          /* NULL: the session gets no events */
	uint64_t owner;                 /* the session's serial */
	unsigned n;
	struct ws_expect *x[WS_ECHO_SLOTS];
};

/* Start tracking for a request of `s`: a no-op tracker unless s is
 * subscribed. */
void ws_echo_begin(struct ws_echo *e, struct ws_session *s);
/* 1 when expectations registered on e can tag anything. */
static inline int ws_echo_active(const struct ws_echo *e)
{
	return e->hub != 0;
}
/* Expect a name change: kind is CREATED, REMOVED, RENAMED_FROM or
 * RENAMED_TO of `name` in the directory identified by `dir`. */
void ws_echo_name(struct ws_echo *e, uint8_t kind, const struct ws_ident *dir, const char *name);
/* Expect MODIFIED/ATTRIB of the object `obj`. */
void ws_echo_object(struct ws_echo *e, const struct ws_ident *obj);
/* Expect MODIFIED/ATTRIB of whatever `name` in `dir` is. */
void ws_echo_content_at(struct ws_echo *e, const struct ws_ident *dir, const char *name);
/* After a successful request: `name` in `dir` is now the object `obj`
 * (CREATE), so that a write to it followed at once by its removal, which
 * the watcher reports without attributes, still matches. */
void ws_echo_learn(struct ws_echo *e, const struct ws_ident *dir, const char *name,
                   const struct ws_ident *obj);
/* The request is over: rc != 0 withdraws every expectation, 0 starts
 * their expiry clocks. */
void ws_echo_end(struct ws_echo *e, int rc);

#endif
