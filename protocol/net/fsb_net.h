/*
 * fsb_net.h - transport addresses and sockets (POSIX builds).
 *
 * Address forms, as users type them on the command line:
 *   unix:PATH            Unix stream socket (abstract: unix:@NAME)
 *   tcp:HOST:PORT        TCP; HOST may be a name, an IPv4 literal or [IPv6]
 *   vsock:CID:PORT       AF_VSOCK; CID may be a number, "any", "host", "local"
 * Parsing is pure; listening and connecting are the thin OS layer.
 */
#ifndef FSB_NET_H
#define FSB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

enum fsb_addr_kind {
	FSB_ADDR_UNIX = 1,
	FSB_ADDR_TCP = 2,
	FSB_ADDR_VSOCK = 3,
};

struct fsb_addr {
	enum fsb_addr_kind kind;
	char path[108];          /* unix: sun_path; leading '@' = abstract */
	char host[256];          /* tcp */
	uint16_t port;           /* tcp */
	uint32_t cid;            /* vsock */
	uint32_t vport;          /* vsock */
};

/* Parse `s`. Returns 0, or -EINVAL with a sentence naming the problem in
 * err ("tcp:HOST:PORT: port 99999 is out of range"). */
int fsb_addr_parse(const char *s, struct fsb_addr *out, char *err, size_t errlen);
/* Back to the textual form; returns snprintf's result. */
int fsb_addr_format(const struct fsb_addr *a, char *buf, size_t len);

/* Listen on `a` (CLOEXEC, SO_REUSEADDR for TCP; a stale Unix socket file is
 * replaced only if nothing answers on it). Returns the fd, or -errno with
 * the cause in err. For tcp port 0 / vsock port -1U, *bound (if non-NULL)
 * receives the address actually bound. */
int fsb_net_listen(const struct fsb_addr *a, struct fsb_addr *bound, char *err, size_t errlen);
/* Connect to `a` (blocking, CLOEXEC, TCP_NODELAY). Returns fd or -errno. */
int fsb_net_connect(const struct fsb_addr *a, char *err, size_t errlen);

/* Write/read all `len` bytes, retrying on EINTR and short transfers.
 * Return 0, or -errno (-ECONNRESET for EOF in the middle of a read). */
int fsb_net_write_all(int fd, const void *buf, size_t len);
int fsb_net_read_all(int fd, void *buf, size_t len);

/* Read one whole frame from `fd` into *buf (grown as needed, up to
 * FSB_MAX_FRAME) and set *len. Returns 0, 1 on clean EOF before any byte,
 * -errno for I/O errors (-ECONNRESET for EOF inside a frame), or -EBADMSG
 * for a corrupt frame with the decoder's verdict in *ferr, negative as
 * fsb_frame_check returns it (-FSB_EFRAME_CSUM); *ferr is 0 otherwise.
 * Bad magic and impossible lengths are judged from the first 8 bytes,
 * before anything is allocated or waited for. */
int fsb_net_read_frame(int fd, uint8_t **buf, size_t *cap, uint32_t *len, int *ferr);
/* The same on a connection whose frames are checksummed as `mode` says. */
int fsb_net_read_frame_mode(int fd, uint8_t **buf, size_t *cap, uint32_t *len, int *ferr,
                            enum fsb_csum mode);

/*
 * The per-user token a client must present in HELLO. Default file:
 * $FSBRIDGE_TOKEN_FILE, else $HOME/.config/fsbridge/token.
 */
int fsb_token_default_path(char *buf, size_t len);
/* Read the token (trailing newline stripped) from `path` into tok. If the
 * file is missing and `create` is set, write a new random 64-hex-digit token
 * with mode 0600 (parent directory 0700 if it has to be made). Returns 0, or
 * -errno with a sentence naming the path and the cause in err. */
int fsb_token_load(const char *path, int create, char *tok, size_t toklen,
                   char *err, size_t errlen);

#endif
