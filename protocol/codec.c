/*
 * codec.c - frames, see PROTOCOL.md: the header and which direction an
 * (op, flags) pair names, the checksum, and whole messages encoded and
 * decoded through the table of body codecs (bodies.c, codec_int.h), with
 * the generic error body of failed replies. Calls the table and the
 * cursor only.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "codec_int.h"
#include "cursor.h"

_Static_assert(FSB_HDR_SIZE == 32, "frame header layout");
_Static_assert(FSB_MAX_IO + 64u <= FSB_MAX_FRAME,
               "a maximal READ reply or WRITE request fits in a frame");
_Static_assert(FSB_STATUS__WIRE_MAX < FSB_EFRAME_SHORT,
               "local verdicts never collide with wire codes");

static void enc_error(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_str(w, m->u.error.detail, FSB_ERRMSG_MAX);
}

static void dec_error(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_str(c, &m->u.error.detail, FSB_ERRMSG_MAX);
}

enum frame_kind { KIND_REQUEST, KIND_REPLY, KIND_PUSH };

/* Which direction (op, flags) names, or -FSB_EFRAME_OP if none. */
static int frame_kind(unsigned op, unsigned flags)
{
	const struct fsb__op_codec *oc;

	if (op >= FSB_OP__COUNT || !fsb__op_table[op].name)
		return -FSB_EFRAME_OP;
	oc = &fsb__op_table[op];
	switch (flags) {
	case FSB_F_CRED:
		return oc->cred ? KIND_REQUEST : -FSB_EFRAME_OP;
	case 0:
		return op != FSB_OP_EVENT ? KIND_REQUEST : -FSB_EFRAME_OP;
	case FSB_F_REPLY:
		return oc->dec_rep ? KIND_REPLY : -FSB_EFRAME_OP;
	case FSB_F_PUSH:
		return op == FSB_OP_EVENT ? KIND_PUSH : -FSB_EFRAME_OP;
	default:        /* REPLY|PUSH together, or bits we do not know */
		return -FSB_EFRAME_OP;
	}
}

/* Header values that are legal framing but forbidden for this kind. */
static int check_header_values(int kind, uint32_t status, uint64_t id)
{
	if (kind == KIND_REPLY)
		return status < FSB_STATUS__WIRE_MAX ? 0 : -FSB_EFRAME_VALUE;
	if (status != 0)
		return -FSB_EFRAME_VALUE;
	if (kind == KIND_PUSH && id != 0)
		return -FSB_EFRAME_VALUE;
	return 0;
}

/* ---- output buffer ------------------------------------------------------ */

void fsb_wbuf_init(struct fsb_wbuf *wb)
{
	wb->data = NULL;
	wb->len = 0;
	wb->cap = 0;
	wb->err = 0;
}

void fsb_wbuf_release(struct fsb_wbuf *wb)
{
	free(wb->data);
	fsb_wbuf_init(wb);
}

void fsb_wbuf_reset(struct fsb_wbuf *wb)
{
	wb->len = 0;
	wb->err = 0;
}

/* ---- frames --------------------------------------------------------------- */

/* The checksum field of the frame at buf (len bytes) under mode. */
static uint64_t frame_csum(const uint8_t *buf, size_t len, enum fsb_csum mode)
{
	return mode == FSB_CSUM_NONE ? 0 : XXH3_64bits(buf + 16, len - 16);
}

int fsb_frame_check_mode(const uint8_t *buf, size_t avail, uint32_t *frame_len,
                         enum fsb_csum mode)
{
	uint32_t len, dummy;
	int kind;

	if (!frame_len)
		frame_len = &dummy;
	*frame_len = 8;
	if (avail < 8)
		return -FSB_EFRAME_SHORT;
	len = fsb__peek_u32(buf);
	if (fsb__peek_u32(buf + 4) != FSB_MAGIC)
		return -FSB_EFRAME_MAGIC;
	if (len > FSB_MAX_FRAME)
		return -FSB_EFRAME_TOOBIG;
	if (len < FSB_HDR_SIZE)
		return -FSB_EFRAME_UNDERSIZE;
	*frame_len = len;
	if (avail < len)
		return -FSB_EFRAME_SHORT;
	/* Without checksums the field must still be 0: a peer that
	 * disagrees about the mode is caught at its first frame. */
	if (frame_csum(buf, len, mode) != fsb__peek_u64(buf + 8))
		return -FSB_EFRAME_CSUM;
	kind = frame_kind(fsb__peek_u16(buf + 16), fsb__peek_u16(buf + 18));
	return kind < 0 ? kind : 0;
}

