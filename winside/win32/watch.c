/*
 * watch.c - the export watched recursively with ReadDirectoryChangesW.
 *
 * One thread per watch waits on three things: a stop event and two
 * overlapped ReadDirectoryChangesW calls on the export root. The two calls
 * differ only in their notify filter: "content" (names, last write, size)
 * and "attributes" (attributes, security). Both report a change to an
 * existing file as FILE_ACTION_MODIFIED, so the handle that reported it is
 * what tells a content change (FSB_EV_MODIFIED) from a metadata-only one
 * (FSB_EV_ATTRIB). The order between the two handles is the order their
 * completions are seen; within a handle it is Windows' own.
 *
 * Windows keeps collecting changes in the handle between calls (into a
 * buffer the size of the first call's); when they do not fit it completes
 * with zero bytes (or ERROR_NOTIFY_ENUM_DIR): that is an overflow and is
 * reported as FSB_EV_RESCAN of the whole export.
 *
 * Where Windows has ReadDirectoryChangesExW (10 1709 and later, on NTFS)
 * each record also carries the object's file id, its parent's file id and
 * its attributes at the time of the change, which identify the object
 * even after it is gone (a removed directory still says it was one).
 * Attributes sent with an event are always read afresh (post-change).
 *
 * An ATTRIB never carries FSB_EVF_CLOSE_WRITE here: Windows says nothing
 * of the handle a change came through, and a touch (SetFileTime) changes
 * the last-write time, which the content handle reports as MODIFIED. What
 * the attribute handle reports (attributes, security) is a chmod or chown
 * to Linux, made on a path: IN_ATTRIB alone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <windows.h>

#include "fsb_proto.h"
#include "ws_log.h"
#include "ws_win32.h"

/* Local volumes take large buffers; shares refuse more than 64 KiB. */
#define BUF_LARGE (512u * 1024u)
#define BUF_SMALL (64u * 1024u)

enum { SRC_CONTENT, SRC_ATTR, NSRC };

/* FILE_NOTIFY_EXTENDED_INFORMATION (winnt.h of newer SDKs). */
struct notify_ext {
	DWORD next;
	DWORD action;
	LARGE_INTEGER creation, modification, change, access, allocated, size;
	DWORD attributes;
	DWORD reparse_tag;
	LARGE_INTEGER file_id;
	LARGE_INTEGER parent_id;
	DWORD name_len;
	WCHAR name[1];
};

/* ReadDirectoryChangesExW and ReadDirectoryNotifyExtendedInformation:
 * mingw-w64 10 hides both behind an NTDDI check, so they are spelled out
 * (an enum parameter is an int in the Windows x64 ABI). */
typedef BOOL (WINAPI *rdcw_ex_fn)(HANDLE, LPVOID, DWORD, BOOL, DWORD, LPDWORD, LPOVERLAPPED,
                                  LPOVERLAPPED_COMPLETION_ROUTINE, int);
#define NOTIFY_EXTENDED_INFORMATION 2

/* One record of either format. */
struct record {
	DWORD action;
	const WCHAR *name;
	size_t name_len;
	const struct notify_ext *ext;   /* NULL for the plain format */
};

struct src {
	HANDLE dir;
	HANDLE ev;
	OVERLAPPED ov;
	uint8_t *buf;
	DWORD size;
	DWORD filter;
	int live;
	rdcw_ex_fn ex;          /* ReadDirectoryChangesExW, where it works */
};

/* A change with its own copies of the strings. */
struct own_change {
	struct ws_change c;
	char *path;
};

struct ws_watch {
	struct ws_backend *be;
	ws_change_fn fn;
	void *ctx;
	HANDLE stop;
	pthread_t thread;
	struct src src[NSRC];
	uint32_t cookie;
	/* A RENAMED_OLD_NAME that ended a buffer waits here for its pair. */
	struct own_change held;
	int have_held;
};

static int issue(struct src *s)
{
	DWORD e;

	memset(&s->ov, 0, sizeof(s->ov));
	s->ov.hEvent = s->ev;
	for (;;) {
		if (s->ex ? s->ex(s->dir, s->buf, s->size, TRUE, s->filter, NULL, &s->ov, NULL,
		                  NOTIFY_EXTENDED_INFORMATION)
		          : ReadDirectoryChangesW(s->dir, s->buf, s->size, TRUE, s->filter, NULL,
		                                  &s->ov, NULL))
			return 0;
		e = GetLastError();
		if (s->ex && (e == ERROR_INVALID_PARAMETER || e == ERROR_INVALID_FUNCTION ||
		              e == ERROR_NOT_SUPPORTED)) {
			/* The file system offers only the plain records. */
			s->ex = NULL;
			continue;
		}
		if (e != ERROR_INVALID_PARAMETER || s->size == BUF_SMALL)
			return ws__win32_last_error();
		s->size = BUF_SMALL;
	}
}

