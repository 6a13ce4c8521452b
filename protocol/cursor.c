/*
 * cursor.c - bounds-checked little-endian readers and writers.
 *
 * Integers are assembled from bytes with shifts, so the code is the same on
 * any host byte order and never reads through a misaligned pointer.
 */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

/* First allocation of a wbuf: enough for every fixed-size message. */
#define WBUF_MIN_CAP 512u

void fsb__cursor_init(struct fsb__cursor *c, const uint8_t *buf, size_t len)
{
	c->start = buf;
	c->pos = buf;
	c->end = buf + len;
	c->err = 0;
}

size_t fsb__cursor_left(const struct fsb__cursor *c)
{
	return (size_t)(c->end - c->pos);
}

void fsb__cursor_fail(struct fsb__cursor *c, int err)
{
	if (!c->err)
		c->err = err;
}

/* Returns the n bytes at pos and advances, or NULL (and sets err) if fewer
 * than n remain or an earlier read failed. */
static const uint8_t *take(struct fsb__cursor *c, size_t n)
{
	const uint8_t *p;

	if (c->err)
		return NULL;
	if (n > fsb__cursor_left(c)) {
		c->err = -FSB_EFRAME_LEN;
		return NULL;
	}
	p = c->pos;
	c->pos += n;
	return p;
}

uint16_t fsb__peek_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

uint32_t fsb__peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t fsb__peek_u64(const uint8_t *p)
{
	return (uint64_t)fsb__peek_u32(p) | (uint64_t)fsb__peek_u32(p + 4) << 32;
}

void fsb__poke_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void fsb__poke_u64(uint8_t *p, uint64_t v)
{
	fsb__poke_u32(p, (uint32_t)v);
	fsb__poke_u32(p + 4, (uint32_t)(v >> 32));
}

uint8_t fsb__get_u8(struct fsb__cursor *c)
{
	const uint8_t *p = take(c, 1);

	return p ? p[0] : 0;
}

uint16_t fsb__get_u16(struct fsb__cursor *c)
{
	const uint8_t *p = take(c, 2);

	return p ? fsb__peek_u16(p) : 0;
}

uint32_t fsb__get_u32(struct fsb__cursor *c)
{
	const uint8_t *p = take(c, 4);

	return p ? fsb__peek_u32(p) : 0;
}

uint64_t fsb__get_u64(struct fsb__cursor *c)
{
	const uint8_t *p = take(c, 8);

	return p ? fsb__peek_u64(p) : 0;
}

/* Two's complement on the wire. Converting an out-of-range unsigned value
 * to a signed type is implementation-defined in C, so negative values are
 * rebuilt from their complement, which always fits. */
int64_t fsb__get_i64(struct fsb__cursor *c)
{
	uint64_t u = fsb__get_u64(c);

	if (u <= (uint64_t)INT64_MAX)
		return (int64_t)u;
	return -(int64_t)(~u) - 1;
}

static const uint8_t *get_run(struct fsb__cursor *c, uint32_t *lenp,
                              uint32_t max)
{
	uint32_t len = fsb__get_u32(c);
	const uint8_t *p;

	*lenp = 0;
	if (c->err)
		return NULL;
	/* A length past the frame is a framing lie (LEN) even when it also
	 * exceeds the field's cap; only a run that is really there can be a
	 * forbidden value. */
	if (len > fsb__cursor_left(c)) {
		c->err = -FSB_EFRAME_LEN;
		return NULL;
	}
	if (len > max) {
		c->err = -FSB_EFRAME_VALUE;
		return NULL;
	}
	p = take(c, len);
	*lenp = len;
	return p;
}

void fsb__get_str(struct fsb__cursor *c, struct fsb_str *s, uint32_t max)
{
	const uint8_t *p = get_run(c, &s->len, max);

	s->ptr = (const char *)p;
	if (p && s->len && memchr(p, 0, s->len)) {
		c->err = -FSB_EFRAME_VALUE;
		s->ptr = NULL;
		s->len = 0;
	}
}

void fsb__get_bytes(struct fsb__cursor *c, struct fsb_bytes *b, uint32_t max)
{
	b->ptr = get_run(c, &b->len, max);
}

