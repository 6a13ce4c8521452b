/*
 * files.c - open files and directory listings of the Win32 backend.
 *
 * An open file is a second handle reopened from the node with the access
 * the client asked for; reads and writes are positional (an OVERLAPPED
 * offset on a synchronous handle), so requests on one handle never share
 * a file pointer. Listings come in batches of names with their attributes
 * (FileIdExtdDirectoryInfo, or FileIdBothDirectoryInfo where the former is
 * missing), never one CreateFile per entry.
 */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "backend_int.h"

#define DIRBUF_SIZE (64u * 1024u)

static ACCESS_MASK access_for(uint32_t flags)
{
	switch (flags & FSB_O_ACCMODE) {
	case FSB_O_WRONLY:
		return FILE_GENERIC_WRITE | FILE_READ_ATTRIBUTES;
	case FSB_O_RDWR:
		return FILE_GENERIC_READ | FILE_GENERIC_WRITE;
	default:
		return FILE_GENERIC_READ;
	}
}

static int file_new(HANDLE h, uint32_t type, uint32_t flags, struct ws_bfile **out)
{
	struct ws_bfile *f = calloc(1, sizeof(*f));

	if (!f) {
		CloseHandle(h);
		return -FSB_ENOMEM;
	}
	f->h = h;
	f->type = type;
	f->append = !!(flags & FSB_O_APPEND);
	if (type == FSB_S_IFDIR && pthread_mutex_init(&f->lock, NULL)) {
		CloseHandle(h);
		free(f);
		return -FSB_ENOMEM;
	}
	*out = f;
	return 0;
}

static int truncate_handle(HANDLE h)
{
	FILE_END_OF_FILE_INFO eof;

	eof.EndOfFile.QuadPart = 0;
	if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof(eof)))
		return ws__win32_last_error();
	return 0;
}

int ws__win32_open(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
                    struct ws_bfile **out, struct fsb_attr *attr)
{
	ULONG opts = (flags & FSB_O_SYNC) ? FILE_WRITE_THROUGH : 0;
	HANDLE h = NULL;
	int rc;

	if (n->type == FSB_S_IFLNK)
		return -FSB_ELOOP;
	if (n->type == FSB_S_IFDIR) {
		if ((flags & FSB_O_ACCMODE) != FSB_O_RDONLY || (flags & (FSB_O_TRUNC | FSB_O_APPEND)))
			return -FSB_EISDIR;
		rc = ws__win32_reopen(n->h, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES, FILE_DIRECTORY_FILE, &h);
	} else {
		if (flags & FSB_O_DIRECTORY)
			return -FSB_ENOTDIR;
		rc = ws__win32_reopen(n->h, access_for(flags), opts | FILE_NON_DIRECTORY_FILE, &h);
		if (!rc && (flags & FSB_O_TRUNC) && (flags & FSB_O_ACCMODE) != FSB_O_RDONLY &&
		    (rc = truncate_handle(h)))
			CloseHandle(h);
	}
	if (rc)
		return rc;
	rc = ws__win32_getattr_full(W(be), h, attr);
	if (rc) {
		CloseHandle(h);
		return rc;
	}
	return file_new(h, n->type, flags, out);
}

