/*
 * events.c - the change hub (see ws_events.h): each watcher batch is
 * matched against the echo expectations (echo.c), coalesced, then encoded
 * per subscriber and queued on its writer (session.c); subscriptions
 * start and stop the backend's watcher. Calls echo.c, session.c's output
 * queue, check.c, the hash table and the log; nothing here calls back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_check.h"
#include "ws_events.h"
#include "ws_events_int.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_session.h"

/* Room left in a frame for the header and the count. */
#define EV_FRAME_BUDGET (FSB_MAX_FRAME - FSB_HDR_SIZE - 64u)

struct cslot {
	uint64_t hash;
	uint64_t gen;
	size_t idx1;                      /* change index + 1; 0 = tombstone */
};

/* ---- coalescing ---------------------------------------------------------- */

static int same_owners(const struct chinfo *a, const struct chinfo *b)
{
	return a->nown == b->nown && !memcmp(a->owners, b->owners, a->nown * sizeof(a->owners[0]));
}

/* The live slot for `c`'s path, or the empty slot where it would go. */
static struct cslot *cmap_slot(struct ws_events *hub, const struct ws_change *ch,
                               const struct ws_change *c, uint64_t h)
{
	size_t mask = hub->cmapcap - 1, i = h & mask;
	struct cslot *sl;

	for (;; i = (i + 1) & mask) {
		sl = &hub->cmap[i];
		if (sl->gen != hub->cgen)
			return sl;
		if (sl->hash == h && sl->idx1) {
			const struct ws_change *o = &ch[sl->idx1 - 1];

			if (o->pathlen == c->pathlen && !memcmp(o->path, c->path, c->pathlen))
				return sl;
		}
	}
}

/*
 * Merge MODIFIED changes of one path that nothing else touched in between
 * (no other change of that path, no directory created, removed or renamed
 * anywhere, no RESCAN) and that are echoes of the same sessions. The
 * first keeps its place and takes the latest attributes.
 */
static void coalesce(struct ws_events *hub, const struct ws_change *ch, size_t n)
{
	struct cslot *sl;
	size_t i, j;
	uint64_t h;

	if (hub->cmapcap < 2 * n) {
		size_t cap = 64;
		struct cslot *m;

		while (cap < 2 * n)
			cap *= 2;
		m = calloc(cap, sizeof(*m));
		if (!m)
			return;     /* not merging is always correct */
		free(hub->cmap);
		hub->cmap = m;
		hub->cmapcap = cap;
		hub->cgen = 0;
	}
	hub->cgen++;
	for (i = 0; i < n; i++) {
		const struct ws_change *c = &ch[i];

		if (c->kind == FSB_EV_RESCAN ||
		    ((c->flags & FSB_EVF_DIR) && c->kind != FSB_EV_MODIFIED && c->kind != FSB_EV_ATTRIB)) {
			hub->cgen++;    /* paths below may now name other files */
			continue;
		}
		h = ws__hash_bytes(0, c->path, c->pathlen);
		sl = cmap_slot(hub, ch, c, h);
		if (c->kind != FSB_EV_MODIFIED) {
			if (sl->gen == hub->cgen)
				sl->idx1 = 0;
			continue;
		}
		if (sl->gen == hub->cgen) {
			j = sl->idx1 - 1;
			if (same_owners(&hub->info[j], &hub->info[i])) {
				hub->info[i].dropped = 1;
				if (c->flags & FSB_EVF_ATTR)
					hub->info[j].attr_src = i;
				continue;
			}
		}
		sl->gen = hub->cgen;
		sl->hash = h;
		sl->idx1 = i + 1;
	}
}

/* ---- fan-out ------------------------------------------------------------- */

