/*
 * backend.c - the Win32 backend: NTFS (or whatever the export lives on)
 * through the Win32 and NT file APIs.
 *
 * Every node is a handle opened without following a reparse point
 * (FILE_OPEN_REPARSE_POINT, the NT spelling of CreateFileW's
 * FILE_FLAG_OPEN_REPARSE_POINT) with FILE_OPEN_FOR_BACKUP_INTENT (ditto
 * FILE_FLAG_BACKUP_SEMANTICS, so directories open too) and every share
 * mode, FILE_SHARE_DELETE included, so that a client holding a node never
 * stops Windows programs (or our own unlink and rename) from removing or
 * renaming the file. Names are resolved relative to the parent's handle
 * (NtCreateFile's RootDirectory), never by building a path from the
 * export root: renames elsewhere never confuse a node, intermediate
 * components are never parsed again, and a link can only be a leaf.
 * Node handles carry only FILE_READ_ATTRIBUTES, which no share mode
 * checks; I/O handles are reopened from the node (an empty name relative
 * to the node's handle, which is what ReOpenFile does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_int.h"
#include "ws_log.h"

/* The numbers in errmap.c are the real ones. */
_Static_assert(ERROR_FILE_NOT_FOUND == 2 && ERROR_DIR_NOT_EMPTY == 145 &&
               ERROR_ALREADY_EXISTS == 183 && ERROR_NOTIFY_ENUM_DIR == 1022 &&
               ERROR_PRIVILEGE_NOT_HELD == 1314 && WSAECONNRESET == 10054,
               "errmap.c's Win32 codes");

/* 1601-01-01 to 1970-01-01 in 100 ns ticks. */
#define EPOCH_DIFF 116444736000000000LL
#define TICKS_PER_SEC 10000000LL

static const wchar_t empty_name[] = L"";

/* ---- small helpers shared with the other files ---------------------------- */

int ws__win32_last_error(void)
{
	return -ws_win32_status_from_error((uint32_t)GetLastError());
}

int ws__win32_nt_error(LONG st)
{
	return -ws_win32_status_from_ntstatus((uint32_t)st);
}

wchar_t *ws__win32_wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0)
		return NULL;
	w = malloc((size_t)n * sizeof(*w));
	if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
		free(w);
		return NULL;
	}
	return w;
}

int ws__win32_utf8(const wchar_t *w, int wlen, char *out, size_t cap)
{
	int n;

	if (cap == 0 || cap > INT32_MAX)
		return -1;
	n = WideCharToMultiByte(CP_UTF8, 0, w, wlen, out, (int)cap - 1, NULL, NULL);
	if (n <= 0 && wlen != 0)
		return -1;
	out[n] = '\0';
	return n;
}

struct fsb_time ws__win32_time_from_ticks(int64_t ticks)
{
	struct fsb_time t;
	int64_t u = ticks - EPOCH_DIFF;
	int64_t sec = u / TICKS_PER_SEC, rem = u % TICKS_PER_SEC;

	if (rem < 0) {
		rem += TICKS_PER_SEC;
		sec--;
	}
	t.sec = sec;
	t.nsec = (uint32_t)rem * 100u;
	return t;
}

int64_t ws__win32_ticks_from_time(struct fsb_time t)
{
	return t.sec * TICKS_PER_SEC + (int64_t)(t.nsec / 100u) + EPOCH_DIFF;
}

HANDLE ws__win32_root_handle(struct ws_backend *be)
{
	return W(be)->root;
}

uint64_t ws__win32_volume(struct ws_backend *be)
{
	return W(be)->volume;
}

int ws__win32_open_rel(HANDLE dir, const wchar_t *wname, size_t wlen, ACCESS_MASK access,
                       ULONG disposition, ULONG options, HANDLE *out)
{
	return ws__win32_open_rel_ea(dir, wname, wlen, access, disposition, options, NULL, 0, out);
}

