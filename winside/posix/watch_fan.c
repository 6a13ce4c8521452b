/*
 * watch_fan.c - the fanotify watcher: one mark on the export's whole file
 * system (FAN_MARK_FILESYSTEM) instead of one inotify watch per
 * directory, its events told in inotify's form to watch_event.c, so both
 * watchers make the same changes.
 *
 * Each event names its directory by file handle (FAN_REPORT_DFID_NAME)
 * and the object by its own (FAN_REPORT_TARGET_FID); a rename is one
 * FAN_RENAME with both places, told as a MOVED_FROM + MOVED_TO pair with a
 * cookie of our own. The mark sees the whole file system: an event in a
 * directory the tree does not know is outside the export and dropped, a
 * rename with one known side crosses the export's edge.
 *
 * Where it differs from inotify:
 * - A directory's own change comes as the name "." in itself, not as its
 *   name in its parent: told as the parent's, as inotify's would be.
 * - rmdir reports the directory's FAN_DELETE_SELF first, its FAN_DELETE
 *   after; the first is ignored, the second forgets the subtree.
 * - fanotify merges an event into an unread one of the same object and
 *   name (FAN_REPORT_TID: of the same thread): one event can carry
 *   CREATE, MODIFY, ATTRIB, CLOSE_WRITE and DELETE at once. They are told
 *   in that order, the only one one thread's calls on one file can have
 *   made, except that a MODIFY and an ATTRIB merged lose their order and
 *   a repeated one its count (inotify only merges identical events in a
 *   row). The reader keeps the queue short, so merges are rare.
 * - Events in a directory between its creation and its listing are
 *   reported too (inotify has no watch there yet); the seen set drops the
 *   CREATEs the listing already told.
 *
 * Calls watch_event.c and watch_tree.c (see watch_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_log.h"
#include "ws_posix.h"

#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

#define FAN_INIT_FLAGS (FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | \
	FAN_REPORT_TARGET_FID | FAN_REPORT_TID | FAN_CLOEXEC | FAN_NONBLOCK)
/* As inotify's WATCH_MASK (watch_scan.c), renames as FAN_RENAME. */
#define FAN_MASK (FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_MODIFY | FAN_ATTRIB | \
	FAN_CLOSE_WRITE | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR | FAN_EVENT_ON_CHILD)

int ws__watch_fan_open(struct ws_watch *w, char *why, size_t len)
{
	struct statfs sf;
	int fd, root = ws__posix_root_fd(w->be), e;

	fd = fanotify_init(FAN_INIT_FLAGS, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(why, len, "fanotify_init: %s%s", strerror(e),
		         e == EPERM ? " (needs CAP_SYS_ADMIN)" :
		         e == EINVAL ? " (FAN_REPORT_TARGET_FID needs Linux 5.17)" : "");
		return -e;
	}
	/* "." in the root: fanotify_mark() refuses an O_PATH descriptor
	 * itself (EBADF) but resolves a path from one. */
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM | FAN_MARK_ONLYDIR, FAN_MASK,
	                  root, ".") < 0) {
		e = errno;
		snprintf(why, len, "fanotify_mark(FAN_MARK_FILESYSTEM): %s%s", strerror(e),
		         e == EPERM ? " (needs CAP_SYS_ADMIN)" :
		         e == EINVAL ? " (FAN_RENAME needs Linux 5.17)" :
		         e == EXDEV || e == ENODEV || e == EOPNOTSUPP ?
		         " (the export's file system has no file handles or fsid)" : "");
		close(fd);
		return -e;
	}
	if (fstatfs(root, &sf) < 0) {
		e = errno;
		snprintf(why, len, "fstatfs: %s", strerror(e));
		close(fd);
		return -e;
	}
	memcpy(w->fsid, &sf.f_fsid, sizeof(w->fsid));
	w->ifd = fd;
	w->fan = 1;
	return 0;
}