int ws__win32_create(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                      uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
                      struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f)
{
	struct win32_be *w = W(be);
	FILE_ATTRIBUTE_TAG_INFO ti;
	IO_STATUS_BLOCK io;
	OBJECT_ATTRIBUTES oa;
	UNICODE_STRING us;
	uint8_t ea[WS_LX_EA_MAX];
	struct wname wn;
	size_t ealen;
	ULONG disp;
	NTSTATUS s;
	HANDLE h = NULL, nh = NULL;
	int rc;

	if ((rc = ws__win32_dir_ok(dir)) || (rc = ws__win32_to_wname(name, &wn)))
		return rc;
	/* O_TRUNC of an existing file truncates it after the open, as OPEN
	 * does: FILE_OVERWRITE_IF would also replace its extended attributes
	 * (the persisted owner and mode) and reset its file attributes. */
	disp = (flags & FSB_O_EXCL) ? FILE_CREATE : FILE_OPEN_IF;
	us.Buffer = wn.w;
	us.Length = (USHORT)(wn.len * sizeof(wchar_t));
	us.MaximumLength = us.Length;
	InitializeObjectAttributes(&oa, &us, 0, dir->h, NULL);
	/* The mode's owner w bit becomes the read-only attribute; like
	 * open(2) with mode 0444, this handle may still write. The caller
	 * owns a file it creates, where owners persist: the attributes are
	 * written with the file, atomically (and ignored if it exists). */
	ealen = ws__win32_meta_for_new(w, owner, FSB_S_IFREG | (mode & 07777u), ea, sizeof(ea));
	s = NtCreateFile(&h, access_for(flags) | FILE_READ_ATTRIBUTES | SYNCHRONIZE, &oa, &io, NULL,
	                 (mode & 0200) ? FILE_ATTRIBUTE_NORMAL : FILE_ATTRIBUTE_READONLY,
	                 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, disp,
	                 FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT |
	                 FILE_OPEN_FOR_BACKUP_INTENT | FILE_SYNCHRONOUS_IO_NONALERT |
	                 ((flags & FSB_O_SYNC) ? FILE_WRITE_THROUGH : 0), ealen ? ea : NULL,
	                 (ULONG)ealen);
	if (s < 0)
		return s == ST_OBJECT_NAME_COLLISION ? -FSB_EEXIST : ws__win32_nt_error(s);
	if (io.Information != FILE_CREATED) {
		/* An existing object: never a link, and the name must be the
		 * exact one. */
		if (GetFileInformationByHandleEx(h, FileAttributeTagInfo, &ti, sizeof(ti)) &&
		    ws__win32_type_of(ti.FileAttributes, ti.ReparseTag) == FSB_S_IFLNK) {
			CloseHandle(h);
			return -FSB_ELOOP;
		}
		rc = ws__win32_check_case(w, h, &wn);
		if (!rc && (flags & FSB_O_TRUNC) && (flags & FSB_O_ACCMODE) != FSB_O_RDONLY)
			rc = truncate_handle(h);
		if (rc) {
			CloseHandle(h);
			return rc == -FSB_ENOENT ? -FSB_EEXIST : rc;
		}
	}
	rc = ws__win32_reopen(h, FILE_READ_ATTRIBUTES, 0, &nh);
	if (!rc)
		rc = ws__win32_node_new(w, nh, out, st);
	if (rc) {
		CloseHandle(h);
		return rc;
	}
	rc = file_new(h, FSB_S_IFREG, flags, f);
	if (rc)
		ws__win32_forget(be, *out);
	return rc;
}

int ws__win32_release(struct ws_backend *be, struct ws_bfile *f)
{
	BOOL ok = CloseHandle(f->h);

	(void)be;
	if (f->type == FSB_S_IFDIR) {
		pthread_mutex_destroy(&f->lock);
		free(f->buf);
	}
	free(f);
	return ok ? 0 : -FSB_EIO;
}

static void set_offset(OVERLAPPED *ov, uint64_t off)
{
	memset(ov, 0, sizeof(*ov));
	ov->Offset = (DWORD)off;
	ov->OffsetHigh = (DWORD)(off >> 32);
}

int ws__win32_read(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
                    uint32_t size, uint32_t *got)
{
	uint32_t done = 0;
	OVERLAPPED ov;
	DWORD n;

	(void)be;
	if (f->type == FSB_S_IFDIR)
		return -FSB_EISDIR;
	if (off > (uint64_t)INT64_MAX)
		return -FSB_EINVAL;
	while (done < size) {
		/* Positional: the handle's file pointer is never used, so
		 * concurrent requests on one handle do not interfere. */
		set_offset(&ov, off + done);
		if (!ReadFile(f->h, (char *)buf + done, size - done, &n, &ov)) {
			if (GetLastError() == ERROR_HANDLE_EOF)
				break;
			if (done)
				break;
			return ws__win32_last_error();
		}
		if (n == 0)
			break;
		done += n;
	}
	*got = done;
	return 0;
}

