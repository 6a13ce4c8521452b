/*
 * lxmeta.c - drvfs's Linux metadata extended attributes ($LXUID, $LXGID,
 * $LXMOD, $LXDEV), encoded and decoded without windows.h: see
 * ws_win32_port.h for the layouts. The decoder treats its input as
 * hostile (it comes off a disk any Windows program may write).
 */
#include <string.h>

#include "ws_win32_port.h"

static const struct {
	const char *name;       /* as NTFS stores it: upper case */
	uint32_t bit;
	uint16_t size;
} lx_attrs[] = {
	{ "$LXUID", WS_LX_UID, 4 },
	{ "$LXGID", WS_LX_GID, 4 },
	{ "$LXMOD", WS_LX_MODE, 4 },
	{ "$LXDEV", WS_LX_DEV, 8 },
};

#define NATTRS (sizeof(lx_attrs) / sizeof(lx_attrs[0]))
#define NAME_LEN 6u

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

size_t ws_lxmeta_encode(const struct ws_lxmeta *m, uint8_t *buf, size_t cap)
{
	size_t pos = 0, last = 0, i;
	int any = 0;

	for (i = 0; i < NATTRS; i++) {
		size_t len = 8u + NAME_LEN + 1u + lx_attrs[i].size;
		uint8_t *e;

		if (!(m->have & lx_attrs[i].bit))
			continue;
		if (any) {
			size_t end = pos;

			pos = align4(pos);
			if (pos > cap)
				return 0;
			memset(buf + end, 0, pos - end);
		}
		if (pos + len > cap)
			return 0;
		if (any)
			put32(buf + last, (uint32_t)(pos - last));
		e = buf + pos;
		memset(e, 0, len);
		e[5] = NAME_LEN;
		e[6] = (uint8_t)lx_attrs[i].size;
		memcpy(e + 8, lx_attrs[i].name, NAME_LEN + 1);
		e += 8 + NAME_LEN + 1;
		switch (lx_attrs[i].bit) {
		case WS_LX_UID: put32(e, m->uid); break;
		case WS_LX_GID: put32(e, m->gid); break;
		case WS_LX_MODE: put32(e, m->mode); break;
		default:
			put32(e, m->dev_major);
			put32(e + 4, m->dev_minor);
			break;
		}
		last = pos;
		pos += len;
		any = 1;
	}
	return any ? pos : 0;
}

size_t ws_lxmeta_query_list(uint8_t *buf, size_t cap)
{
	const size_t len = 5u + NAME_LEN + 1u;
	size_t pos = 0, i;

	for (i = 0; i < NATTRS; i++) {
		if (pos + len > cap)
			return 0;
		memset(buf + pos, 0, len);
		put32(buf + pos, i + 1 < NATTRS ? (uint32_t)align4(len) : 0);
		buf[pos + 4] = NAME_LEN;
		memcpy(buf + pos + 5, lx_attrs[i].name, NAME_LEN + 1);
		pos = i + 1 < NATTRS ? pos + align4(len) : pos + len;
	}
	return pos;
}

/* NTFS upper-cases EA names; compare as it does. */
static int name_is(const uint8_t *p, size_t len, const char *want)
{
	size_t i;

	if (len != strlen(want))
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (c != (uint8_t)want[i])
			return 0;
	}
	return 1;
}

int ws_lxmeta_decode(const uint8_t *buf, size_t len, struct ws_lxmeta *m)
{
	size_t pos = 0, i, n = 0;

	memset(m, 0, sizeof(*m));
	if (!len)
		return 0;
	for (;;) {
		uint32_t next;
		size_t nlen, vlen;
		const uint8_t *val;

		/* Fixed header, name, NUL: all inside the buffer. */
		if (pos > len || len - pos < 8)
			return -FSB_EIO;
		next = get32(buf + pos);
		nlen = buf[pos + 5];
		vlen = (size_t)buf[pos + 6] | (size_t)buf[pos + 7] << 8;
		if (len - pos - 8 < nlen + 1 + vlen || buf[pos + 8 + nlen] != 0)
			return -FSB_EIO;
		val = buf + pos + 8 + nlen + 1;
		for (i = 0; i < NATTRS; i++) {
			if (!name_is(buf + pos + 8, nlen, lx_attrs[i].name) || vlen != lx_attrs[i].size)
				continue;
			m->have |= lx_attrs[i].bit;
			switch (lx_attrs[i].bit) {
			case WS_LX_UID: m->uid = get32(val); break;
			case WS_LX_GID: m->gid = get32(val); break;
			case WS_LX_MODE: m->mode = get32(val); break;
			default:
				m->dev_major = get32(val);
				m->dev_minor = get32(val + 4);
				break;
			}
		}
		if (!next)
			return 0;
		/* Forward only, and no further than the buffer: no loops. */
		if (next < 8 || next > len - pos || ++n > 1024)
			return -FSB_EIO;
		pos += next;
	}
}

void ws_lxmeta_apply(const struct ws_lxmeta *m, struct fsb_attr *a)
{
	if (m->have & WS_LX_UID)
		a->uid = m->uid;
	if (m->have & WS_LX_GID)
		a->gid = m->gid;
	if ((m->have & WS_LX_MODE) && (a->mode & FSB_S_IFMT) != FSB_S_IFLNK)
		a->mode = (a->mode & FSB_S_IFMT) | (m->mode & 07777u);
	if (m->have & WS_LX_DEV)
		a->rdev = (m->dev_major & 0xfffu) << 8 | (m->dev_minor & 0xffu) |
		          (m->dev_minor & ~0xffu) << 12;
}
