/*
 * http.c - see http.h. Blocking reads into one growing buffer; a request
 * is parsed only once its head and whole body are in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http.h"

#define HEAD_MAX 16384u

void fb_http_conn_init(struct fb_http_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void fb_http_conn_release(struct fb_http_conn *c)
{
	free(c->buf);
	free(c->body);
	if (c->fd >= 0)
		close(c->fd);
	fb_http_conn_init(c, -1);
}

/* Read more; 0 at end of stream, -errno, or the bytes added. */
static ssize_t fill(struct fb_http_conn *c)
{
	ssize_t n;

	if (c->cap - c->len < 4096) {
		size_t cap = c->cap ? c->cap * 2 : 8192;
		char *b;

		if (cap > HEAD_MAX + FB_HTTP_BODY_MAX + 2)
			return -EPROTO;
		b = realloc(c->buf, cap);
		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = cap;
	}
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->len += (size_t)n;
	return n;
}

static const char *find_head_end(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
			return b + i;
	return NULL;
}

/* Header `name` in head[0, len) (lines after the request line), value
 * into out; 1 when present. */
static int header(const char *head, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
		size_t ll = eol ? (size_t)(eol - line) : (size_t)(end - line);

		if (ll > nlen && !strncasecmp(line, name, nlen) && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			size_t vl = ll - nlen - 1;

			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
		p = eol;
	}
	return 0;
}

int fb_http_read(struct fb_http_conn *c, struct fb_http_req *r)
{
	const char *he;
	char val[64], version[16], *endp;
	size_t head_len, need;
	unsigned long cl = 0;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	while (!(he = c->len ? find_head_end(c->buf, c->len) : NULL)) {
		if (c->len > HEAD_MAX)
			return -EPROTO;
		n = fill(c);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return c->len ? -EPROTO : 0;
	}
	head_len = (size_t)(he - c->buf);
	{
		char line[512];
		const char *eol = memchr(c->buf, '\r', head_len);
		size_t ll = eol ? (size_t)(eol - c->buf) : head_len;

		if (ll >= sizeof(line))
			return -EPROTO;
		memcpy(line, c->buf, ll);
		line[ll] = '\0';
		if (sscanf(line, "%15s %255s %15s", r->method, r->path, version) != 3 ||
		    strncmp(version, "HTTP/1.", 7))
			return -EPROTO;
		r->close = !strcmp(version, "HTTP/1.0");
	}
	if (header(c->buf, head_len, "Transfer-Encoding", val, sizeof(val)))
		return -EPROTO;
	if (header(c->buf, head_len, "Content-Length", val, sizeof(val))) {
		errno = 0;
		cl = strtoul(val, &endp, 10);
		if (errno || endp == val || *endp || val[0] == '-' || cl > FB_HTTP_BODY_MAX)
			return -EPROTO;
	}
	if (header(c->buf, head_len, "Connection", val, sizeof(val)))
		r->close = !strcasecmp(val, "close");
	need = head_len + 4 + cl;
	while (c->len < need) {
		n = fill(c);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPROTO;
	}
	/* The body, NUL-terminated, in a buffer of its own; the request
	 * leaves the read buffer, which may hold the start of the next. */
	free(c->body);
	c->body = malloc(cl + 1);
	if (!c->body)
		return -ENOMEM;
	memcpy(c->body, c->buf + head_len + 4, cl);
	c->body[cl] = '\0';
	c->len -= need;
	memmove(c->buf, c->buf + need, c->len);
	r->body = c->body;
	r->body_len = cl;
	return 1;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Internal Server Error";
	}
}

int fb_http_reply(struct fb_http_conn *c, int status, const char *type, const char *body,
                  size_t len)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
	                  status, reason(status), type, len);
	const char *parts[2] = { head, body };
	size_t lens[2] = { (size_t)hl, len };
	int i;

	for (i = 0; i < 2; i++) {
		size_t off = 0;

		while (off < lens[i]) {
			ssize_t w = write(c->fd, parts[i] + off, lens[i] - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			off += (size_t)w;
		}
	}
	return 0;
}