void fsb_frame_seal(uint8_t *frame, size_t len, enum fsb_csum mode)
{
	fsb__poke_u64(frame + 8, frame_csum(frame, len, mode));
}

int fsb_frame_check(const uint8_t *buf, size_t avail, uint32_t *frame_len)
{
	return fsb_frame_check_mode(buf, avail, frame_len, FSB_CSUM_XXH3);
}

static fsb__dec_fn *decoder_for(int kind, const struct fsb_msg *m)
{
	const struct fsb__op_codec *oc = &fsb__op_table[m->op];

	if (kind != KIND_REPLY)
		return oc->dec_req;
	return m->status ? dec_error : oc->dec_rep;
}

static fsb__enc_fn *encoder_for(int kind, const struct fsb_msg *m)
{
	const struct fsb__op_codec *oc = &fsb__op_table[m->op];

	if (kind != KIND_REPLY)
		return oc->enc_req;
	return m->status ? enc_error : oc->enc_rep;
}

int fsb_msg_encode_mode(struct fsb_wbuf *wb, const struct fsb_msg *m, enum fsb_csum mode)
{
	struct fsb__wcur w;
	size_t start = wb->len;
	uint8_t *hdr;
	int kind;

	if (wb->err)
		return wb->err;
	kind = frame_kind(m->op, m->flags);
	if (kind < 0)
		return kind;
	if (check_header_values(kind, m->status, m->id))
		return -FSB_EFRAME_VALUE;

	fsb__wcur_init(&w, wb);
	fsb__put_u32(&w, 0);            /* len, patched below */
	fsb__put_u32(&w, FSB_MAGIC);
	fsb__put_u64(&w, 0);            /* csum, patched below */
	fsb__put_u16(&w, m->op);
	fsb__put_u16(&w, m->flags);
	fsb__put_u32(&w, m->status);
	fsb__put_u64(&w, m->id);
	encoder_for(kind, m)(&w, m);
	if (m->flags & FSB_F_CRED) {
		fsb__put_u32(&w, m->cred.uid);
		fsb__put_u32(&w, m->cred.gid);
	}
	if (w.err) {
		wb->len = start;
		return w.err;
	}
	hdr = wb->data + start;
	fsb__poke_u32(hdr, (uint32_t)(wb->len - start));
	fsb__poke_u64(hdr + 8, frame_csum(hdr, wb->len - start, mode));
	return 0;
}

int fsb_msg_encode(struct fsb_wbuf *wb, const struct fsb_msg *m)
{
	return fsb_msg_encode_mode(wb, m, FSB_CSUM_XXH3);
}

/*
 * READ replies filled in place. The frame is laid out as enc_read_rep
 * would (header, u32 data length, data), so the finished frame is the
 * one fsb_msg_encode gives for the same data: encoding stays unique.
 */
int fsb_read_rep_begin(struct fsb_wbuf *wb, uint64_t id, uint32_t size, uint8_t **data)
{
	struct fsb__wcur w;
	size_t start = wb->len;
	uint8_t *p;

	*data = NULL;
	if (wb->err)
		return wb->err;
	if (size > FSB_MAX_IO)
		return -FSB_EFRAME_VALUE;
	fsb__wcur_init(&w, wb);
	fsb__put_u32(&w, 0);            /* len, set by fsb_read_rep_finish */
	fsb__put_u32(&w, FSB_MAGIC);
	fsb__put_u64(&w, 0);
	fsb__put_u16(&w, FSB_OP_READ);
	fsb__put_u16(&w, FSB_F_REPLY);
	fsb__put_u32(&w, 0);
	fsb__put_u64(&w, id);
	fsb__put_u32(&w, size);
	p = fsb__put_space(&w, size);
	if (w.err) {
		wb->len = start;
		return w.err;
	}
	/* Where the data goes even for size 0 (no bytes are written). */
	*data = p ? p : wb->data + wb->len;
	return 0;
}

