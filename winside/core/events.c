/*
 * events.c - see ws_events.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_check.h"
#include "ws_events.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_platform.h"
#include "ws_session.h"

/* Sessions one change can be an echo for (several clients writing one
 * file at once); more are simply not tagged. */
#define WS_OWNERS_MAX 4u
/* Room left in a frame for the header and the count. */
#define EV_FRAME_BUDGET (FSB_MAX_FRAME - FSB_HDR_SIZE - 64u)

/* ---- expectations -------------------------------------------------------- */

enum { XL_NONE, XL_NAMES, XL_CONTENT };

struct ws_expect {
	struct ws_hlink link;
	struct ws_expect *prev;         /* expiry list (finished ones) */
	struct ws_expect *next;
	struct ws_ident ident;          /* directory, or the object (by_obj) */
	uint64_t owner;
	uint64_t deadline;              /* 0 until a request finished with it */
	unsigned inflight;              /* requests holding it */
	uint8_t kind;                   /* FSB_EV_* of a name change; 0 = content */
	uint8_t by_obj;
	uint8_t hashed;                 /* in the table (not consumed) */
	uint8_t list;                   /* XL_* */
	size_t namelen;
	char name[];
};

struct xlist {
	struct ws_expect *head;
	struct ws_expect *tail;
};

/*
 * What each recently reported name is (from changes that carried
 * attributes, and from CREATE replies), so that a MODIFIED or ATTRIB that
 * comes without attributes (the file was gone by the time the watcher
 * looked: a temporary file written and deleted at once) can still be
 * matched to the requests that wrote that object.
 */
struct recent {
	struct ws_hlink link;
	struct recent *prev;            /* oldest first */
	struct recent *next;
	struct ws_ident dir;
	struct ws_ident obj;
	size_t namelen;
	char name[];
};

/* Per-change working state of one batch. */
struct chinfo {
	uint64_t owners[WS_OWNERS_MAX];   /* sorted */
	uint8_t nown;
	uint8_t dropped;                  /* merged into an earlier MODIFIED */
	size_t attr_src;                  /* change whose attributes to send */
};

struct cslot {
	uint64_t hash;
	uint64_t gen;
	size_t idx1;                      /* change index + 1; 0 = tombstone */
};

struct ws_events {
	struct ws_backend *be;
	char *name;                       /* the export, for log lines */

	pthread_mutex_t ctl;
	struct ws_watch *watch;
	unsigned nsubs;

	pthread_mutex_t lock;
	struct ws_evsub *subs;            /* armed subscribers */
	/* Watcher-thread scratch, reused across batches. */
	struct fsb_wbuf wb;
	struct fsb_event *evs;
	size_t evcap;
	struct chinfo *info;
	size_t infocap;
	struct cslot *cmap;
	size_t cmapcap;
	uint64_t cgen;

	pthread_mutex_t xlock;
	struct ws_htab xtab;
	struct xlist names;
	struct xlist content;
	size_t xcount;
	int xfull_warned;
	struct ws_htab rtab;            /* struct recent, also under xlock */
	struct recent *rhead;
	struct recent *rtail;
};

static uint64_t key_hash(uint8_t kind, uint8_t by_obj, const struct ws_ident *id, const char *name,
                         size_t len)
{
	return ws__hash_bytes(ws__hash_ident(id) ^ ((uint64_t)kind << 8 | by_obj), name, len);
}

static int key_eq(const struct ws_expect *x, uint8_t kind, uint8_t by_obj,
                  const struct ws_ident *id, const char *name, size_t len)
{
	return x->kind == kind && x->by_obj == by_obj && ws__ident_eq(&x->ident, id) &&
	       x->namelen == len && !memcmp(x->name, name, len);
}

static void xl_append(struct xlist *l, struct ws_expect *x)
{
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
}

static struct xlist *xl_of(struct ws_events *hub, struct ws_expect *x)
{
	return x->list == XL_NAMES ? &hub->names : &hub->content;
}

static void xl_unlink(struct ws_events *hub, struct ws_expect *x)
{
	struct xlist *l;

	if (x->list == XL_NONE)
		return;
	l = xl_of(hub, x);
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NULL;
	x->list = XL_NONE;
}

static void x_unhash(struct ws_events *hub, struct ws_expect *x)
{
	if (!x->hashed)
		return;
	ws_htab_remove(&hub->xtab, &x->link);
	x->hashed = 0;
	hub->xcount--;
}

