/*
 * conn_rx.c - the connection's reading half and its heartbeat: frames
 * from the server, checked, decoded and handed to the call they answer
 * (or to the push handler); see conn.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "conn_int.h"
#include "log.h"

#define RX_CHUNK (256u * 1024u)

/* ---- heartbeat --------------------------------------------------------- */

static void ping_cb(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	(void)call;
	(void)rep;
	(void)err;
}

static void ping_release(struct fb_call *call)
{
	free(call);
}

void fb__conn_on_heartbeat(uv_timer_t *t)
{
	struct fb_conn *c = t->data;
	uint64_t now = uv_now(&c->loop);
	struct fb_call *call;
	struct fsb_msg m;

	if (!c->sock_open)
		return;
	if (now - c->last_rx_ms >= c->dead_ms) {
		fb__conn_fail(c, 1, "no answer for %u s", c->dead_ms / 1000);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (!call)
		return;
	call->cb = ping_cb;
	call->release = ping_release;
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.u.ping.nonce = ++c->ping_nonce;
	if (fb_conn_submit(c, call, &m) < 0)
		free(call);
}

/* ---- reading ----------------------------------------------------------- */

void fb__conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fb_conn *c = h->data;
	size_t want = c->rx_len + RX_CHUNK, give;

	(void)suggested;
	if (c->rx_need > c->rx_len && c->rx_need + RX_CHUNK > want)
		want = c->rx_need + RX_CHUNK;
	if (c->rx_cap < want) {
		uint8_t *n = realloc(c->rx, want);
		if (!n) {
			*buf = uv_buf_init(NULL, 0);   /* read_cb gets UV_ENOBUFS */
			return;
		}
		c->rx = n;
		c->rx_cap = want;
	}
	give = c->rx_cap - c->rx_len;
	/* The rest of a large frame (a READ reply) and no more: the read
	 * then ends where the frame does, and no part of the next one has
	 * to be moved to the front of the buffer afterwards. */
	if (c->rx_need > c->rx_len && c->rx_need - c->rx_len >= RX_CHUNK / 4)
		give = c->rx_need - c->rx_len;
	*buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)give);
}

static void answer_ping(struct fb_conn *c, const struct fsb_msg *req)
{
	struct fsb_wbuf own;
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.flags = FSB_F_REPLY;
	m.id = req->id;
	m.u.ping.nonce = req->u.ping.nonce;
	fsb_wbuf_init(&own);
	if (fsb_msg_encode_mode(&own, &m, atomic_load(&c->csum)) < 0) {
		fsb_wbuf_release(&own);
		return;
	}
	fb__conn_write(c, NULL, 0, &own);
}

/* One whole frame, not yet checked beyond its length: decoding checks
 * the rest, checksum included, in one pass. Returns 0, or -1 once the
 * connection has been failed. */
static int handle_frame(struct fb_conn *c, const uint8_t *frame, uint32_t len)
{
	struct fb_call *call;
	struct fsb_msg m;
	int err;

	err = fsb_msg_decode_mode(frame, len, &m, atomic_load(&c->csum));
	if (err < 0) {
		fb__conn_fail(c, 1, "corrupt frame from the server: %s", fsb_strerror(err));
		return -1;
	}

	if (m.flags & FSB_F_PUSH) {
		if (m.op == FSB_OP_EVENT && c->on_push)
			c->on_push(c->push_arg, &m.u.events);
		fsb_msg_release(&m);
		return 0;
	}
	if (!(m.flags & FSB_F_REPLY)) {
		if (m.op == FSB_OP_PING) {
			answer_ping(c, &m);
			fsb_msg_release(&m);
			return 0;
		}
		fsb_msg_release(&m);
		fb__conn_fail(c, 1, "server sent a %s request", fsb_op_name(m.op));
		return -1;
	}

	call = fb__conn_pending_remove(c, m.id);
	if (!call) {
		fsb_msg_release(&m);
		fb__conn_fail(c, 1, "reply %s to unknown request id %llu",
		          fsb_op_name(m.op), (unsigned long long)m.id);
		return -1;
	}
	if (call->op != m.op) {
		uint16_t op = call->op;
		fsb_msg_release(&m);
		fb__call_complete(call, NULL, -EIO);
		fb__conn_fail(c, 1, "%s reply to %s request %llu", fsb_op_name(m.op),
		          fsb_op_name(op), (unsigned long long)m.id);
		return -1;
	}
	fb__call_complete(call, &m, 0);
	fsb_msg_release(&m);
	return 0;
}

void fb__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fb_conn *c = s->data;
	size_t off = 0;

	(void)buf;
	if (nread == UV_EOF) {
		fb__conn_fail(c, 1, "the server closed the connection");
		return;
	}
	if (nread < 0) {
		fb__conn_fail(c, 1, "reading from the server failed: %s", uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	/* Replies may answer frames workers wrote themselves. */
	fb__conn_take_sent(c);
	c->rx_len += (size_t)nread;
	c->last_rx_ms = uv_now(&c->loop);

	while (c->sock_open && off < c->rx_len) {
		size_t avail = c->rx_len - off;
		uint32_t flen = 0;
		/* Magic and length from the first 8 bytes; the frame's
		 * checksum is left to the decoder, which checks it anyway. */
		int err = fsb_frame_check_mode(c->rx + off, avail < 8 ? avail : 8, &flen,
		                               atomic_load(&c->csum));

		if (err != -FSB_EFRAME_SHORT) {
			fb__conn_fail(c, 1, "corrupt frame from the server: %s",
			              fsb_strerror(err ? err : -FSB_EFRAME_UNDERSIZE));
			return;
		}
		if (avail < flen) {
			c->rx_need = flen;
			break;
		}
		if (handle_frame(c, c->rx + off, flen) < 0)
			return;
		off += flen;
		c->rx_need = 0;
	}
	if (!c->sock_open)
		return;
	if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	/* A burst of large reads leaves a big buffer; give it back when idle. */
	if (c->rx_len == 0 && c->rx_cap > 4 * RX_CHUNK) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}