int fsb_read_rep_finish(struct fsb_wbuf *wb, size_t start, uint32_t got, enum fsb_csum mode)
{
	uint8_t *hdr;
	size_t len;

	if (wb->err)
		return wb->err;
	if (start > wb->len || wb->len - start < FSB_HDR_SIZE + 4)
		return -FSB_EFRAME_LEN;
	hdr = wb->data + start;
	if (fsb__peek_u16(hdr + 16) != FSB_OP_READ || fsb__peek_u16(hdr + 18) != FSB_F_REPLY ||
	    fsb__peek_u32(hdr + FSB_HDR_SIZE) != wb->len - start - FSB_HDR_SIZE - 4 ||
	    got > fsb__peek_u32(hdr + FSB_HDR_SIZE))
		return -FSB_EFRAME_VALUE;
	len = FSB_HDR_SIZE + 4 + (size_t)got;
	wb->len = start + len;
	fsb__poke_u32(hdr, (uint32_t)len);
	fsb__poke_u32(hdr + FSB_HDR_SIZE, got);
	fsb__poke_u64(hdr + 8, frame_csum(hdr, len, mode));
	return 0;
}

int fsb_msg_decode_mode(const uint8_t *frame, size_t len, struct fsb_msg *m,
                        enum fsb_csum mode)
{
	struct fsb__cursor c;
	uint32_t flen;
	int err, kind;

	memset(m, 0, sizeof(*m));
	err = fsb_frame_check_mode(frame, len, &flen, mode);
	if (err)
		return err;
	if (flen != len)
		return -FSB_EFRAME_TRAILING;

	m->op = fsb__peek_u16(frame + 16);
	m->flags = fsb__peek_u16(frame + 18);
	m->status = fsb__peek_u32(frame + 20);
	m->id = fsb__peek_u64(frame + 24);
	kind = frame_kind(m->op, m->flags);
	err = check_header_values(kind, m->status, m->id);
	if (err)
		goto out_clear;

	fsb__cursor_init(&c, frame + FSB_HDR_SIZE, len - FSB_HDR_SIZE);
	decoder_for(kind, m)(&c, m);
	if (m->flags & FSB_F_CRED) {
		m->cred.uid = fsb__get_u32(&c);
		m->cred.gid = fsb__get_u32(&c);
	}
	err = c.err;
	if (!err && fsb__cursor_left(&c))
		err = -FSB_EFRAME_TRAILING;
	if (err) {
		fsb_msg_release(m);
		goto out_clear;
	}
	return 0;

out_clear:
	memset(m, 0, sizeof(*m));
	return err;
}

int fsb_msg_decode(const uint8_t *frame, size_t len, struct fsb_msg *m)
{
	return fsb_msg_decode_mode(frame, len, m, FSB_CSUM_XXH3);
}

void fsb_msg_release(struct fsb_msg *m)
{
	if (m->op == FSB_OP_FORGET && m->flags == 0) {
		free(m->u.forget.items);
		m->u.forget.items = NULL;
		m->u.forget.count = 0;
	} else if (m->op == FSB_OP_READDIRPLUS && m->flags == FSB_F_REPLY &&
	           m->status == 0) {
		free(m->u.readdir_rep.ents);
		m->u.readdir_rep.ents = NULL;
		m->u.readdir_rep.count = 0;
	} else if (m->op == FSB_OP_EVENT && m->flags == FSB_F_PUSH) {
		free(m->u.events.events);
		m->u.events.events = NULL;
		m->u.events.count = 0;
	} else if (m->op == FSB_OP_EXPORTS && m->flags == FSB_F_REPLY && m->status == 0) {
		free(m->u.exports_rep.items);
		m->u.exports_rep.items = NULL;
		m->u.exports_rep.count = 0;
	} else if (m->op == FSB_OP_RESUME && m->flags == 0) {
		free(m->u.resume.items);
		m->u.resume.items = NULL;
		m->u.resume.count = 0;
	} else if (m->op == FSB_OP_RESUME && m->flags == FSB_F_REPLY && m->status == 0) {
		free(m->u.resume_rep.items);
		m->u.resume_rep.items = NULL;
		m->u.resume_rep.count = 0;
	}
}