/* What one event's information records say. */
struct fan_info {
	const struct fanotify_event_info_fid *dir;      /* DFID_NAME */
	const struct fanotify_event_info_fid *from;     /* OLD_DFID_NAME */
	const struct fanotify_event_info_fid *to;       /* NEW_DFID_NAME */
	const struct fanotify_event_info_fid *obj;      /* FID */
	const char *dir_name;
	const char *from_name;
	const char *to_name;
};

/* The handle of a record, checked against its length; its name after it
 * (when `name`), NUL-terminated inside the record. -1 if malformed. */
static int record(const struct fanotify_event_info_fid *fi, size_t len, const char **name)
{
	const struct file_handle *fh = (const struct file_handle *)(const void *)fi->handle;
	size_t at = sizeof(*fi) + sizeof(*fh);

	if (len < at || fh->handle_bytes > WS_WATCH_FH_MAX || len - at < fh->handle_bytes)
		return -1;
	at += fh->handle_bytes;
	if (name) {
		if (len <= at || !memchr((const char *)fi + at, '\0', len - at))
			return -1;
		*name = (const char *)fi + at;
	}
	return 0;
}

static int parse(const struct fanotify_event_metadata *md, const char *ev, struct fan_info *in)
{
	const char *p = ev + sizeof(*md), *end = ev + md->event_len;
	const struct fanotify_event_info_fid *fi;
	size_t len;

	memset(in, 0, sizeof(*in));
	while (p < end) {
		if ((size_t)(end - p) < sizeof(struct fanotify_event_info_header))
			return -1;
		fi = (const struct fanotify_event_info_fid *)(const void *)p;
		len = fi->hdr.len;
		if (len < sizeof(struct fanotify_event_info_header) || len > (size_t)(end - p))
			return -1;
		switch (fi->hdr.info_type) {
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
			in->dir = fi;
			if (record(fi, len, &in->dir_name))
				return -1;
			break;
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			in->from = fi;
			if (record(fi, len, &in->from_name))
				return -1;
			break;
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			in->to = fi;
			if (record(fi, len, &in->to_name))
				return -1;
			break;
		case FAN_EVENT_INFO_TYPE_FID:
			in->obj = fi;
			if (record(fi, len, NULL))
				return -1;
			break;
		default:
			break;
		}
		p += len;
	}
	return 0;
}

/* The known directory a record names; NULL outside the export. */
static struct wdir *dir_of(struct ws_watch *w, const struct fanotify_event_info_fid *fi)
{
	const struct file_handle *fh;

	if (!fi || memcmp(&fi->fsid, w->fsid, sizeof(w->fsid)))
		return NULL;
	fh = (const struct file_handle *)(const void *)fi->handle;
	return ws__watch_find_fh(w, fh->handle_type, fh->f_handle, fh->handle_bytes);
}

/* One event in inotify's form to watch_event.c. */
static void tell(struct ws_watch *w, int wd, uint32_t mask, uint32_t cookie, const char *name)
{
	union {
		struct inotify_event ev;
		char buf[sizeof(struct inotify_event) + NAME_MAX + 1];
	} u;
	size_t len = name ? strlen(name) : 0;

	if (len > NAME_MAX)
		return;
	u.ev.wd = wd;
	u.ev.mask = mask;
	u.ev.cookie = cookie;
	u.ev.len = len ? (uint32_t)len + 1 : 0;
	memcpy(u.ev.name, name ? name : "", len + 1);
	ws__watch_event(w, &u.ev);
}

static void renamed(struct ws_watch *w, const struct fan_info *in, uint32_t isdir)
{
	struct wdir *from = dir_of(w, in->from), *to = dir_of(w, in->to);
	uint32_t cookie = 0;

	if (from) {
		if (++w->fan_cookie == 0)
			w->fan_cookie = 1;
		cookie = w->fan_cookie;
		tell(w, from->wd, IN_MOVED_FROM | isdir, cookie, in->from_name);
	}
	if (to)
		tell(w, to->wd, IN_MOVED_TO | isdir, cookie, in->to_name);
	else if (from)
		ws__watch_event_flush(w);       /* moved out of the export */
}