/* The next record at buf + *off, or 0 at the end or on a short record. */
static int next_record(const struct src *s, const uint8_t *buf, DWORD len, size_t *off,
                       struct record *r)
{
	size_t o = *off, head = s->ex ? offsetof(struct notify_ext, name)
	                              : offsetof(FILE_NOTIFY_INFORMATION, FileName);
	DWORD next, nlen;

	if (o == SIZE_MAX || o + head > len)
		return 0;
	if (s->ex) {
		const struct notify_ext *e = (const void *)(buf + o);

		next = e->next;
		nlen = e->name_len;
		r->action = e->action;
		r->name = e->name;
		r->ext = e;
	} else {
		const FILE_NOTIFY_INFORMATION *f = (const void *)(buf + o);

		next = f->NextEntryOffset;
		nlen = f->FileNameLength;
		r->action = f->Action;
		r->name = f->FileName;
		r->ext = NULL;
	}
	if (o + head + nlen > len)
		return 0;
	r->name_len = nlen / sizeof(WCHAR);
	*off = next ? o + next : SIZE_MAX;
	return 1;
}

/*
 * Walk `wpath` ('\'-separated, relative to the root) one component at a
 * time without following any reparse point, so an event never reports
 * attributes from outside the export. *parent gets the directory holding
 * the last component (when it exists), *obj the object itself.
 */
static void open_walk(HANDLE root, const wchar_t *wpath, size_t wlen, HANDLE *parent, HANDLE *obj)
{
	FILE_ATTRIBUTE_TAG_INFO ti;
	HANDLE cur = root, next;
	size_t start = 0, end;

	*parent = *obj = NULL;
	for (;;) {
		end = start;
		while (end < wlen && wpath[end] != L'\\')
			end++;
		if (ws__win32_open_rel(cur, wpath + start, end - start, FILE_READ_ATTRIBUTES, FILE_OPEN,
		                       0, &next)) {
			if (end == wlen && cur != root)
				*parent = cur;
			else if (cur != root)
				CloseHandle(cur);
			return;
		}
		if (end == wlen) {
			*parent = cur == root ? NULL : cur;
			*obj = next;
			return;
		}
		if (!GetFileInformationByHandleEx(next, FileAttributeTagInfo, &ti, sizeof(ti)) ||
		    (ti.FileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY)) !=
		    FILE_ATTRIBUTE_DIRECTORY) {
			CloseHandle(next);
			if (cur != root)
				CloseHandle(cur);
			return;
		}
		if (cur != root)
			CloseHandle(cur);
		cur = next;
		start = end + 1;
	}
}

/* The Linux path of a reported name; NULL if some component has no UTF-8
 * form or the path is too long. */