/* Forget x entirely; it must not be held by a running request. */
static void x_free(struct ws_events *hub, struct ws_expect *x)
{
	xl_unlink(hub, x);
	x_unhash(hub, x);
	free(x);
}

static void x_expire_list(struct ws_events *hub, struct xlist *l, uint64_t now)
{
	while (l->head && l->head->deadline <= now)
		x_free(hub, l->head);
}

static void x_expire(struct ws_events *hub, uint64_t now)
{
	x_expire_list(hub, &hub->names, now);
	x_expire_list(hub, &hub->content, now);
}

/* Make room for one more: drop the finished expectation closest to its
 * end. 0, or -1 when every one is held by a running request. */
static int x_evict_one(struct ws_events *hub)
{
	struct ws_expect *a = hub->names.head, *b = hub->content.head;

	if (!a && !b)
		return -1;
	if (!a || (b && b->deadline < a->deadline))
		a = b;
	x_free(hub, a);
	return 0;
}

static struct ws_expect *x_find(struct ws_events *hub, uint64_t h, uint8_t kind, uint8_t by_obj,
                                const struct ws_ident *id, const char *name, size_t len,
                                uint64_t owner)
{
	struct ws_hlink *l;
	struct ws_expect *x;

	for (l = ws_htab_first(&hub->xtab, h); l; l = ws_htab_next(l, h)) {
		x = WS_CONTAINER_OF(l, struct ws_expect, link);
		if (key_eq(x, kind, by_obj, id, name, len) && (!owner || x->owner == owner))
			return x;
	}
	return NULL;
}

/* ---- what names are ------------------------------------------------------ */

static struct recent *recent_find(struct ws_events *hub, uint64_t h, const struct ws_ident *dir,
                                  const char *name, size_t len)
{
	struct ws_hlink *l;
	struct recent *r;

	for (l = ws_htab_first(&hub->rtab, h); l; l = ws_htab_next(l, h)) {
		r = WS_CONTAINER_OF(l, struct recent, link);
		if (ws__ident_eq(&r->dir, dir) && r->namelen == len && !memcmp(r->name, name, len))
			return r;
	}
	return NULL;
}

static void recent_unlink(struct ws_events *hub, struct recent *r)
{
	ws_htab_remove(&hub->rtab, &r->link);
	if (r->prev)
		r->prev->next = r->next;
	else
		hub->rhead = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		hub->rtail = r->prev;
	free(r);
}

static void recent_forget(struct ws_events *hub, const struct ws_ident *dir, const char *name,
                          size_t len)
{
	struct recent *r = recent_find(hub, key_hash(0, 2, dir, name, len), dir, name, len);

	if (r)
		recent_unlink(hub, r);
}

static void recent_learn(struct ws_events *hub, const struct ws_ident *dir, const char *name,
                         size_t len, const struct ws_ident *obj)
{
	uint64_t h = key_hash(0, 2, dir, name, len);
	struct recent *r = recent_find(hub, h, dir, name, len);

	if (r) {
		r->obj = *obj;
		return;
	}
	if (hub->rtab.count >= WS_ECHO_RECENT_MAX)
		recent_unlink(hub, hub->rhead);
	r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return;
	r->dir = *dir;
	r->obj = *obj;
	r->namelen = len;
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	r->next = NULL;
	r->prev = hub->rtail;
	if (hub->rtail)
		hub->rtail->next = r;
	else
		hub->rhead = r;
	hub->rtail = r;
	ws_htab_insert(&hub->rtab, &r->link, h);
}

/* The object `name` in `dir` was last known as, or NULL. */
static const struct ws_ident *recent_obj(struct ws_events *hub, const struct ws_ident *dir,
                                         const char *name, size_t len)
{
	struct recent *r = recent_find(hub, key_hash(0, 2, dir, name, len), dir, name, len);

	return r ? &r->obj : NULL;
}

/* ---- registering expectations --------------------------------------------- */