static void log_change(struct ws_events *hub, const struct ws_change *c, const struct chinfo *ci)
{
	struct fsb_str p = { c->path, (uint32_t)c->pathlen };
	char path[600], own[80] = "";
	size_t k, o = 0;

	ws__printable(p, path, sizeof(path));
	for (k = 0; k < ci->nown && o < sizeof(own) - 24; k++)
		o += (size_t)snprintf(own + o, sizeof(own) - o, "%s%" PRIu64, k ? "," : " (echo of connection ",
		                      ci->owners[k]);
	if (ci->nown)
		snprintf(own + o, sizeof(own) - o, ")");
	ws_log(WS_LOG_DEBUG, "export %s: event %s%s%s%s \"%s\"%s%s%s", hub->name,
	       fsb_event_kind_name(c->kind), (c->flags & FSB_EVF_DIR) ? " dir" : "",
	       (c->flags & FSB_EVF_OUTSIDE) ? " outside" : "",
	       (c->flags & FSB_EVF_CLOSE_WRITE) ? " close-write" : "", path, own,
	       ci->dropped ? " (merged into the previous MODIFIED)" : "",
	       c->moved_with ? " (moved in with its directory)" : "");
}

static int grow_scratch(struct ws_events *hub, size_t n)
{
	if (n > hub->evcap) {
		struct fsb_event *e = realloc(hub->evs, n * sizeof(*e));

		if (!e)
			return -FSB_ENOMEM;
		hub->evs = e;
		hub->evcap = n;
	}
	if (n > hub->infocap) {
		struct chinfo *ci = realloc(hub->info, n * sizeof(*ci));

		if (!ci)
			return -FSB_ENOMEM;
		hub->info = ci;
		hub->infocap = n;
	}
	return 0;
}

