/*
 * http.h - the little HTTP/1.1 the Docker plugin protocol speaks over a
 * Unix socket: requests with a Content-Length body, kept alive, answered
 * in order. Bad requests get 400 and the connection is closed.
 */
#ifndef FB_HTTP_H
#define FB_HTTP_H

#include <stddef.h>

#define FB_HTTP_BODY_MAX (1u << 20)

struct fb_http_conn {
	int fd;
	char *buf;              /* what has been read and not consumed */
	size_t len;
	size_t cap;
	char *body;             /* the last request's body */
};

struct fb_http_req {
	char method[16];
	char path[256];
	const char *body;       /* NUL-terminated; valid until the next read */
	size_t body_len;
	int close;              /* the client asked to close after this one */
};

void fb_http_conn_init(struct fb_http_conn *c, int fd);
/* Free the buffer and close the descriptor. */
void fb_http_conn_release(struct fb_http_conn *c);

/*
 * The next request. 1 with *r filled (valid until the next call), 0 when
 * the peer closed between requests, -EPROTO for a request this server
 * does not take (malformed, too big, chunked), other -errno for I/O.
 */
int fb_http_read(struct fb_http_conn *c, struct fb_http_req *r);

/* One response with a body of `len` bytes. 0 or -errno. */
int fb_http_reply(struct fb_http_conn *c, int status, const char *type, const char *body,
                  size_t len);

#endif