static void echo_add(struct ws_echo *e, uint8_t kind, uint8_t by_obj, const struct ws_ident *id,
                     const char *name)
{
	struct ws_events *hub = e->hub;
	size_t len = strlen(name);
	uint64_t h = key_hash(kind, by_obj, id, name, len);
	struct ws_expect *x = NULL;

	if (!hub || e->n == WS_ECHO_SLOTS)
		return;
	pthread_mutex_lock(&hub->xlock);
	x_expire(hub, ws_os_now_us());
	/* Content expectations of one session on one key are shared, so a
	 * stream of WRITEs to one file keeps one entry alive. */
	if (kind == 0)
		x = x_find(hub, h, kind, by_obj, id, name, len, e->owner);
	if (x) {
		x->inflight++;
		xl_unlink(hub, x);
		goto out;
	}
	while (hub->xcount >= WS_ECHO_MAX && x_evict_one(hub) == 0)
		;
	if (hub->xcount >= WS_ECHO_MAX) {
		if (!hub->xfull_warned)
			ws_log(WS_LOG_WARN, "export %s: %u requests in flight are already expecting "
			       "changes; further echoes go untagged", hub->name, WS_ECHO_MAX);
		hub->xfull_warned = 1;
		goto out;
	}
	x = calloc(1, sizeof(*x) + len + 1);
	if (!x)
		goto out;
	x->ident = *id;
	x->owner = e->owner;
	x->kind = kind;
	x->by_obj = by_obj;
	x->namelen = len;
	if (len)
		memcpy(x->name, name, len);
	x->inflight = 1;
	x->hashed = 1;
	ws_htab_insert(&hub->xtab, &x->link, h);
	hub->xcount++;
out:
	pthread_mutex_unlock(&hub->xlock);
	if (x)
		e->x[e->n++] = x;
}

void ws_echo_begin(struct ws_echo *e, struct ws_session *s)
{
	e->hub = s->ev.hub;
	e->owner = s->serial;
	e->n = 0;
}

void ws_echo_name(struct ws_echo *e, uint8_t kind, const struct ws_ident *dir, const char *name)
{
	echo_add(e, kind, 0, dir, name);
}

void ws_echo_object(struct ws_echo *e, const struct ws_ident *obj)
{
	echo_add(e, 0, 1, obj, "");
}

void ws_echo_content_at(struct ws_echo *e, const struct ws_ident *dir, const char *name)
{
	echo_add(e, 0, 0, dir, name);
}

void ws_echo_learn(struct ws_echo *e, const struct ws_ident *dir, const char *name,
                   const struct ws_ident *obj)
{
	if (!e->hub)
		return;
	pthread_mutex_lock(&e->hub->xlock);
	recent_learn(e->hub, dir, name, strlen(name), obj);
	pthread_mutex_unlock(&e->hub->xlock);
}

void ws_echo_end(struct ws_echo *e, int rc)
{
	struct ws_events *hub = e->hub;
	struct ws_expect *x;
	uint64_t now;
	unsigned i;

	if (!hub || !e->n)
		return;
	pthread_mutex_lock(&hub->xlock);
	now = ws_os_now_us();
	for (i = 0; i < e->n; i++) {
		x = e->x[i];
		if (--x->inflight)
			continue;
		if (!x->hashed || (rc && x->deadline <= now)) {
			/* Consumed already, or withdrawn with nothing left
			 * of an earlier request's window. */
			x_free(hub, x);
			continue;
		}
		if (!rc)
			x->deadline = now + (x->kind ? WS_ECHO_NAME_TTL_US : WS_ECHO_CONTENT_TTL_US);
		/* Constant TTLs keep each list sorted by deadline; a
		 * withdrawn content entry keeps its older deadline, which
		 * at worst lives a little longer behind a newer one. */
		x->list = x->kind ? XL_NAMES : XL_CONTENT;
		xl_append(xl_of(hub, x), x);
	}
	e->n = 0;
	pthread_mutex_unlock(&hub->xlock);
}

static void owners_add(struct chinfo *ci, uint64_t owner)
{
	unsigned i, j;

	for (i = 0; i < ci->nown; i++) {
		if (ci->owners[i] == owner)
			return;
		if (ci->owners[i] > owner)
			break;
	}
	if (ci->nown == WS_OWNERS_MAX)
		return;
	for (j = ci->nown; j > i; j--)
		ci->owners[j] = ci->owners[j - 1];
	ci->owners[i] = owner;
	ci->nown++;
}

static int owners_has(const struct chinfo *ci, uint64_t owner)
{
	unsigned i;

	for (i = 0; i < ci->nown; i++)
		if (ci->owners[i] == owner)
			return 1;
	return 0;
}