int ws__win32_write(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
                     uint32_t size, uint32_t *written, struct fsb_attr *attr)
{
	uint32_t done = 0;
	OVERLAPPED ov;
	DWORD n;

	if (f->type == FSB_S_IFDIR)
		return -FSB_EISDIR;
	if (off > (uint64_t)INT64_MAX || (uint64_t)INT64_MAX - off < size)
		return -FSB_EFBIG;
	while (done < size) {
		set_offset(&ov, off + done);
		/* Both offset words all ones: write at the end of file,
		 * atomically, as O_APPEND does. */
		if (f->append)
			ov.Offset = ov.OffsetHigh = 0xFFFFFFFFu;
		if (!WriteFile(f->h, (const char *)buf + done, size - done, &n, &ov)) {
			DWORD e = GetLastError();

			if (done)
				break;
			/* A read-only handle says access denied; Linux
			 * says EBADF for writing to it. */
			return e == ERROR_ACCESS_DENIED ? -FSB_EBADF : -ws_win32_status_from_error(e);
		}
		done += n;
	}
	*written = done;
	return ws__win32_getattr_full(W(be), f->h, attr);
}

int ws__win32_flush(struct ws_backend *be, struct ws_bfile *f)
{
	(void)be;
	(void)f;
	return 0;
}

int ws__win32_fsync(struct ws_backend *be, struct ws_bfile *f, int datasync)
{
	(void)be;
	(void)datasync;
	/* FlushFileBuffers needs write access; fsync of a read-only
	 * descriptor is fine on Linux and has nothing to flush. */
	if (!FlushFileBuffers(f->h) && GetLastError() != ERROR_ACCESS_DENIED &&
	    GetLastError() != ERROR_INVALID_HANDLE)
		return ws__win32_last_error();
	return 0;
}

/* ---- directory listings ------------------------------------------------------- */

/* One entry of either listing class, reduced to what we use. */
struct dir_ent {
	const WCHAR *name;
	size_t namelen;
	ULONG easize;           /* bytes of extended attributes */
	struct raw_stat r;
};

/* Fills the buffer with the next batch; 0, 1 at the end, or an error. */
static int dir_fill(struct win32_be *w, struct ws_bfile *f, int restart)
{
	FILE_INFO_BY_HANDLE_CLASS cls;

	if (w->extd_dir) {
		cls = restart ? FileIdExtdDirectoryRestartInfo : FileIdExtdDirectoryInfo;
		if (GetFileInformationByHandleEx(f->h, cls, f->buf, DIRBUF_SIZE))
			goto ok;
		if (GetLastError() == ERROR_NO_MORE_FILES)
			return 1;
		if (!ws__win32_unsupported(GetLastError()))
			return ws__win32_last_error();
		ws__win32_log_once(&w->extd_dir, "FileIdExtdDirectoryInfo is not available here; listing "
		         "directories with FileIdBothDirectoryInfo");
		restart = 1;
	}
	cls = restart ? FileIdBothDirectoryRestartInfo : FileIdBothDirectoryInfo;
	if (!GetFileInformationByHandleEx(f->h, cls, f->buf, DIRBUF_SIZE))
		return GetLastError() == ERROR_NO_MORE_FILES ? 1 : ws__win32_last_error();
ok:
	f->next = 0;
	f->have = 1;
	return 0;
}

