/*
 * cursor.h - bounds-checked little-endian readers and writers (internal).
 *
 * Reading: a cursor over one received frame. Every get checks the bytes
 * are there before touching them; the first failure is remembered in
 * `err` and every later get returns 0 without moving, so a decoder can
 * read a whole message and look at `err` once at the end. Pointers never
 * leave [start, end]: lengths are compared against `end - pos`, never
 * added to `pos` first.
 *
 * Writing: appends to a struct fsb_wbuf, bounded so that one frame never
 * exceeds FSB_MAX_FRAME. Two kinds of failure: a message that breaks a
 * protocol limit (local to this frame, wc->err only) and a failed append
 * (allocation, frame size), which also sets the sticky wb->err.
 */
#ifndef FSB_CURSOR_H
#define FSB_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

struct fsb__cursor {
	const uint8_t *start;
	const uint8_t *pos;
	const uint8_t *end;
	int err;                /* 0 or -FSB_EFRAME_xxx; first error wins */
};

void fsb__cursor_init(struct fsb__cursor *c, const uint8_t *buf, size_t len);
size_t fsb__cursor_left(const struct fsb__cursor *c);
void fsb__cursor_fail(struct fsb__cursor *c, int err);

uint8_t fsb__get_u8(struct fsb__cursor *c);
uint16_t fsb__get_u16(struct fsb__cursor *c);
uint32_t fsb__get_u32(struct fsb__cursor *c);
uint64_t fsb__get_u64(struct fsb__cursor *c);
int64_t fsb__get_i64(struct fsb__cursor *c);
/* u32 length + bytes, length checked against the frame, then against `max`,
 * then for NUL bytes. The result borrows from the frame. */
void fsb__get_str(struct fsb__cursor *c, struct fsb_str *s, uint32_t max);
/* Same for opaque bytes: NUL is allowed. */
void fsb__get_bytes(struct fsb__cursor *c, struct fsb_bytes *b, uint32_t max);
/* Read a u32 element count and check that `count * min_size` bytes can
 * still follow, so the caller may allocate `count` elements safely. */
uint32_t fsb__get_count(struct fsb__cursor *c, size_t min_size);
/* calloc(count, size) for a count fsb__get_count has bounded; NULL (and
 * c->err set on allocation failure) when count is 0 or c->err is set. */
void *fsb__alloc_array(struct fsb__cursor *c, uint32_t count, size_t size);
/* A u32 count, at most `max` (else VALUE) and checked as fsb__get_count
 * does, then fsb__alloc_array; *count is set only with the array. */
void *fsb__get_array(struct fsb__cursor *c, size_t min_size, uint32_t max, size_t size,
                     uint32_t *count);

struct fsb__wcur {
	struct fsb_wbuf *wb;
	size_t limit;           /* wb->len may not grow past this */
	int err;                /* 0 or negative; first error wins */
};

/* Start a frame at wb->len; it may grow to FSB_MAX_FRAME bytes. */
void fsb__wcur_init(struct fsb__wcur *w, struct fsb_wbuf *wb);
void fsb__wcur_fail(struct fsb__wcur *w, int err);

void fsb__put_u8(struct fsb__wcur *w, uint8_t v);
void fsb__put_u16(struct fsb__wcur *w, uint16_t v);
void fsb__put_u32(struct fsb__wcur *w, uint32_t v);
void fsb__put_u64(struct fsb__wcur *w, uint64_t v);
void fsb__put_i64(struct fsb__wcur *w, int64_t v);
/* Validate as fsb__get_str would (max, NUL) before writing, so we never
 * send what the peer must reject. */
void fsb__put_str(struct fsb__wcur *w, struct fsb_str s, uint32_t max);
void fsb__put_bytes(struct fsb__wcur *w, struct fsb_bytes b, uint32_t max);
/* Append n bytes the caller fills in; returns where they go, or NULL. */
uint8_t *fsb__put_space(struct fsb__wcur *w, size_t n);

/* Raw little-endian access at `p`, for header fields whose bounds the
 * caller has already checked (the frame header, the len/csum patch-up). */
void fsb__poke_u32(uint8_t *p, uint32_t v);
void fsb__poke_u64(uint8_t *p, uint64_t v);
uint32_t fsb__peek_u32(const uint8_t *p);
uint64_t fsb__peek_u64(const uint8_t *p);
uint16_t fsb__peek_u16(const uint8_t *p);

/* The log name kept in the codec's dispatch table, NULL if unknown. */
const char *fsb__codec_op_name(unsigned op);

#endif
