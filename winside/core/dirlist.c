/*
 * dirlist.c - the handles kept between the batches of listings by node.
 */
#include <string.h>

#include "fsb_proto.h"
#include "ws_dirlist.h"

int ws_dirlists_init(struct ws_dirlists *d)
{
	memset(d, 0, sizeof(*d));
	return pthread_mutex_init(&d->lock, NULL) ? -FSB_ENOMEM : 0;
}

void ws_dirlists_release(struct ws_dirlists *d)
{
	pthread_mutex_destroy(&d->lock);
}

uint64_t ws_dirlists_take(struct ws_dirlists *d, uint64_t node, uint64_t cookie)
{
	uint64_t fh = 0;
	unsigned i;

	/* A fresh listing (cookie 0) opens afresh too: on Windows a kept
	 * handle would restart its scan anyway, and a new one sees the
	 * directory as it is now on every backend. */
	if (cookie == 0)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < WS_DIRLIST_SLOTS; i++) {
		struct ws_dirlist_slot *s = &d->slot[i];

		if (s->node == node && s->next == cookie) {
			fh = s->fh;
			memset(s, 0, sizeof(*s));
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return fh;
}

uint64_t ws_dirlists_keep(struct ws_dirlists *d, uint64_t node, uint64_t fh, uint64_t next)
{
	struct ws_dirlist_slot *pick = NULL;
	uint64_t out = 0;
	unsigned i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < WS_DIRLIST_SLOTS; i++) {
		struct ws_dirlist_slot *s = &d->slot[i];

		if (!s->node) {
			pick = s;
			break;
		}
		if (!pick || s->used < pick->used)
			pick = s;
	}
	if (pick->node)
		out = pick->fh;
	pick->node = node;
	pick->fh = fh;
	pick->next = next;
	pick->used = ++d->clock;
	pthread_mutex_unlock(&d->lock);
	return out;
}