static void dir_decode(const struct win32_be *w, const uint8_t *p, struct dir_ent *e)
{
	memset(e, 0, sizeof(*e));
	if (w->extd_dir) {
		const FILE_ID_EXTD_DIR_INFO *d = (const void *)p;

		e->name = d->FileName;
		e->namelen = d->FileNameLength / sizeof(WCHAR);
		e->r.attrs = d->FileAttributes;
		e->r.tag = d->ReparsePointTag;
		e->easize = d->EaSize;
		e->r.atime = d->LastAccessTime.QuadPart;
		e->r.mtime = d->LastWriteTime.QuadPart;
		e->r.ctime = d->ChangeTime.QuadPart;
		e->r.size = (uint64_t)d->EndOfFile.QuadPart;
		e->r.alloc = (uint64_t)d->AllocationSize.QuadPart;
		memcpy(&e->r.id_lo, d->FileId.Identifier, 8);
		memcpy(&e->r.id_hi, d->FileId.Identifier + 8, 8);
	} else {
		const FILE_ID_BOTH_DIR_INFO *d = (const void *)p;

		e->name = d->FileName;
		e->namelen = d->FileNameLength / sizeof(WCHAR);
		e->r.attrs = d->FileAttributes;
		/* For reparse points EaSize holds the tag instead. */
		e->r.tag = (d->FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ? d->EaSize : 0;
		e->easize = (d->FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ? 0 : d->EaSize;
		e->r.atime = d->LastAccessTime.QuadPart;
		e->r.mtime = d->LastWriteTime.QuadPart;
		e->r.ctime = d->ChangeTime.QuadPart;
		e->r.size = (uint64_t)d->EndOfFile.QuadPart;
		e->r.alloc = (uint64_t)d->AllocationSize.QuadPart;
		e->r.id_lo = (uint64_t)d->FileId.QuadPart;
	}
	e->r.nlink = 1;
	if (!e->r.ctime)
		e->r.ctime = e->r.mtime;
}

static size_t dir_next_off(const struct win32_be *w, const uint8_t *p)
{
	/* NextEntryOffset is the first field of both structures. */
	(void)w;
	return ((const FILE_ID_BOTH_DIR_INFO *)p)->NextEntryOffset;
}

/* Advance past the current entry. */
static void dir_advance(struct win32_be *w, struct ws_bfile *f)
{
	size_t next = dir_next_off(w, f->buf + f->next);

	if (next)
		f->next += next;
	else
		f->have = 0;
	f->pos++;
}

static int is_dot(const WCHAR *n, size_t len)
{
	return (len == 1 && n[0] == L'.') || (len == 2 && n[0] == L'.' && n[1] == L'.');
}

/*
 * Cookies are entry counts: the cookie of the k-th entry (dots included)
 * is k. Resuming from another cookie restarts the listing and skips, which
 * costs a re-read but stays exact; the common sequential case continues
 * from the buffered batch.
 */
int ws__win32_readdir(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
                       ws_dirent_fn fn, void *ctx, int *eof)
{
	struct win32_be *w = W(be);
	char name[FSB_NAME_MAX + 1];
	struct ws_dirent de;
	struct dir_ent e;
	size_t nlen;
	int rc = 0, v;

	*eof = 0;
	if (f->type != FSB_S_IFDIR)
		return -FSB_ENOTDIR;
	pthread_mutex_lock(&f->lock);
	if (!f->buf && !(f->buf = malloc(DIRBUF_SIZE))) {
		rc = -FSB_ENOMEM;
		goto out;
	}
	if (cookie != f->pos || (cookie == 0 && !f->have)) {
		f->pos = 0;
		f->have = 0;
		rc = dir_fill(w, f, 1);
		if (rc < 0)
			goto out;
		f->more = rc == 0;
		while (f->pos < cookie && f->have) {
			dir_advance(w, f);
			if (!f->have && f->more) {
				rc = dir_fill(w, f, 0);
				if (rc < 0)
					goto out;
				f->more = rc == 0;
			}
		}
		rc = 0;
	}
	for (;;) {
		if (!f->have) {
			if (!f->more) {
				*eof = 1;
				break;
			}
			rc = dir_fill(w, f, 0);
			if (rc < 0)
				break;
			if (rc == 1) {
				f->more = 0;
				rc = 0;
				*eof = 1;
				break;
			}
		}
		dir_decode(w, f->buf + f->next, &e);
		if (is_dot(e.name, e.namelen)) {
			dir_advance(w, f);
			continue;
		}
		if (ws_win32_name_from_utf16((const uint16_t *)e.name, e.namelen, name, FSB_NAME_MAX,
		                             &nlen)) {
			/* No Linux spelling (an unpaired surrogate): not an
			 * entry a client could ever look up. */
			dir_advance(w, f);
			continue;
		}
		de.name = name;
		de.namelen = nlen;
		de.cookie = f->pos + 1;
		/* Only files that have extended attributes can hold metadata:
		 * the listing says which, and the rest cost nothing more. */
		if (e.easize)
			ws__win32_meta_read_child(w, f->h, e.name, e.namelen, &e.r.lx);
		ws__win32_fill_attr(w, &e.r, &de.st);
		v = fn(ctx, &de);
		if (v != WS_DIRENT_NEXT) {
			if (v < 0)
				rc = v;
			break;
		}
		dir_advance(w, f);
	}
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}
