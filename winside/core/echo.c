/*
 * echo.c - echo expectations (ws_echo_*, see ws_events.h): what request
 * handlers say they are about to change, kept in the hub's expectation
 * table, and the names whose objects the hub remembers; and, for each
 * watcher batch, whose echo every change is (ws__echo_match_batch, called
 * by events.c). Takes hub->xlock only; calls the hash table and the log,
 * nothing of the hub's fan-out or of the sessions beyond their serial.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_events.h"
#include "ws_events_int.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_platform.h"
#include "ws_session.h"

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

void ws__echo_recent_unlink(struct ws_events *hub, struct recent *r)
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
		ws__echo_recent_unlink(hub, r);
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
		ws__echo_recent_unlink(hub, hub->rhead);
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

/* ---- whose echo a change is ---------------------------------------------- */

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
void ws__echo_match_batch(struct ws_events *hub, const struct ws_change *ch, size_t n)
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

void ws__echo_drain_expect(struct ws_hlink *l, void *arg)
{
	(void)arg;
	free(WS_CONTAINER_OF(l, struct ws_expect, link));
}
