/*
 * resume.c - the RESUME bodies, see PROTOCOL.md: the client's node ids
 * and handles offered to a new session, and one result per item.
 *
 * A request item is a kind byte and a kind-specific body, so its size
 * varies; the count is checked against the smallest item (a handle)
 * before anything is allocated, and against FSB_RESUME_MAX.
 */
#include "codec_int.h"
#include "cursor.h"

/* kind + fh + node + flags; a node item is kind + 4 u64 + type + name. */
#define RESUME_HANDLE_SIZE (1u + 8u + 8u + 4u)
#define RESUME_NODE_FIXED_SIZE (1u + 4u * 8u + 4u + 4u)
#define RESUME_RESULT_SIZE (4u + FSB_ATTR_WIRE_SIZE)

_Static_assert(RESUME_HANDLE_SIZE <= RESUME_NODE_FIXED_SIZE,
               "a handle is the smallest item");
_Static_assert(FSB_HDR_SIZE + 12u + FSB_RESUME_MAX *
               (RESUME_NODE_FIXED_SIZE + FSB_NAME_MAX) <= FSB_MAX_FRAME,
               "a maximal RESUME request fits in a frame");
_Static_assert(FSB_HDR_SIZE + 4u + FSB_RESUME_MAX * RESUME_RESULT_SIZE <= FSB_MAX_FRAME,
               "a maximal RESUME reply fits in a frame");

static int item_ok(const struct fsb_resume_item *it)
{
	if (it->kind == FSB_RESUME_HANDLE)
		return 1;
	return it->kind == FSB_RESUME_NODE && !(it->u.node.type & ~FSB_S_IFMT);
}

void fsb__enc_resume_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_resume_req *r = &m->u.resume;
	const struct fsb_resume_item *it;
	uint32_t i;

	if (r->count > FSB_RESUME_MAX || (r->count && !r->items)) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u64(w, r->gen);
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		it = &r->items[i];
		if (!item_ok(it)) {
			fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
			return;
		}
		fsb__put_u8(w, it->kind);
		if (it->kind == FSB_RESUME_HANDLE) {
			fsb__put_u64(w, it->u.handle.fh);
			fsb__put_u64(w, it->u.handle.node);
			fsb__put_u32(w, it->u.handle.flags);
			continue;
		}
		fsb__put_u64(w, it->u.node.id);
		fsb__put_u64(w, it->u.node.parent);
		fsb__put_u64(w, it->u.node.nlookup);
		fsb__put_u64(w, it->u.node.ino);
		fsb__put_u32(w, it->u.node.type);
		fsb__put_str(w, it->u.node.name, FSB_NAME_MAX);
	}
}

void fsb__dec_resume_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_resume_req *r = &m->u.resume;
	struct fsb_resume_item *it;
	uint32_t i, n;

	r->gen = fsb__get_u64(c);
	r->items = fsb__get_array(c, RESUME_HANDLE_SIZE, FSB_RESUME_MAX, sizeof(*r->items), &r->count);
	n = r->count;
	for (i = 0; i < n && !c->err; i++) {
		it = &r->items[i];
		it->kind = fsb__get_u8(c);
		if (it->kind == FSB_RESUME_HANDLE) {
			it->u.handle.fh = fsb__get_u64(c);
			it->u.handle.node = fsb__get_u64(c);
			it->u.handle.flags = fsb__get_u32(c);
		} else if (it->kind != FSB_RESUME_NODE) {
			if (!c->err)
				fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
		} else {
			it->u.node.id = fsb__get_u64(c);
			it->u.node.parent = fsb__get_u64(c);
			it->u.node.nlookup = fsb__get_u64(c);
			it->u.node.ino = fsb__get_u64(c);
			it->u.node.type = fsb__get_u32(c);
			fsb__get_str(c, &it->u.node.name, FSB_NAME_MAX);
		}
		if (!c->err && !item_ok(it))
			fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
	}
}

void fsb__enc_resume_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_resume_rep *r = &m->u.resume_rep;
	uint32_t i;

	if (r->count > FSB_RESUME_MAX || (r->count && !r->items)) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		if (r->items[i].status >= FSB_STATUS__WIRE_MAX)
			fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		fsb__put_u32(w, r->items[i].status);
		fsb__put_attr(w, &r->items[i].attr);
	}
}

void fsb__dec_resume_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_resume_rep *r = &m->u.resume_rep;
	uint32_t i, n;

	r->items = fsb__get_array(c, RESUME_RESULT_SIZE, FSB_RESUME_MAX, sizeof(*r->items),
	                          &r->count);
	n = r->count;
	for (i = 0; i < n && !c->err; i++) {
		r->items[i].status = fsb__get_u32(c);
		if (!c->err && r->items[i].status >= FSB_STATUS__WIRE_MAX)
			fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
		fsb__get_attr(c, &r->items[i].attr);
	}
}