/* Encode evs[0..count) as one EVENT frame and queue it for sub. */
static void push_frame(struct ws_events *hub, struct ws_evsub *sub, uint32_t count)
{
	struct fsb_msg m;
	uint32_t i, echoes = 0;
	int rc;

	if (!count || sub->lost) {
		if (sub->lost)
			sub->dropped += count;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_EVENT;
	m.flags = FSB_F_PUSH;
	m.id = 0;
	m.u.events.count = count;
	m.u.events.events = hub->evs;
	fsb_wbuf_reset(&hub->wb);
	rc = fsb_msg_encode_mode(&hub->wb, &m, sub->s->csum);
	if (!rc)
		rc = ws__session_queue_event(sub->s, hub->wb.data, hub->wb.len, WS_EV_OUT_HIGH);
	if (rc) {
		/* Not sent: take the numbers back so that the RESCAN owed
		 * follows the last event the client did get. */
		if (rc != 1)
			ws_log(WS_LOG_ERROR, "connection %" PRIu64 ": cannot encode events: %s",
			       sub->s->serial, fsb_strerror(rc));
		else
			ws_log(WS_LOG_WARN, "connection %" PRIu64 ": the client does not read its "
			       "events; dropping them, a RESCAN will follow", sub->s->serial);
		sub->seq = hub->evs[0].seq - 1;
		sub->lost = 1;
		sub->dropped += count;
		return;
	}
	for (i = 0; i < count; i++)
		echoes += !!(hub->evs[i].flags & FSB_EVF_ECHO);
	sub->sent += count;
	sub->echoes += echoes;
}

static int wants_edges(const struct ws_evsub *sub)
{
	return (sub->s->caps & FSB_CAP_EVENT_EDGES) != 0;
}

static void fill_event(struct fsb_event *ev, struct ws_evsub *sub, const struct ws_change *c,
                       const struct ws_change *attr_from, int echo)
{
	uint8_t edges = wants_edges(sub) ? (FSB_EVF_OUTSIDE | FSB_EVF_CLOSE_WRITE) : 0;

	ev->kind = c->kind;
	ev->flags = (uint8_t)((c->flags & (FSB_EVF_DIR | edges)) | (attr_from->flags & FSB_EVF_ATTR) |
	                      (echo ? FSB_EVF_ECHO : 0));
	ev->cookie = c->cookie;
	ev->seq = ++sub->seq;
	ev->path.ptr = c->path;
	ev->path.len = (uint32_t)c->pathlen;
	if (ev->flags & FSB_EVF_ATTR)
		ev->attr = attr_from->attr;
	else
		memset(&ev->attr, 0, sizeof(ev->attr));
}

/* A session whose queue overflowed earlier gets one RESCAN of everything
 * once it has room again. */
static void push_owed_rescan(struct ws_events *hub, struct ws_evsub *sub)
{
	struct ws_change all;

	if (!sub->lost || ws__session_backlog(sub->s) > WS_EV_OUT_HIGH / 2)
		return;
	memset(&all, 0, sizeof(all));
	all.kind = FSB_EV_RESCAN;
	all.path = "";
	all.name = "";
	sub->lost = 0;
	fill_event(&hub->evs[0], sub, &all, &all, 0);
	push_frame(hub, sub, 1);
}

static int owners_has(const struct chinfo *ci, uint64_t owner)
{
	unsigned i;

	for (i = 0; i < ci->nown; i++)
		if (ci->owners[i] == owner)
			return 1;
	return 0;
}

static void fan_out_one(struct ws_events *hub, struct ws_evsub *sub, const struct ws_change *ch,
                        size_t n)
{
	size_t i, used = 0, need;
	uint32_t count = 0;
	int pair_tail = 0;

	push_owed_rescan(hub, sub);
	for (i = 0; i < n; i++) {
		const struct chinfo *ci = &hub->info[i];
		const struct ws_change *c = &ch[i];
		const struct ws_change *a = &ch[ci->attr_src];

		if (ci->dropped || (c->moved_with && wants_edges(sub)))
			continue;
		need = fsb_event_wire_size(c->pathlen, a->flags & FSB_EVF_ATTR);
		/* A rename pair always travels in one frame: its size is
		 * judged at the RENAMED_FROM, and its RENAMED_TO follows. */
		if (!pair_tail) {
			size_t whole = need;

			if (c->kind == FSB_EV_RENAMED_FROM && i + 1 < n)
				whole += fsb_event_wire_size(ch[i + 1].pathlen,
				                             ch[hub->info[i + 1].attr_src].flags & FSB_EVF_ATTR);
			if (count && used + whole > EV_FRAME_BUDGET) {
				push_frame(hub, sub, count);
				count = 0;
				used = 0;
			}
		}
		pair_tail = c->kind == FSB_EV_RENAMED_FROM;
		used += need;
		fill_event(&hub->evs[count++], sub, c, a, owners_has(ci, sub->s->serial));
	}
	push_frame(hub, sub, count);
}

static void on_changes(void *ctx, const struct ws_change *ch, size_t n)
{
	struct ws_events *hub = ctx;
	struct ws_evsub *sub;
	size_t i;

	if (!n)
		return;
	pthread_mutex_lock(&hub->lock);
	if (!hub->subs)
		goto out;
	if (grow_scratch(hub, n)) {
		ws_log(WS_LOG_ERROR, "export %s: out of memory: %" PRIu64 " changes lost; every "
		       "client will be told to rescan", hub->name, (uint64_t)n);
		for (sub = hub->subs; sub; sub = sub->next)
			sub->lost = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memset(&hub->info[i], 0, sizeof(hub->info[i]));
		hub->info[i].attr_src = i;
	}
	ws__echo_match_batch(hub, ch, n);
	coalesce(hub, ch, n);
	if (ws_log_enabled(WS_LOG_DEBUG))
		for (i = 0; i < n; i++)
			log_change(hub, &ch[i], &hub->info[i]);
	for (sub = hub->subs; sub; sub = sub->next)
		fan_out_one(hub, sub, ch, n);
out:
	pthread_mutex_unlock(&hub->lock);
}

/* ---- hub and subscriptions ----------------------------------------------- */

int ws_events_new(struct ws_backend *be, const char *export_name, struct ws_events **out)
{
	struct ws_events *hub = calloc(1, sizeof(*hub));
	size_t n = strlen(export_name) + 1;

	if (!hub)
		return -FSB_ENOMEM;
	hub->be = be;
	hub->name = malloc(n);
	if (!hub->name)
		goto out_free;
	memcpy(hub->name, export_name, n);
	if (ws_htab_init(&hub->xtab))
		goto out_name;
	if (ws_htab_init(&hub->rtab))
		goto out_tab;
	if (pthread_mutex_init(&hub->ctl, NULL))
		goto out_rtab;
	if (pthread_mutex_init(&hub->lock, NULL))
		goto out_ctl;
	if (pthread_mutex_init(&hub->xlock, NULL))
		goto out_lock;
	fsb_wbuf_init(&hub->wb);
	*out = hub;
	return 0;

out_lock:
	pthread_mutex_destroy(&hub->lock);
out_ctl:
	pthread_mutex_destroy(&hub->ctl);
out_rtab:
	ws_htab_release(&hub->rtab);
out_tab:
	ws_htab_release(&hub->xtab);
out_name:
	free(hub->name);
out_free:
	free(hub);
	return -FSB_ENOMEM;
}

void ws_events_free(struct ws_events *hub)
{
	if (!hub)
		return;
	if (hub->watch)
		hub->be->ops->watch_stop(hub->be, hub->watch);
	/* No request runs any more, so every expectation is the table's
	 * alone. */
	ws_htab_drain(&hub->xtab, ws__echo_drain_expect, NULL);
	ws_htab_release(&hub->xtab);
	while (hub->rhead)
		ws__echo_recent_unlink(hub, hub->rhead);
	ws_htab_release(&hub->rtab);
	pthread_mutex_destroy(&hub->xlock);
	pthread_mutex_destroy(&hub->lock);
	pthread_mutex_destroy(&hub->ctl);
	fsb_wbuf_release(&hub->wb);
	free(hub->evs);
	free(hub->info);
	free(hub->cmap);
	free(hub->name);
	free(hub);
}

int ws_events_subscribe(struct ws_events *hub, struct ws_session *s)
{
	int rc = 0;

	pthread_mutex_lock(&hub->ctl);
	if (!hub->watch) {
		rc = hub->be->ops->watch_start(hub->be, on_changes, hub, &hub->watch);
		if (rc) {
			hub->watch = NULL;
			ws_log(WS_LOG_WARN, "export %s: cannot watch for changes: %s", hub->name,
			       fsb_strerror(rc));
			goto out;
		}
		ws_log(WS_LOG_INFO, "export %s: watching for changes", hub->name);
	}
	hub->nsubs++;
	memset(&s->ev, 0, sizeof(s->ev));
	s->ev.s = s;
	s->ev.hub = hub;
out:
	pthread_mutex_unlock(&hub->ctl);
	return rc;
}

void ws_events_arm(struct ws_events *hub, struct ws_session *s, const uint8_t *first, size_t len)
{
	pthread_mutex_lock(&hub->lock);
	ws__session_queue(s, first, len);
	s->ev.next = hub->subs;
	hub->subs = &s->ev;
	s->ev.linked = 1;
	pthread_mutex_unlock(&hub->lock);
}

void ws_events_unsubscribe(struct ws_events *hub, struct ws_session *s)
{
	struct ws_evsub **pp;
	struct ws_watch *w = NULL;

	pthread_mutex_lock(&hub->ctl);
	if (s->ev.hub != hub || s->ev.s != s) {
		pthread_mutex_unlock(&hub->ctl);
		return;
	}
	pthread_mutex_lock(&hub->lock);
	for (pp = &hub->subs; *pp; pp = &(*pp)->next) {
		if (*pp == &s->ev) {
			*pp = s->ev.next;
			break;
		}
	}
	s->ev.next = NULL;
	s->ev.linked = 0;
	s->ev.s = NULL;        /* subscribed no more; ev.hub stays for in-flight requests */
	pthread_mutex_unlock(&hub->lock);
	if (--hub->nsubs == 0) {
		w = hub->watch;
		hub->watch = NULL;
	}
	/* Joins the watcher, which may be waiting for hub->lock: never
	 * with that held. */
	if (w) {
		hub->be->ops->watch_stop(hub->be, w);
		ws_log(WS_LOG_INFO, "export %s: no client wants changes; stopped watching", hub->name);
	}
	pthread_mutex_unlock(&hub->ctl);
	ws_log(WS_LOG_INFO, "connection %" PRIu64 ": %" PRIu64 " events pushed, %" PRIu64
	       " tagged as its own echoes%s", s->serial, s->ev.sent, s->ev.echoes,
	       s->ev.dropped ? " (some dropped: it did not read them)" : "");
}
