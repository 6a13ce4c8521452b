/*
 * fhs.c - see fhs.h. A chained hash table that grows with its load.
 */
#include <errno.h>
#include <stdlib.h>

#include "fhs.h"
#include "nodes.h"
#include "fsb_proto.h"

struct fb_fh {
	struct fb_fh *next;
	struct fb_fh_item it;
};

#define FHS_INITIAL_BUCKETS 256u

static size_t fh_hash(uint64_t fh, size_t nbuckets)
{
	return (size_t)((fh * 0x9E3779B97F4A7C15ull) >> 32) & (nbuckets - 1);
}

int fb_fhs_init(struct fb_fhs *t)
{
	int err;

	t->buckets = calloc(FHS_INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = FHS_INITIAL_BUCKETS;
	t->count = 0;
	err = pthread_mutex_init(&t->lock, NULL);
	if (err) {
		free(t->buckets);
		t->buckets = NULL;
		return -err;
	}
	return 0;
}

void fb_fhs_release(struct fb_fhs *t)
{
	size_t i;

	if (!t->buckets)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct fb_fh *f = t->buckets[i];
			t->buckets[i] = f->next;
			free(f);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

static void fhs_grow(struct fb_fhs *t)
{
	size_t n = t->nbuckets * 2, i;
	struct fb_fh **b = calloc(n, sizeof(*b));

	if (!b)
		return;     /* longer chains, still correct */
	for (i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct fb_fh *f = t->buckets[i];
			size_t h = fh_hash(f->it.fh, n);
			t->buckets[i] = f->next;
			f->next = b[h];
			b[h] = f;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

int fb_fhs_add(struct fb_fhs *t, uint64_t fh, uint64_t node, uint32_t flags)
{
	struct fb_fh *f = malloc(sizeof(*f));
	size_t h;

	if (!f)
		return -ENOMEM;
	f->it.fh = fh;
	f->it.node = node;
	f->it.flags = flags & ~(uint32_t)(FSB_O_CREAT | FSB_O_TRUNC | FSB_O_EXCL);
	pthread_mutex_lock(&t->lock);
	if (t->count >= t->nbuckets)
		fhs_grow(t);
	h = fh_hash(fh, t->nbuckets);
	f->next = t->buckets[h];
	t->buckets[h] = f;
	t->count++;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void fb_fhs_remove(struct fb_fhs *t, uint64_t fh)
{
	struct fb_fh **p, *f;

	pthread_mutex_lock(&t->lock);
	for (p = &t->buckets[fh_hash(fh, t->nbuckets)]; (f = *p); p = &f->next) {
		if (f->it.fh == fh) {
			*p = f->next;
			t->count--;
			free(f);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

size_t fb_fhs_count(struct fb_fhs *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t fb_fhs_snapshot(struct fb_fhs *t, struct fb_fh_item **out)
{
	struct fb_fh_item *v;
	size_t i, n = 0;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	v = t->count ? malloc(t->count * sizeof(*v)) : NULL;
	if (v) {
		for (i = 0; i < t->nbuckets; i++) {
			const struct fb_fh *f;
			for (f = t->buckets[i]; f; f = f->next)
				v[n++] = f->it;
		}
	}
	pthread_mutex_unlock(&t->lock);
	*out = v;
	return n;
}

void fb_fhs_mem(struct fb_fhs *t, size_t *count, size_t *bytes)
{
	pthread_mutex_lock(&t->lock);
	*count = t->count;
	*bytes = t->count * (sizeof(struct fb_fh) + FB_MALLOC_OVERHEAD) +
	         t->nbuckets * sizeof(*t->buckets);
	pthread_mutex_unlock(&t->lock);
}
