/*
 * ws_win32.h - the Win32 backend, stream, listeners and token file of
 * winside.exe (mingw-w64 builds only).
 */
#ifndef WS_WIN32_H
#define WS_WIN32_H

#include <stddef.h>
#include <stdint.h>
#include <winsock2.h>
#include <windows.h>

#include "ws_backend.h"
#include "ws_stream.h"
#include "ws_win32_port.h"

/* Hyper-V sockets; older mingw-w64 headers lack the constant. */
#ifndef AF_HYPERV
#define AF_HYPERV 34
#endif

/* How synthesised attributes look (drvfs's uid=, gid=, umask= options). */
struct ws_win32_opts {
	uint32_t uid;
	uint32_t gid;
	uint32_t umask;
	int metadata;           /* keep Linux owners and modes in $LX* attributes */
};

/*
 * A backend serving the directory `path` (UTF-8, any form Win32 accepts:
 * "C:\src", "C:/src", "\\?\C:\src"). The directory is opened once, here.
 * Returns 0 or a negative status with a sentence in err.
 */
int ws_win32_backend_new(const char *path, const struct ws_win32_opts *o,
                         struct ws_backend **out, char *err, size_t errlen);

/* Wrap a connected socket; the stream owns it from here (closed on
 * failure too). NULL when out of memory. */
struct ws_stream *ws_win32_stream_new(SOCKET s, const char *peer);

/* ---- helpers shared by the files of winside/win32 --------------------- */

/* GetLastError() / an NTSTATUS as a negative protocol status. */
int ws__win32_last_error(void);
int ws__win32_nt_error(LONG st);

/* UTF-8 <-> UTF-16 for whole strings (paths, messages), not names; NULL
 * or -1 on invalid input. ws__win32_wide returns malloc'd memory. */
wchar_t *ws__win32_wide(const char *s);
int ws__win32_utf8(const wchar_t *w, int wlen, char *out, size_t cap);

/* 100 ns ticks since 1601 <-> protocol time. */
struct fsb_time ws__win32_time_from_ticks(int64_t ticks);
int64_t ws__win32_ticks_from_time(struct fsb_time t);

/*
 * Open `wname` (NUL-terminated UTF-16, may hold several components
 * separated by '\' when `walk` is set) relative to the directory handle
 * `dir` without following a final reparse point; NtCreateFile with the
 * given access, disposition and options, every share mode.
 */
int ws__win32_open_rel(HANDLE dir, const wchar_t *wname, size_t wlen, ACCESS_MASK access,
                       ULONG disposition, ULONG options, HANDLE *out);

/* The attributes of an open handle, synthesised as the backend does. */
int ws__win32_stat_handle(struct ws_backend *be, HANDLE h, struct ws_bstat *st);

/* Change watching (watch.c). */
int ws__win32_watch_start(struct ws_backend *be, ws_change_fn fn, void *ctx,
                          struct ws_watch **out);
void ws__win32_watch_stop(struct ws_backend *be, struct ws_watch *w);
/* The root directory handle watch.c reopens for its own handles, and the
 * volume serial number every identity of the export carries. */
HANDLE ws__win32_root_handle(struct ws_backend *be);
uint64_t ws__win32_volume(struct ws_backend *be);

/* A listening socket (listen.c): tcp:HOST:PORT or hvsock:VMID:PORT. */
struct ws_win32_listener {
	SOCKET s;
	HANDLE ev;              /* signalled when a connection is waiting */
	char bound[200];        /* the address actually bound, for "listening on" */
	int nonlocal;           /* TCP on a non-loopback address */
};

/* Parse and listen. 0, or a negative status with a sentence in err. */
int ws_win32_listen(const char *addr, struct ws_win32_listener *l, char *err, size_t errlen);
/* Take one waiting connection (blocking socket), or INVALID_SOCKET. */
SOCKET ws_win32_accept(struct ws_win32_listener *l, char *peer, size_t peerlen);
void ws_win32_listener_close(struct ws_win32_listener *l);

/* Token file (token.c): same contract as fsb_token_load/default_path. */
int ws_win32_token_default_path(char *buf, size_t len);
int ws_win32_token_load(const char *path, int create, char *tok, size_t toklen, char *err,
                        size_t errlen);

#endif