/* A directory's own change ("." in itself). */
static void self(struct ws_watch *w, struct wdir *d, uint64_t mask)
{
	if (mask & FAN_ATTRIB) {
		if (d == w->root)
			tell(w, d->wd, IN_ATTRIB, 0, NULL);
		else if (d->named && d->parent)
			tell(w, d->parent->wd, IN_ATTRIB | IN_ISDIR, 0, d->name);
	}
	if ((mask & FAN_DELETE_SELF) && d == w->root) {
		tell(w, d->wd, IN_DELETE_SELF, 0, NULL);
		tell(w, d->wd, IN_IGNORED, 0, NULL);
	}
}

static void one(struct ws_watch *w, const struct fanotify_event_metadata *md, const char *ev)
{
	uint32_t isdir = (md->mask & FAN_ONDIR) ? IN_ISDIR : 0;
	const struct file_handle *fh;
	struct fan_info in;
	struct wdir *d, *gone;
	const char *name;

	if (md->fd >= 0)
		close(md->fd);          /* never asked for; never kept */
	if (md->mask & FAN_Q_OVERFLOW) {
		tell(w, -1, IN_Q_OVERFLOW, 0, NULL);
		return;
	}
	if (parse(md, ev, &in)) {
		ws_log(WS_LOG_ERROR, "watcher: a malformed fanotify event; reporting a RESCAN");
		tell(w, -1, IN_Q_OVERFLOW, 0, NULL);
		return;
	}
	if (md->mask & FAN_RENAME) {
		renamed(w, &in, isdir);
		return;
	}
	/* Without a directory: a file's own DELETE_SELF or link count,
	 * which inotify's directory watches do not see either. */
	d = dir_of(w, in.dir);
	if (!d)
		return;
	name = in.dir_name;
	if (!strcmp(name, ".")) {
		self(w, d, md->mask);
		return;
	}
	if (md->mask & FAN_CREATE)
		tell(w, d->wd, IN_CREATE | isdir, 0, name);
	if (md->mask & FAN_MODIFY)
		tell(w, d->wd, IN_MODIFY | isdir, 0, name);
	if (md->mask & FAN_ATTRIB)
		tell(w, d->wd, IN_ATTRIB | isdir, 0, name);
	if (md->mask & FAN_CLOSE_WRITE)
		tell(w, d->wd, IN_CLOSE_WRITE | isdir, 0, name);
	if (md->mask & FAN_DELETE) {
		/* As inotify: the directory's watch goes, then its name. */
		gone = NULL;
		if (isdir && in.obj) {
			fh = (const struct file_handle *)(const void *)in.obj->handle;
			gone = ws__watch_find_fh(w, fh->handle_type, fh->f_handle, fh->handle_bytes);
		}
		if (isdir && !gone)
			gone = ws__watch_find_child(w, d, name);
		if (gone && gone != w->root && gone != d)
			tell(w, gone->wd, IN_IGNORED, 0, NULL);
		tell(w, d->wd, IN_DELETE | isdir, 0, name);
	}
}

/* The metadata is copied out: records are only 4-byte aligned (a name
 * pads to 4), the metadata's 64-bit mask wants 8. */
void ws__watch_fan_events(struct ws_watch *w, const char *buf, size_t n)
{
	struct fanotify_event_metadata md;
	size_t at = 0;

	while (n - at >= sizeof(md)) {
		memcpy(&md, buf + at, sizeof(md));
		if (md.event_len < sizeof(md) || md.event_len > n - at)
			break;
		if (md.vers == FANOTIFY_METADATA_VERSION)
			one(w, &md, buf + at);
		at += md.event_len;
	}
}