int ws__win32_open_rel_ea(HANDLE dir, const wchar_t *wname, size_t wlen, ACCESS_MASK access,
                          ULONG disposition, ULONG options, const void *ea, size_t ealen,
                          HANDLE *out)
{
	OBJECT_ATTRIBUTES oa;
	UNICODE_STRING us;
	IO_STATUS_BLOCK io;
	NTSTATUS st;
	HANDLE h = NULL;

	us.Buffer = (PWSTR)wname;
	us.Length = (USHORT)(wlen * sizeof(wchar_t));
	us.MaximumLength = us.Length;
	/* No OBJ_CASE_INSENSITIVE: where a directory is case-sensitive
	 * (or Wine maps a Linux directory) the open is exact; elsewhere the
	 * case rule is checked after the open. */
	InitializeObjectAttributes(&oa, &us, 0, dir, NULL);
	st = NtCreateFile(&h, access | SYNCHRONIZE, &oa, &io, NULL, FILE_ATTRIBUTE_NORMAL,
	                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, disposition,
	                  options | FILE_OPEN_REPARSE_POINT | FILE_OPEN_FOR_BACKUP_INTENT |
	                  FILE_SYNCHRONOUS_IO_NONALERT, (PVOID)ea, (ULONG)ealen);
	if (st < 0)
		return ws__win32_nt_error(st);
	*out = h;
	return 0;
}

/* A second handle on the object behind `h`. */
int ws__win32_reopen(HANDLE h, ACCESS_MASK access, ULONG options, HANDLE *out)
{
	return ws__win32_open_rel(h, empty_name, 0, access, FILE_OPEN, options, out);
}

int ws__win32_unsupported(DWORD e)
{
	return e == ERROR_INVALID_PARAMETER || e == ERROR_NOT_SUPPORTED ||
	       e == ERROR_INVALID_FUNCTION || e == ERROR_CALL_NOT_IMPLEMENTED;
}

void ws__win32_log_once(volatile LONG *flag, const char *what)
{
	if (InterlockedExchange(flag, 0))
		ws_log(WS_LOG_INFO, "%s", what);
}

/* ---- attributes ------------------------------------------------------------ */

uint32_t ws__win32_type_of(DWORD attrs, DWORD tag)
{
	if ((attrs & FILE_ATTRIBUTE_REPARSE_POINT) &&
	    (tag == TAG_SYMLINK || tag == TAG_MOUNT_POINT || tag == TAG_LX_SYMLINK))
		return FSB_S_IFLNK;
	return (attrs & FILE_ATTRIBUTE_DIRECTORY) ? FSB_S_IFDIR : FSB_S_IFREG;
}

/* drvfs without metadata: rwx for everyone minus the umask, no w bits on
 * read-only files, links always 0777. */
static uint32_t synth_mode(const struct win32_be *w, uint32_t type, DWORD attrs)
{
	uint32_t perm;

	if (type == FSB_S_IFLNK)
		return FSB_S_IFLNK | 0777;
	perm = (type == FSB_S_IFDIR ? 0777u : 0666u) & ~w->o.umask;
	if ((attrs & FILE_ATTRIBUTE_READONLY) && type == FSB_S_IFREG)
		perm &= ~0222u;
	return type | perm;
}


void ws__win32_fill_attr(const struct win32_be *w, const struct raw_stat *r, struct ws_bstat *st)
{
	struct fsb_attr *a = &st->attr;
	uint32_t type = ws__win32_type_of(r->attrs, r->tag);

	memset(st, 0, sizeof(*st));
	st->ident.vol = w->volume;
	st->ident.lo = r->id_lo;
	st->ident.hi = r->id_hi;
	a->ino = r->id_lo ^ r->id_hi;
	a->size = r->size;
	a->blocks = (r->alloc + 511) / 512;
	a->mode = synth_mode(w, type, r->attrs);
	/* Directories say 1, which Linux tools read as "count unknown". */
	a->nlink = type == FSB_S_IFDIR ? 1 : (r->nlink ? r->nlink : 1);
	a->uid = w->o.uid;
	a->gid = w->o.gid;
	a->blksize = 4096;
	a->atime = ws__win32_time_from_ticks(r->atime);
	a->mtime = ws__win32_time_from_ticks(r->mtime);
	a->ctime = ws__win32_time_from_ticks(r->ctime);
	ws_lxmeta_apply(&r->lx, a);
}