static char *linux_path(const wchar_t *w, size_t wlen, const char **last)
{
	char *out = malloc(FSB_PATH_MAX + 1);
	size_t o = 0, start = 0, end, n;

	if (!out)
		return NULL;
	*last = out;
	while (start <= wlen) {
		end = start;
		while (end < wlen && w[end] != L'\\')
			end++;
		if (o) {
			if (o + 1 > FSB_PATH_MAX)
				goto fail;
			out[o++] = '/';
		}
		*last = out + o;
		if (o + FSB_NAME_MAX > FSB_PATH_MAX ||
		    ws_win32_name_from_utf16((const uint16_t *)w + start, end - start, out + o,
		                             FSB_NAME_MAX, &n))
			goto fail;
		o += n;
		start = end + 1;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* Fill the identity keys and, when the object exists, its attributes. */
static void describe(struct ws_watch *w, const struct record *r, struct own_change *oc)
{
	HANDLE root = ws__win32_root_handle(w->be), parent, obj;
	struct ws_bstat st;

	if (r->ext) {
		/* What the object was when it changed, gone or not. */
		oc->c.dir.vol = oc->c.obj.vol = ws__win32_volume(w->be);
		oc->c.dir.lo = (uint64_t)r->ext->parent_id.QuadPart;
		oc->c.obj.lo = (uint64_t)r->ext->file_id.QuadPart;
		if (r->ext->attributes & FILE_ATTRIBUTE_DIRECTORY)
			oc->c.flags |= FSB_EVF_DIR;
	}
	open_walk(root, r->name, r->name_len, &parent, &obj);
	if (!r->ext && ws__win32_stat_handle(w->be, parent ? parent : root, &st) == 0)
		oc->c.dir = st.ident;
	if (obj && ws__win32_stat_handle(w->be, obj, &st) == 0) {
		oc->c.obj = st.ident;
		oc->c.attr = st.attr;
		oc->c.flags |= FSB_EVF_ATTR;
		if ((st.attr.mode & FSB_S_IFMT) == FSB_S_IFDIR)
			oc->c.flags |= FSB_EVF_DIR;
	}
	if (parent)
		CloseHandle(parent);
	if (obj)
		CloseHandle(obj);
}

static void deliver(struct ws_watch *w, struct own_change *v, size_t n)
{
	struct ws_change *cs;
	size_t i;

	if (!n)
		return;
	cs = malloc(n * sizeof(*cs));
	if (cs) {
		for (i = 0; i < n; i++)
			cs[i] = v[i].c;
		w->fn(w->ctx, cs, n);
		free(cs);
	} else {
		ws_log(WS_LOG_ERROR, "watch: out of memory; %lu changes lost", (unsigned long)n);
	}
	for (i = 0; i < n; i++)
		free(v[i].path);
}

static void rescan(struct ws_watch *w, const char *why)
{
	struct ws_change c;

	ws_log(WS_LOG_WARN, "watch: %s; asking clients to rescan", why);
	memset(&c, 0, sizeof(c));
	c.kind = FSB_EV_RESCAN;
	c.path = "";
	c.name = "";
	w->fn(w->ctx, &c, 1);
}

static uint8_t kind_of(DWORD action, int attr_src)
{
	switch (action) {
	case FILE_ACTION_ADDED:
		return FSB_EV_CREATED;
	case FILE_ACTION_REMOVED:
		return FSB_EV_REMOVED;
	case FILE_ACTION_MODIFIED:
		return attr_src ? FSB_EV_ATTRIB : FSB_EV_MODIFIED;
	case FILE_ACTION_RENAMED_OLD_NAME:
		return FSB_EV_RENAMED_FROM;
	case FILE_ACTION_RENAMED_NEW_NAME:
		return FSB_EV_RENAMED_TO;
	}
	return 0;
}

static void process(struct ws_watch *w, const struct src *src, DWORD len, int attr_src)
{
	struct record r;
	struct own_change *v;
	size_t n = 0, cap = 0, off = 0;
	const char *last;
	uint8_t kind;

	/* Upper bound on records: each is at least 16 bytes. */
	cap = len / 12 + 2;
	v = calloc(cap, sizeof(*v));
	if (!v) {
		rescan(w, "out of memory while reading changes");
		return;
	}
	if (w->have_held) {
		v[n++] = w->held;
		w->have_held = 0;
	}
	while (next_record(src, src->buf, len, &off, &r)) {
		kind = kind_of(r.action, attr_src);
		/* The attribute handle reports only metadata changes. */
		if (kind && (!attr_src || kind == FSB_EV_ATTRIB) && n < cap) {
			struct own_change *oc = &v[n];

			memset(oc, 0, sizeof(*oc));
			oc->path = linux_path(r.name, r.name_len, &last);
			if (oc->path) {
				oc->c.kind = kind;
				oc->c.path = oc->path;
				oc->c.pathlen = strlen(oc->path);
				oc->c.name = last;
				describe(w, &r, oc);
				/* Windows reports a directory's own last-write
				 * time when its entries change; Linux raises
				 * nothing for that, the entries' own events
				 * say it all. */
				if (kind == FSB_EV_MODIFIED && (oc->c.flags & FSB_EVF_DIR))
					free(oc->path);
				else
					n++;
			}
		}
	}
	/* Pair renames: a FROM takes the cookie its TO shares; a FROM with no
	 * TO after it is a move out of the export (a removal for us); a TO
	 * with no FROM, a move in (a creation). Both say so (OUTSIDE); a
	 * directory moved in is reported alone, Windows lists nothing of
	 * what came with it. */
	{
		size_t i;

		for (i = 0; i < n; i++) {
			if (v[i].c.kind == FSB_EV_RENAMED_FROM) {
				if (i + 1 == n) {
					w->held = v[i];
					w->have_held = 1;
					n--;
					break;
				}
				if (v[i + 1].c.kind == FSB_EV_RENAMED_TO) {
					if (++w->cookie == 0)
						w->cookie = 1;
					v[i].c.cookie = v[i + 1].c.cookie = w->cookie;
					i++;
				} else {
					v[i].c.kind = FSB_EV_REMOVED;
					v[i].c.flags |= FSB_EVF_OUTSIDE;
				}
			} else if (v[i].c.kind == FSB_EV_RENAMED_TO) {
				v[i].c.kind = FSB_EV_CREATED;
				v[i].c.flags |= FSB_EVF_OUTSIDE;
			}
		}
	}
	deliver(w, v, n);
	free(v);
}

static void *watch_main(void *arg)
{
	struct ws_watch *w = arg;
	HANDLE hs[1 + NSRC];
	DWORD r, got;
	int i, nlive;

	for (;;) {
		hs[0] = w->stop;
		nlive = 0;
		for (i = 0; i < NSRC; i++)
			if (w->src[i].live)
				hs[1 + nlive++] = w->src[i].ev;
		r = WaitForMultipleObjects(1 + (DWORD)nlive, hs, FALSE, w->have_held ? 50 : INFINITE);
		if (r == WAIT_TIMEOUT) {
			/* A move out of the export: the FROM never gets a TO. */
			w->held.c.kind = FSB_EV_REMOVED;
			w->held.c.flags |= FSB_EVF_OUTSIDE;
			w->have_held = 0;
			deliver(w, &w->held, 1);
			continue;
		}
		if (r == WAIT_OBJECT_0 || r == WAIT_FAILED)
			break;
		for (i = 0; i < NSRC; i++)
			if (w->src[i].live && w->src[i].ev == hs[r - WAIT_OBJECT_0])
				break;
		if (i == NSRC)
			continue;
		if (!GetOverlappedResult(w->src[i].dir, &w->src[i].ov, &got, FALSE)) {
			if (GetLastError() == ERROR_NOTIFY_ENUM_DIR)
				rescan(w, "the change buffer overflowed");
			else
				rescan(w, "ReadDirectoryChangesW failed");
		} else if (got == 0) {
			rescan(w, "the change buffer overflowed");
		} else {
			process(w, &w->src[i], got, i == SRC_ATTR);
		}
		if (issue(&w->src[i])) {
			ws_log(WS_LOG_ERROR, "watch: cannot watch again (error %lu); changes are no "
			       "longer reported", (unsigned long)GetLastError());
			w->src[i].live = 0;
			rescan(w, "the watcher stopped");
		}
	}
	return NULL;
}

static void src_release(struct src *s)
{
	DWORD got;

	if (s->live) {
		CancelIoEx(s->dir, &s->ov);
		GetOverlappedResult(s->dir, &s->ov, &got, TRUE);
	}
	if (s->dir)
		CloseHandle(s->dir);
	if (s->ev)
		CloseHandle(s->ev);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void watch_free(struct ws_watch *w)
{
	int i;

	for (i = 0; i < NSRC; i++)
		src_release(&w->src[i]);
	if (w->have_held)
		free(w->held.path);
	if (w->stop)
		CloseHandle(w->stop);
	free(w);
}

int ws__win32_watch_start(struct ws_backend *be, ws_change_fn fn, void *ctx,
                          struct ws_watch **out)
{
	static const DWORD filters[NSRC] = {
		[SRC_CONTENT] = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
		                FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE,
		[SRC_ATTR] = FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SECURITY,
	};
	rdcw_ex_fn ex = (rdcw_ex_fn)(void (*)(void))GetProcAddress(GetModuleHandleW(L"kernel32.dll"),
	                                                             "ReadDirectoryChangesExW");
	wchar_t *path;
	struct ws_watch *w;
	DWORD n;
	int i, rc;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -FSB_ENOMEM;
	w->be = be;
	w->fn = fn;
	w->ctx = ctx;
	w->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!w->stop) {
		rc = ws__win32_last_error();
		goto out_free;
	}
	/* Overlapped handles of their own: the node handles are synchronous. */
	n = GetFinalPathNameByHandleW(ws__win32_root_handle(be), NULL, 0, FILE_NAME_NORMALIZED);
	path = n ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
	if (!path || GetFinalPathNameByHandleW(ws__win32_root_handle(be), path, n,
	                                       FILE_NAME_NORMALIZED) >= n) {
		rc = path ? ws__win32_last_error() : -FSB_ENOMEM;
		free(path);
		goto out_free;
	}
	for (i = 0; i < NSRC; i++) {
		struct src *s = &w->src[i];

		s->filter = filters[i];
		s->ex = ex;
		s->size = BUF_LARGE;
		s->buf = malloc(BUF_LARGE);
		s->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
		s->dir = CreateFileW(path, FILE_LIST_DIRECTORY,
		                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
		                     OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
		if (s->dir == INVALID_HANDLE_VALUE) {
			s->dir = NULL;
			rc = ws__win32_last_error();
			free(path);
			goto out_free;
		}
		if (!s->buf || !s->ev) {
			rc = -FSB_ENOMEM;
			free(path);
			goto out_free;
		}
		rc = issue(s);
		if (rc) {
			free(path);
			goto out_free;
		}
		s->live = 1;
	}
	free(path);
	ws_log(WS_LOG_DEBUG, "watch: ReadDirectoryChanges%s, recursive",
	       w->src[SRC_CONTENT].ex ? "ExW with extended information" : "W");
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		rc = -FSB_ENOMEM;
		goto out_free;
	}
	*out = w;
	return 0;

out_free:
	watch_free(w);
	return rc;
}

void ws__win32_watch_stop(struct ws_backend *be, struct ws_watch *w)
{
	(void)be;
	SetEvent(w->stop);
	pthread_join(w->thread, NULL);
	watch_free(w);
}
