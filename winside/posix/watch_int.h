/*
 * watch_int.h - what the files of the POSIX watcher share. The rest of
 * the backend sees only ws__posix_watch_start/stop (ws_posix.h).
 *
 * Bottom up; each file calls only the files before it:
 *   watch_tree.c   the tree of watched directories and the paths it names
 *   watch_batch.c  the batch of changes handed to the core
 *   watch_poll.c   the directories left unwatched at the watch limit, polled
 *   watch_scan.c   adding watches (one directory, a whole subtree, the tree
 *                  again after an overflow) and the names listings reported
 *   watch_event.c  inotify events to changes
 *   watch_fan.c    fanotify's events in inotify's form, to watch_event.c
 *   watch.c        the thread reading the events; start and stop
 * Everything here runs on the watcher's thread, or in start and stop
 * while that thread does not run.
 */
#ifndef WS_POSIX_WATCH_INT_H
#define WS_POSIX_WATCH_INT_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_backend.h"
#include "ws_hash.h"

/*
 * A watched directory holds no descriptor (the watch itself is the
 * kernel's, not counted against RLIMIT_NOFILE). When the watcher needs
 * one, to list it or read attributes in it, it opens the directory by its
 * path below the export root's descriptor without following links
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one component at a
 * time), checks that it is the inode watched, and keeps the last one it
 * opened (struct ws_watch's fd_dir). A watch is added through
 * /proc/self/fd, so it lands on exactly the inode that was opened.
 */
struct wdir {
	struct ws_hlink by_wd;
	struct ws_hlink by_fh;          /* fanotify: by the handle events name it by */
	struct ws_hlink by_name;        /* (parent, name); unhashed when detached */
	struct ws_hlink by_ident;
	struct wdir *prev;              /* every wdir of the watch */
	struct wdir *next;
	struct wdir *parent;            /* NULL for the root */
	unsigned nchildren;
	int named;                      /* in by_name */
	int wd;
	struct ws_ident ident;
	uint64_t epoch;                 /* last resync that found it */
	size_t namelen;
	char *name;                     /* "" for the root */
	int fhtype;                     /* fanotify only */
	unsigned fhlen;
	unsigned char fh[];
};

/* A file handle as name_to_handle_at gives it and fanotify reports it. */
#define WS_WATCH_FH_MAX 128
struct wfh {
	int type;
	unsigned len;
	unsigned char bytes[WS_WATCH_FH_MAX];
};

/* Offsets of a change's strings in the arena, which may move as it grows. */
struct stroff {
	size_t path;
	size_t name;
};

struct ws_watch {
	struct ws_backend *be;
	ws_change_fn fn;
	void *ctx;
	/* The inotify descriptor, or with `fan` the fanotify one: then a
	 * wd is only the watcher's own number for a directory (the seen
	 * set and the pairing keep using it) and the kernel names
	 * directories by file handle (watch_fan.c). */
	int ifd;
	int fan;
	int next_wd;
	uint32_t fsid[2];
	uint32_t fan_cookie;
	int efd;
	pthread_t thread;
	int stop;                       /* set by watch_stop, atomically */

	struct ws_htab by_wd;
	struct ws_htab by_fh;
	struct ws_htab by_name;
	struct ws_htab by_ident;
	struct wdir *all;
	struct wdir *root;
	uint64_t epoch;
	struct ws_htab seen;
	uint32_t next_cookie;
	int limit_warned;
	unsigned overflows;
	/* Directories the watch limit left unwatched (watch_poll.c). */
	struct polled *polled;
	size_t npolled;
	/* For the stats: the wdirs' names and the polled paths. */
	size_t name_bytes;
	size_t fh_bytes;
	size_t polled_bytes;

	/* A MOVED_FROM waiting for its MOVED_TO. */
	int have_from;
	int from_wd;
	uint32_t from_cookie;
	uint8_t from_flags;
	char from_name[NAME_MAX + 1];

	/* An IN_ATTRIB of a file waiting to see whether the IN_CLOSE_WRITE
	 * of a handle open for writing follows (touch) or not (utimensat,
	 * chmod on a path). */
	int have_attr;
	int attr_wd;
	char attr_name[NAME_MAX + 1];