static int raw_stat_handle(struct win32_be *w, HANDLE h, struct raw_stat *r, int want_id)
{
	FILE_BASIC_INFO bi;
	FILE_STANDARD_INFO si;
	FILE_ATTRIBUTE_TAG_INFO ti;

	if (!GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof(bi)) ||
	    !GetFileInformationByHandleEx(h, FileStandardInfo, &si, sizeof(si)))
		return ws__win32_last_error();
	memset(r, 0, sizeof(*r));
	r->attrs = bi.FileAttributes;
	r->atime = bi.LastAccessTime.QuadPart;
	r->mtime = bi.LastWriteTime.QuadPart;
	r->ctime = bi.ChangeTime.QuadPart ? bi.ChangeTime.QuadPart : bi.LastWriteTime.QuadPart;
	r->size = (uint64_t)si.EndOfFile.QuadPart;
	r->alloc = (uint64_t)si.AllocationSize.QuadPart;
	r->nlink = si.NumberOfLinks;
	if ((r->attrs & FILE_ATTRIBUTE_REPARSE_POINT) &&
	    GetFileInformationByHandleEx(h, FileAttributeTagInfo, &ti, sizeof(ti)))
		r->tag = ti.ReparseTag;
	ws__win32_meta_read(w, h, &r->lx);
	if (!want_id)
		return 0;
	if (w->id_info) {
		FILE_ID_INFO ii;

		if (GetFileInformationByHandleEx(h, FileIdInfo, &ii, sizeof(ii))) {
			memcpy(&r->id_lo, ii.FileId.Identifier, 8);
			memcpy(&r->id_hi, ii.FileId.Identifier + 8, 8);
			return 0;
		}
		ws__win32_log_once(&w->id_info, "FileIdInfo is not available here; identifying files by "
		         "their 64-bit file index");
	}
	{
		BY_HANDLE_FILE_INFORMATION bh;

		if (!GetFileInformationByHandle(h, &bh))
			return ws__win32_last_error();
		r->id_lo = (uint64_t)bh.nFileIndexHigh << 32 | bh.nFileIndexLow;
		r->id_hi = 0;
	}
	return 0;
}

int ws__win32_stat_handle(struct ws_backend *be, HANDLE h, struct ws_bstat *st)
{
	struct raw_stat r;
	int rc = raw_stat_handle(W(be), h, &r, 1);

	if (!rc)
		ws__win32_fill_attr(W(be), &r, st);
	return rc;
}

/* ---- names ------------------------------------------------------------------ */


int ws__win32_to_wname(const char *name, struct wname *wn)
{
	int rc = ws_win32_name_to_utf16(name, strlen(name), (uint16_t *)wn->w,
	                                 WS_WIN32_NAME_MAX, &wn->len);

	if (!rc)
		wn->w[wn->len] = 0;
	return rc;
}

/* The last component of a '\\'-separated path. */
static const wchar_t *last_component(const wchar_t *p, size_t n, size_t *len)
{
	const wchar_t *q, *last = p;

	for (q = p; q < p + n; q++)
		if (*q == L'\\')
			last = q + 1;
	*len = (size_t)(p + n - last);
	return last;
}

/*
 * The case rule: Windows may have opened "Readme" for "README", or the
 * long name behind an 8.3 alias. The normalized name (on-disk spelling of
 * every component) tells which name the directory really holds:
 * FileNormalizedNameInfo where Windows has it (8 and later), else
 * GetFinalPathNameByHandleW, which normalizes by other means (and is
 * what Wine answers from the real Linux name).
 */
int ws__win32_check_case(struct win32_be *w, HANDLE h, const struct wname *wn)
{
	union {
		FILE_NAME_INFO fi;
		uint8_t raw[sizeof(FILE_NAME_INFO) + 32768 * sizeof(wchar_t)];
	} *u;
	const wchar_t *last;
	size_t n;
	DWORD e;
	int rc = 0;

	u = malloc(sizeof(*u));
	if (!u)
		return -FSB_ENOMEM;
	if (w->norm_name) {
		if (GetFileInformationByHandleEx(h, INFO_NORMALIZED_NAME, &u->fi, sizeof(*u))) {
			last = last_component(u->fi.FileName, u->fi.FileNameLength / sizeof(wchar_t), &n);
			goto compare;
		}
		e = GetLastError();
		if (!ws__win32_unsupported(e)) {
			rc = -ws_win32_status_from_error(e);
			goto out;
		}
		ws__win32_log_once(&w->norm_name, "FileNormalizedNameInfo is not available here; checking the "
		         "case of names with GetFinalPathNameByHandleW");
	}
	n = GetFinalPathNameByHandleW(h, (wchar_t *)u->raw, 32768, FILE_NAME_NORMALIZED | VOLUME_NAME_NONE);
	if (n == 0 || n >= 32768) {
		rc = n ? -FSB_ENAMETOOLONG : ws__win32_last_error();
		goto out;
	}
	last = last_component((const wchar_t *)u->raw, n, &n);
compare:
	rc = ws_win32_name_check_case((const uint16_t *)wn->w, wn->len, (const uint16_t *)last, n);
out:
	free(u);
	return rc;
}