uint32_t fsb__get_count(struct fsb__cursor *c, size_t min_size)
{
	uint32_t n = fsb__get_u32(c);

	if (c->err)
		return 0;
	/* Division, not multiplication: no overflow whatever n claims. */
	if (min_size && n > fsb__cursor_left(c) / min_size) {
		c->err = -FSB_EFRAME_LEN;
		return 0;
	}
	return n;
}

/* Arrays are sized from a count the peer chose. fsb__get_count has already
 * checked that count minimal elements fit in what is left of the frame, so
 * this allocation is bounded by the frame size. */
void *fsb__alloc_array(struct fsb__cursor *c, uint32_t count, size_t size)
{
	void *p;

	if (c->err || !count)
		return NULL;
	p = calloc(count, size);
	if (!p)
		fsb__cursor_fail(c, -FSB_ENOMEM);
	return p;
}

void *fsb__get_array(struct fsb__cursor *c, size_t min_size, uint32_t max, size_t size,
                     uint32_t *count)
{
	uint32_t n = fsb__get_count(c, min_size);
	void *p;

	*count = 0;
	if (n > max) {
		fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
		return NULL;
	}
	p = fsb__alloc_array(c, n, size);
	if (p)
		*count = n;
	return p;
}

/* ---- writing ------------------------------------------------------------ */

void fsb__wcur_init(struct fsb__wcur *w, struct fsb_wbuf *wb)
{
	w->wb = wb;
	w->err = wb->err;
	if (wb->len > SIZE_MAX - FSB_MAX_FRAME)
		w->limit = SIZE_MAX;
	else
		w->limit = wb->len + FSB_MAX_FRAME;
}

void fsb__wcur_fail(struct fsb__wcur *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* Failures here are failed appends: they stick to the wbuf as well. */
static void append_fail(struct fsb__wcur *w, int err)
{
	fsb__wcur_fail(w, err);
	if (!w->wb->err)
		w->wb->err = err;
}

/* Make room for n more bytes; returns where they go, or NULL. */
static uint8_t *reserve(struct fsb__wcur *w, size_t n)
{
	struct fsb_wbuf *wb = w->wb;
	size_t need, cap;
	uint8_t *data;

	if (w->err)
		return NULL;
	if (n > w->limit - wb->len) {
		append_fail(w, -FSB_EFRAME_TOOBIG);
		return NULL;
	}
	need = wb->len + n;
	if (need > wb->cap) {
		cap = wb->cap ? wb->cap : WBUF_MIN_CAP;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		data = realloc(wb->data, cap);
		if (!data) {
			append_fail(w, -FSB_ENOMEM);
			return NULL;
		}
		wb->data = data;
		wb->cap = cap;
	}
	data = wb->data + wb->len;
	wb->len = need;
	return data;
}

uint8_t *fsb__put_space(struct fsb__wcur *w, size_t n)
{
	return reserve(w, n);
}

void fsb__put_u8(struct fsb__wcur *w, uint8_t v)
{
	uint8_t *p = reserve(w, 1);

	if (p)
		p[0] = v;
}

void fsb__put_u16(struct fsb__wcur *w, uint16_t v)
{
	uint8_t *p = reserve(w, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void fsb__put_u32(struct fsb__wcur *w, uint32_t v)
{
	uint8_t *p = reserve(w, 4);

	if (p)
		fsb__poke_u32(p, v);
}

void fsb__put_u64(struct fsb__wcur *w, uint64_t v)
{
	uint8_t *p = reserve(w, 8);

	if (p)
		fsb__poke_u64(p, v);
}

void fsb__put_i64(struct fsb__wcur *w, int64_t v)
{
	fsb__put_u64(w, (uint64_t)v);
}

static void put_run(struct fsb__wcur *w, const void *ptr, uint32_t len,
                    uint32_t max)
{
	uint8_t *p;

	if (w->err)
		return;
	if (len > max || (len && !ptr)) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u32(w, len);
	p = reserve(w, len);
	if (p && len)
		memcpy(p, ptr, len);
}

void fsb__put_str(struct fsb__wcur *w, struct fsb_str s, uint32_t max)
{
	if (s.len && s.ptr && memchr(s.ptr, 0, s.len)) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	put_run(w, s.ptr, s.len, max);
}

void fsb__put_bytes(struct fsb__wcur *w, struct fsb_bytes b, uint32_t max)
{
	put_run(w, b.ptr, b.len, max);
}