static void match_content(struct ws_events *hub, struct chinfo *ci, uint8_t by_obj,
                          const struct ws_ident *id, const char *name, size_t len)
{
	uint64_t h = key_hash(0, by_obj, id, name, len);
	struct ws_hlink *l;
	struct ws_expect *x;

	for (l = ws_htab_first(&hub->xtab, h); l; l = ws_htab_next(l, h)) {
		x = WS_CONTAINER_OF(l, struct ws_expect, link);
		if (key_eq(x, 0, by_obj, id, name, len))
			owners_add(ci, x->owner);
	}
}

/* Whose echo each change is. Name expectations are consumed here. */
static void match_batch(struct ws_events *hub, const struct ws_change *ch, size_t n)
{
	const struct ws_ident *obj;
	struct ws_expect *x;
	struct chinfo *ci;
	size_t i, len;

	pthread_mutex_lock(&hub->xlock);
	x_expire(hub, ws_os_now_us());
	for (i = 0; i < n; i++) {
		ci = &hub->info[i];
		len = strlen(ch[i].name);
		/* What the name is now, for later changes without
		 * attributes; a name that went away is nothing. */
		obj = (ch[i].flags & FSB_EVF_ATTR) ? &ch[i].obj : NULL;
		if (obj)
			recent_learn(hub, &ch[i].dir, ch[i].name, len, obj);
		else if (ch[i].kind == FSB_EV_MODIFIED || ch[i].kind == FSB_EV_ATTRIB)
			obj = recent_obj(hub, &ch[i].dir, ch[i].name, len);
		else if (ch[i].kind == FSB_EV_REMOVED || ch[i].kind == FSB_EV_RENAMED_FROM)
			recent_forget(hub, &ch[i].dir, ch[i].name, len);
		if (!hub->xcount)
			continue;
		switch (ch[i].kind) {
		case FSB_EV_CREATED:
		case FSB_EV_REMOVED:
		case FSB_EV_RENAMED_FROM:
		case FSB_EV_RENAMED_TO:
			x = x_find(hub, key_hash(ch[i].kind, 0, &ch[i].dir, ch[i].name, len), ch[i].kind,
			           0, &ch[i].dir, ch[i].name, len, 0);
			if (!x)
				break;
			owners_add(ci, x->owner);
			x_unhash(hub, x);
			if (!x->inflight)
				x_free(hub, x);
			break;
		case FSB_EV_MODIFIED:
		case FSB_EV_ATTRIB:
			if (obj)
				match_content(hub, ci, 1, obj, "", 0);
			match_content(hub, ci, 0, &ch[i].dir, ch[i].name, len);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&hub->xlock);
	/* Both halves of a rename are one request's doing: tag them alike. */
	for (i = 0; i + 1 < n; i++) {
		unsigned k;

		if (ch[i].kind != FSB_EV_RENAMED_FROM || ch[i + 1].kind != FSB_EV_RENAMED_TO)
			continue;
		for (k = 0; k < hub->info[i + 1].nown; k++)
			owners_add(&hub->info[i], hub->info[i + 1].owners[k]);
		hub->info[i + 1] = hub->info[i];
		hub->info[i + 1].attr_src = i + 1;
		i++;
	}
}

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
	ws_log(WS_LOG_DEBUG, "export %s: event %s%s \"%s\"%s%s", hub->name, fsb_event_kind_name(c->kind),
	       (c->flags & FSB_EVF_DIR) ? " dir" : "", path, own,
	       ci->dropped ? " (merged into the previous MODIFIED)" : "");
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
	rc = fsb_msg_encode(&hub->wb, &m);
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

static void fill_event(struct fsb_event *ev, struct ws_evsub *sub, const struct ws_change *c,
                       const struct ws_change *attr_from, int echo)
{
	ev->kind = c->kind;
	ev->flags = (uint8_t)((c->flags & FSB_EVF_DIR) | (attr_from->flags & FSB_EVF_ATTR) |
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

		if (ci->dropped)
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
	match_batch(hub, ch, n);
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

static void drain_expect(struct ws_hlink *l, void *arg)
{
	(void)arg;
	free(WS_CONTAINER_OF(l, struct ws_expect, link));
}

void ws_events_free(struct ws_events *hub)
{
	if (!hub)
		return;
	if (hub->watch)
		hub->be->ops->watch_stop(hub->be, hub->watch);
	/* No request runs any more, so every expectation is the table's
	 * alone. */
	ws_htab_drain(&hub->xtab, drain_expect, NULL);
	ws_htab_release(&hub->xtab);
	while (hub->rhead)
		recent_unlink(hub, hub->rhead);
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