/* ---- nodes ------------------------------------------------------------------ */

/* Takes h. */
int ws__win32_node_new(struct win32_be *w, HANDLE h, struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_bnode *n;
	struct raw_stat r;
	int rc;

	rc = raw_stat_handle(w, h, &r, 1);
	if (rc) {
		CloseHandle(h);
		return rc;
	}
	n = malloc(sizeof(*n));
	if (!n) {
		CloseHandle(h);
		return -FSB_ENOMEM;
	}
	n->h = h;
	n->type = ws__win32_type_of(r.attrs, r.tag);
	ws__win32_fill_attr(w, &r, st);
	*out = n;
	return 0;
}

static int w32_root(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st)
{
	HANDLE h = NULL;
	int rc = ws__win32_reopen(W(be)->root, FILE_READ_ATTRIBUTES, 0, &h);

	if (rc)
		return rc;
	return ws__win32_node_new(W(be), h, out, st);
}

void ws__win32_forget(struct ws_backend *be, struct ws_bnode *n)
{
	(void)be;
	CloseHandle(n->h);
	free(n);
}

int ws__win32_dir_ok(const struct ws_bnode *dir)
{
	return dir->type == FSB_S_IFDIR ? 0 : -FSB_ENOTDIR;
}

int ws__win32_open_child(struct win32_be *w, struct ws_bnode *dir, const struct wname *wn,
                      ACCESS_MASK access, ULONG options, HANDLE *out)
{
	int rc = ws__win32_open_rel(dir->h, wn->w, wn->len, access, FILE_OPEN, options, out);

	if (rc)
		return rc;
	rc = ws__win32_check_case(w, *out, wn);
	if (rc)
		CloseHandle(*out);
	return rc;
}

int ws__win32_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                      struct ws_bnode **out, struct ws_bstat *st)
{
	struct wname wn;
	HANDLE h = NULL;
	int rc;

	if ((rc = ws__win32_dir_ok(dir)) || (rc = ws__win32_to_wname(name, &wn)))
		return rc;
	rc = ws__win32_open_child(W(be), dir, &wn, FILE_READ_ATTRIBUTES, 0, &h);
	if (rc)
		return rc;
	return ws__win32_node_new(W(be), h, out, st);
}

int ws__win32_getattr_full(struct win32_be *w, HANDLE h, struct fsb_attr *attr)
{
	struct ws_bstat st;
	int rc = ws__win32_stat_handle(&w->base, h, &st);

	if (!rc)
		*attr = st.attr;
	return rc;
}

static int w32_getattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                       struct fsb_attr *attr)
{
	return ws__win32_getattr_full(W(be), f ? f->h : n->h, attr);
}

static int set_basic(HANDLE h, FILE_BASIC_INFO *bi)
{
	if (!SetFileInformationByHandle(h, FileBasicInfo, bi, sizeof(*bi)))
		return ws__win32_last_error();
	return 0;
}