	/* The batch being built. */
	struct ws_change *ch;
	struct stroff *off;
	size_t n;
	size_t cap;
	char *arena;
	size_t alen;
	size_t acap;
	int lost;                       /* out of memory: send a RESCAN instead */

	char *buf;

	/* The one directory descriptor kept open (watch_tree.c). */
	struct wdir *fd_dir;
	int fd;
	int try_openat2;
};

/* ---- watch_tree.c ---- */
struct wdir *ws__watch_find_wd(struct ws_watch *w, int wd);
struct wdir *ws__watch_find_fh(struct ws_watch *w, int type, const unsigned char *bytes,
                               unsigned len);
void ws__watch_fh_insert(struct ws_watch *w, struct wdir *d);
struct wdir *ws__watch_find_ident(struct ws_watch *w, const struct ws_ident *id);
struct wdir *ws__watch_find_child(struct ws_watch *w, const struct wdir *parent,
                                  const char *name);
void ws__watch_detach(struct ws_watch *w, struct wdir *d);
int ws__watch_place(struct ws_watch *w, struct wdir *d, struct wdir *parent, const char *name);
void ws__watch_wdir_free(struct ws_watch *w, struct wdir *d);
void ws__watch_drop_subtree(struct ws_watch *w, struct wdir *top, int unwatch);
/* The length of d's path from the export root, and the path written to
 * end there. */
size_t ws__watch_dir_path_len(const struct wdir *d);
void ws__watch_dir_path_write(const struct wdir *d, char *end);
/* An O_PATH descriptor of d, borrowed from the watcher until the next call
 * (never close it): the fd or -errno. */
int ws__watch_dir_fd(struct ws_watch *w, struct wdir *d);

/* ---- watch_batch.c ---- */
void ws__watch_emit(struct ws_watch *w, uint8_t kind, uint8_t flags, uint32_t cookie,
                    struct wdir *d, const char *name, int want_stat);
/* Hand the batch to the core (a RESCAN instead if it was lost). */
void ws__watch_batch_flush(struct ws_watch *w);

/* ---- watch_poll.c ---- */
struct polled;
void ws__watch_poll_add(struct ws_watch *w, struct wdir *parent, const char *name);
void ws__watch_poll_run(struct ws_watch *w);
void ws__watch_poll_free(struct ws_watch *w);
/* How often the unwatched part is walked. */
#define WS_WATCH_POLL_MS 2000

/* ---- watch_scan.c ---- */
int ws__watch_seen_take(struct ws_watch *w, int wd, const char *name);
void ws__watch_seen_clear(struct ws_watch *w);
void ws__watch_limit_reached(struct ws_watch *w, struct wdir *parent, const char *name,
                             int emit_rescan);
struct wdir *ws__watch_dir(struct ws_watch *w, struct wdir *parent, const char *name,
                           int *known, int *err);
/* What ws__watch_scan tells of the entries it finds. */
enum {
	WS_SCAN_SILENT = 0,             /* nothing (setup, resync) */
	WS_SCAN_REPORT = 1,             /* CREATED each */
	WS_SCAN_MOVED_WITH = 2,         /* CREATED each, marked moved_with */
};
void ws__watch_scan(struct ws_watch *w, struct wdir *top, int report);
/* A directory appeared at (parent, name), made there or (`moved_in`)
 * moved in from outside the export with what it holds. */
void ws__watch_new_dir(struct ws_watch *w, struct wdir *parent, const char *name, int moved_in);
void ws__watch_overflow(struct ws_watch *w);

/* ---- watch_event.c ---- */
struct inotify_event;
void ws__watch_event(struct ws_watch *w, const struct inotify_event *ev);
/* The ATTRIB held for a touch's IN_CLOSE_WRITE, sent as it is. */
void ws__watch_event_let_attr(struct ws_watch *w);
/* And the MOVED_FROM waiting for its MOVED_TO too (moved out). */
void ws__watch_event_flush(struct ws_watch *w);

/* ---- watch_fan.c ---- */
/* fanotify instead of inotify, if it can watch the export's file system
 * (w->fan and w->ifd set): 0, or -errno with the reason in why. */
int ws__watch_fan_open(struct ws_watch *w, char *why, size_t len);
void ws__watch_fan_events(struct ws_watch *w, const char *buf, size_t n);

#endif