static int64_t now_ticks(void)
{
	FILETIME ft;

	GetSystemTimePreciseAsFileTime(&ft);
	return (int64_t)((uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime);
}

/*
 * chmod and chown where the volume keeps Linux metadata: the values go to
 * $LXMOD, $LXUID and $LXGID (the core has checked who may). Without it
 * owners cannot change, as on drvfs without metadata, and of the mode
 * only the owner's w bit means something (the read-only attribute, which
 * is kept in step either way).
 */
static int set_meta(struct win32_be *w, struct ws_bnode *n, const struct fsb_setattr_req *req)
{
	struct ws_lxmeta m;
	struct fsb_attr cur;
	int rc;

	memset(&m, 0, sizeof(m));
	if (req->valid & FSB_SET_UID) {
		m.have |= WS_LX_UID;
		m.uid = req->uid;
	}
	if (req->valid & FSB_SET_GID) {
		m.have |= WS_LX_GID;
		m.gid = req->gid;
	}
	if (req->valid & FSB_SET_MODE) {
		m.have |= WS_LX_MODE;
		m.mode = n->type | (req->mode & 07777u);
	}
	rc = ws__win32_meta_write(w, n->h, &m);
	if (rc != -FSB_ENOTSUP)
		return rc;
	if (!(req->valid & (FSB_SET_UID | FSB_SET_GID)))
		return 0;
	/* Without metadata, "changing" an owner to what it is succeeds. */
	rc = ws__win32_getattr_full(w, n->h, &cur);
	if (rc)
		return rc;
	if (((req->valid & FSB_SET_UID) && req->uid != cur.uid) ||
	    ((req->valid & FSB_SET_GID) && req->gid != cur.gid))
		return -FSB_EPERM;
	return 0;
}

static int w32_setattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                       const struct fsb_setattr_req *req, struct fsb_attr *attr)
{
	const uint32_t times = FSB_SET_ATIME | FSB_SET_MTIME | FSB_SET_ATIME_NOW | FSB_SET_MTIME_NOW;
	struct win32_be *w = W(be);
	uint32_t v = req->valid;
	FILE_BASIC_INFO bi;
	HANDLE h = NULL;
	int rc = 0;

	if ((v & FSB_SET_MODE) && n->type == FSB_S_IFLNK)
		return -FSB_ENOTSUP;
	if (v & (FSB_SET_MODE | FSB_SET_UID | FSB_SET_GID)) {
		rc = set_meta(w, n, req);
		if (rc)
			return rc;
	}
	if (v & FSB_SET_SIZE) {
		FILE_END_OF_FILE_INFO eof;

		if (n->type == FSB_S_IFDIR)
			return -FSB_EISDIR;
		if (n->type != FSB_S_IFREG)
			return -FSB_EINVAL;
		if (req->size > (uint64_t)INT64_MAX)
			return -FSB_EFBIG;
		eof.EndOfFile.QuadPart = (LONGLONG)req->size;
		/* A read-only handle cannot truncate; the node can. */
		rc = ws__win32_reopen(n->h, FILE_WRITE_DATA, FILE_NON_DIRECTORY_FILE, &h);
		if (rc)
			return rc;
		if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof(eof)))
			rc = ws__win32_last_error();
		CloseHandle(h);
		if (rc)
			return rc;
	}
	if (v & (times | FSB_SET_MODE)) {
		rc = ws__win32_reopen(n->h, FILE_WRITE_ATTRIBUTES | FILE_READ_ATTRIBUTES, 0, &h);
		if (rc)
			return rc;
		if (!GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof(bi))) {
			rc = ws__win32_last_error();
			goto out_close;
		}
		/* Zero means "leave as is" in every time field. */
		bi.CreationTime.QuadPart = 0;
		bi.ChangeTime.QuadPart = 0;
		bi.LastAccessTime.QuadPart = 0;
		bi.LastWriteTime.QuadPart = 0;
		if (v & FSB_SET_ATIME_NOW)
			bi.LastAccessTime.QuadPart = now_ticks();
		else if (v & FSB_SET_ATIME)
			bi.LastAccessTime.QuadPart = ws__win32_ticks_from_time(req->atime);
		if (v & FSB_SET_MTIME_NOW)
			bi.LastWriteTime.QuadPart = now_ticks();
		else if (v & FSB_SET_MTIME)
			bi.LastWriteTime.QuadPart = ws__win32_ticks_from_time(req->mtime);
		/* Only the owner's w bit has a Windows meaning (drvfs). */
		if ((v & FSB_SET_MODE) && n->type == FSB_S_IFREG) {
			if (req->mode & 0200)
				bi.FileAttributes &= ~(DWORD)FILE_ATTRIBUTE_READONLY;
			else
				bi.FileAttributes |= FILE_ATTRIBUTE_READONLY;
			if (!bi.FileAttributes)
				bi.FileAttributes = FILE_ATTRIBUTE_NORMAL;
		} else {
			bi.FileAttributes = 0;
		}
		rc = set_basic(h, &bi);
out_close:
		CloseHandle(h);
		if (rc)
			return rc;
	}
	return ws__win32_getattr_full(w, f ? f->h : n->h, attr);
}

static int w32_statfs(struct ws_backend *be, struct ws_bnode *n, struct fsb_statfs *sf)
{
	ULARGE_INTEGER avail, total, tfree;

	(void)n;
	if (!GetDiskFreeSpaceExW(W(be)->path, &avail, &total, &tfree))
		return ws__win32_last_error();
	memset(sf, 0, sizeof(*sf));
	sf->bsize = 4096;
	sf->frsize = 4096;
	sf->blocks = total.QuadPart / 4096;
	sf->bfree = tfree.QuadPart / 4096;
	sf->bavail = avail.QuadPart / 4096;
	sf->namemax = FSB_NAME_MAX;
	return 0;
}

static void w32_destroy(struct ws_backend *be)
{
	struct win32_be *w = W(be);

	CloseHandle(w->root);
	free(w->path);
	free(w);
}

static const struct ws_backend_ops win32_ops = {
	.name = "win32",
	.caps = FSB_CAP_EVENTS | FSB_CAP_EVENT_EDGES | FSB_CAP_RENAME_NOREPLACE | FSB_CAP_SYMLINKS |
	        FSB_CAP_HARDLINKS,
	.root = w32_root,
	.forget = ws__win32_forget,
	.lookup = ws__win32_lookup,
	.getattr = w32_getattr,
	.setattr = w32_setattr,
	.statfs = w32_statfs,
	.readlink = ws__win32_readlink,
	.open = ws__win32_open,
	.create = ws__win32_create,
	.release = ws__win32_release,
	.read = ws__win32_read,
	.write = ws__win32_write,
	.flush = ws__win32_flush,
	.fsync = ws__win32_fsync,
	.readdir = ws__win32_readdir,
	.mkdir = ws__win32_mkdir,
	.mknod = ws__win32_mknod,
	.symlink = ws__win32_symlink,
	.link = ws__win32_link,
	.unlink = ws__win32_unlink,
	.rmdir = ws__win32_rmdir,
	.rename = ws__win32_rename,
	.watch_start = ws__win32_watch_start,
	.watch_stop = ws__win32_watch_stop,
	.destroy = w32_destroy,
};

static int fail_msg(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, fsb_strerror(rc));
	return rc;
}

int ws_win32_backend_new(const char *path, const struct ws_win32_opts *o,
                         struct ws_backend **out, char *err, size_t errlen)
{
	BY_HANDLE_FILE_INFORMATION bh;
	struct win32_be *w;
	wchar_t *wp, *full;
	DWORD n;
	HANDLE h = NULL;
	int rc;

	wp = ws__win32_wide(path);
	if (!wp)
		return fail_msg(err, errlen, -FSB_EILSEQ, "the path is not valid UTF-8");
	n = GetFullPathNameW(wp, 0, NULL, NULL);
	full = n ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
	if (!full || GetFullPathNameW(wp, n, full, NULL) >= n) {
		rc = full ? ws__win32_last_error() : -FSB_ENOMEM;
		free(full);
		free(wp);
		return fail_msg(err, errlen, rc, "cannot resolve the path");
	}
	free(wp);
	/* The export itself may be a junction or link (users export
	 * C:\Users\me\src, which may be one): follow it here, once. */
	h = CreateFileW(full, FILE_READ_ATTRIBUTES | FILE_LIST_DIRECTORY | SYNCHRONIZE,
	                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
	                FILE_FLAG_BACKUP_SEMANTICS, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		rc = ws__win32_last_error();
		free(full);
		return fail_msg(err, errlen, rc, "cannot open");
	}
	if (!GetFileInformationByHandle(h, &bh) || !(bh.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
		CloseHandle(h);
		free(full);
		return fail_msg(err, errlen, -FSB_ENOTDIR, "cannot serve");
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		CloseHandle(h);
		free(full);
		return fail_msg(err, errlen, -FSB_ENOMEM, "cannot serve");
	}
	w->root = h;
	w->path = full;
	w->volume = bh.dwVolumeSerialNumber;
	w->o = *o;
	w->posix_delete = w->posix_rename = w->id_info = w->extd_dir = w->norm_name = 1;
	ws__win32_meta_init(w);
	/* Callers may make their files their own where owners persist. */
	w->ops = win32_ops;
	if (w->meta_write)
		w->ops.caps |= FSB_CAP_CREDS;
	w->base.ops = &w->ops;
	*out = &w->base;
	return 0;
}
