/*
 * entries.c - names made, linked, removed and renamed by the Win32
 * backend. Everything goes through handles and the NT information
 * classes with the target directory's handle as RootDirectory, so no path
 * from the export root is ever built (symbolic links are the exception:
 * CreateSymbolicLinkW only takes paths).
 */
#include <stdlib.h>
#include <string.h>

#include "ws_log.h"
#include "backend_int.h"

int ws__win32_mkdir(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
                     struct ws_bstat *st)
{
	uint8_t ea[WS_LX_EA_MAX];
	struct wname wn;
	HANDLE h = NULL;
	size_t ealen;
	int rc;

	if ((rc = ws__win32_dir_ok(dir)) || (rc = ws__win32_to_wname(name, &wn)))
		return rc;
	/* The mode means something only where owners persist. */
	ealen = ws__win32_meta_for_new(W(be), owner, FSB_S_IFDIR | (mode & 07777u), ea, sizeof(ea));
	rc = ws__win32_open_rel_ea(dir->h, wn.w, wn.len, FILE_READ_ATTRIBUTES, FILE_CREATE,
	                           FILE_DIRECTORY_FILE, ealen ? ea : NULL, ealen, &h);
	if (rc)
		return rc;
	return ws__win32_node_new(W(be), h, out, st);
}

int ws__win32_mknod(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     uint32_t mode, uint32_t rdev, const struct fsb_cred *owner,
                     struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_bfile *f;
	int rc;

	(void)rdev;
	/* NTFS has no FIFOs, sockets or device nodes (drvfs keeps them only
	 * as metadata, which this backend does not write). */
	if ((mode & FSB_S_IFMT) != FSB_S_IFREG)
		return -FSB_EPERM;
	rc = ws__win32_create(be, dir, name, FSB_O_RDONLY | FSB_O_EXCL | FSB_O_CREAT, mode, owner,
	                      out, st, &f);
	if (!rc)
		ws__win32_release(be, f);
	return rc;
}

/* "\\?\C:\dir\name" for the few calls that only take paths. */
static wchar_t *child_path(struct ws_bnode *dir, const struct wname *wn)
{
	DWORD n = GetFinalPathNameByHandleW(dir->h, NULL, 0, FILE_NAME_NORMALIZED);
	wchar_t *p;

	if (!n)
		return NULL;
	p = malloc(((size_t)n + wn->len + 2) * sizeof(wchar_t));
	if (!p)
		return NULL;
	if (GetFinalPathNameByHandleW(dir->h, p, n, FILE_NAME_NORMALIZED) >= n) {
		free(p);
		return NULL;
	}
	n = (DWORD)wcslen(p);
	if (n && p[n - 1] != L'\\')
		p[n++] = L'\\';
	memcpy(p + n, wn->w, (wn->len + 1) * sizeof(wchar_t));
	return p;
}

int ws__win32_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                       const char *target, const struct fsb_cred *owner,
                       struct ws_bnode **out, struct ws_bstat *st)
{
	wchar_t *path, *wt;
	struct wname wn;
	size_t i;
	int rc;

	(void)owner;
	if ((rc = ws__win32_dir_ok(dir)) || (rc = ws__win32_to_wname(name, &wn)))
		return rc;
	/* An absolute Linux target has no Windows meaning. */
	if (target[0] == '/')
		return -FSB_EPERM;
	wt = ws__win32_wide(target);
	if (!wt)
		return -FSB_EILSEQ;
	for (i = 0; wt[i]; i++)
		if (wt[i] == L'/')
			wt[i] = L'\\';
	path = child_path(dir, &wn);
	if (!path) {
		free(wt);
		return ws__win32_last_error();
	}
	if (!CreateSymbolicLinkW(path, wt, SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE))
		rc = ws__win32_last_error();
	free(path);
	free(wt);
	if (rc)
		return rc;
	return ws__win32_lookup(be, dir, name, out, st);
}

/* FILE_RENAME_INFO, FILE_LINK_INFORMATION: a flags word, the target
 * directory's handle, and the new name relative to it. */
static void *rename_info(HANDLE newdir, const struct wname *wn, DWORD flags, DWORD *size)
{
	FILE_RENAME_INFO *ri;

	*size = (DWORD)(offsetof(FILE_RENAME_INFO, FileName) + (wn->len + 1) * sizeof(WCHAR));
	ri = calloc(1, *size);
	if (!ri)
		return NULL;
	ri->Flags = flags;
	ri->RootDirectory = newdir;
	ri->FileNameLength = (DWORD)(wn->len * sizeof(WCHAR));
	memcpy(ri->FileName, wn->w, wn->len * sizeof(WCHAR));
	return ri;
}

int ws__win32_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
                    const char *newname, struct ws_bnode **out, struct ws_bstat *st)
{
	struct wname wn;
	IO_STATUS_BLOCK io;
	NTSTATUS s;
	DWORD size;
	void *li;
	int rc;

	if ((rc = ws__win32_dir_ok(newdir)) || (rc = ws__win32_to_wname(newname, &wn)))
		return rc;
	if (n->type == FSB_S_IFDIR)
		return -FSB_EPERM;
	li = rename_info(newdir->h, &wn, 0, &size);
	if (!li)
		return -FSB_ENOMEM;
	s = NtSetInformationFile(n->h, &io, li, size, FileLinkInformation);
	free(li);
	if (s < 0)
		return s == ST_OBJECT_NAME_COLLISION ? -FSB_EEXIST : ws__win32_nt_error(s);
	return ws__win32_lookup(be, newdir, newname, out, st);
}

/* NT information classes for the calls below (FileLinkInformation is in
 * winternl.h); the Ex forms are Windows 10 1709 and later. */
#define NT_RENAME_INFO ((FILE_INFORMATION_CLASS)10)
#define NT_DISPOSITION_INFO ((FILE_INFORMATION_CLASS)13)
#define NT_DISPOSITION_INFO_EX ((FILE_INFORMATION_CLASS)64)
#define NT_RENAME_INFO_EX ((FILE_INFORMATION_CLASS)65)

static int nt_unsupported(NTSTATUS s)
{
	return s == ST_INVALID_INFO_CLASS || s == ST_NOT_IMPLEMENTED || s == ST_INVALID_PARAMETER ||
	       s == ST_NOT_SUPPORTED;
}

/*
 * Delete through an open handle. POSIX semantics (Windows 10 1709 and
 * later, on NTFS) take the name away at once even while other handles,
 * our own nodes included, keep the file open; classic semantics only mark
 * the file delete-pending until the last handle closes, and refuse
 * read-only files. The NT call rather than SetFileInformationByHandle:
 * the same structure, and no Win32 layer in between to second-guess it.
 */
static int delete_handle(struct win32_be *w, HANDLE h)
{
	FILE_DISPOSITION_INFO di = { TRUE };
	FILE_BASIC_INFO bi;
	IO_STATUS_BLOCK io;
	NTSTATUS s;

	if (w->posix_delete) {
		FILE_DISPOSITION_INFO_EX dx;

		dx.Flags = FILE_DISPOSITION_FLAG_DELETE | FILE_DISPOSITION_FLAG_POSIX_SEMANTICS |
		           FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE;
		s = NtSetInformationFile(h, &io, &dx, sizeof(dx), NT_DISPOSITION_INFO_EX);
		if (s >= 0)
			return 0;
		if (!nt_unsupported(s))
			return ws__win32_nt_error(s);
		ws__win32_log_once(&w->posix_delete, "FileDispositionInformationEx (POSIX delete) is not "
		         "available here; deleting with classic semantics");
	}
	if (GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof(bi)) &&
	    (bi.FileAttributes & FILE_ATTRIBUTE_READONLY)) {
		bi.FileAttributes &= ~(DWORD)FILE_ATTRIBUTE_READONLY;
		if (!bi.FileAttributes)
			bi.FileAttributes = FILE_ATTRIBUTE_NORMAL;
		bi.CreationTime.QuadPart = bi.LastAccessTime.QuadPart = 0;
		bi.LastWriteTime.QuadPart = bi.ChangeTime.QuadPart = 0;
		SetFileInformationByHandle(h, FileBasicInfo, &bi, sizeof(bi));
	}
	s = NtSetInformationFile(h, &io, &di, sizeof(di), NT_DISPOSITION_INFO);
	return s < 0 ? ws__win32_nt_error(s) : 0;
}

static int remove_entry(struct ws_backend *be, struct ws_bnode *dir, const char *name, int isdir)
{
	FILE_ATTRIBUTE_TAG_INFO ti;
	struct wname wn;
	uint32_t type;
	HANDLE h = NULL;
	int rc;

	if ((rc = ws__win32_dir_ok(dir)) || (rc = ws__win32_to_wname(name, &wn)))
		return rc;
	rc = ws__win32_open_child(W(be), dir, &wn, DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, 0, &h);
	if (rc == -FSB_EACCES)
		rc = ws__win32_open_child(W(be), dir, &wn, DELETE | FILE_READ_ATTRIBUTES, 0, &h);
	if (rc)
		return rc;
	if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &ti, sizeof(ti))) {
		rc = ws__win32_last_error();
		goto out;
	}
	/* A directory link (symlink or junction) is a link to unlink, not a
	 * directory to rmdir. */
	type = ws__win32_type_of(ti.FileAttributes, ti.ReparseTag);
	if (isdir && type != FSB_S_IFDIR)
		rc = -FSB_ENOTDIR;
	else if (!isdir && type == FSB_S_IFDIR)
		rc = -FSB_EISDIR;
	else
		rc = delete_handle(W(be), h);
out:
	CloseHandle(h);
	return rc;
}

int ws__win32_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	return remove_entry(be, dir, name, 0);
}

int ws__win32_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	return remove_entry(be, dir, name, 1);
}

/* 0, a negative status, or 1 when the class is not supported here. */
static int set_rename(HANDLE h, FILE_INFORMATION_CLASS cls, HANDLE newdir, const struct wname *wn,
                      DWORD flags)
{
	IO_STATUS_BLOCK io;
	NTSTATUS s;
	DWORD size;
	void *ri = rename_info(newdir, wn, flags, &size);

	if (!ri)
		return -FSB_ENOMEM;
	s = NtSetInformationFile(h, &io, ri, size, cls);
	free(ri);
	if (s >= 0)
		return 0;
	if (nt_unsupported(s))
		return 1;
	return s == ST_OBJECT_NAME_COLLISION ? -FSB_EEXIST : ws__win32_nt_error(s);
}

int ws__win32_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
                      struct ws_bnode *newdir, const char *newname, uint32_t flags)
{
	struct win32_be *w = W(be);
	struct wname on, nn;
	DWORD rflags;
	HANDLE h = NULL;
	int rc, replace = !(flags & FSB_RENAME_NOREPLACE);

	if (flags & FSB_RENAME_EXCHANGE)
		return -FSB_EINVAL;
	if ((rc = ws__win32_dir_ok(olddir)) || (rc = ws__win32_dir_ok(newdir)) || (rc = ws__win32_to_wname(oldname, &on)) ||
	    (rc = ws__win32_to_wname(newname, &nn)))
		return rc;
	rc = ws__win32_open_child(w, olddir, &on, DELETE | FILE_READ_ATTRIBUTES, 0, &h);
	if (rc)
		return rc;
	if (w->posix_rename) {
		/* POSIX semantics replace a target that is open elsewhere
		 * (our own nodes included) and keep the handles valid. */
		rflags = FILE_RENAME_FLAG_POSIX_SEMANTICS | (replace ? FILE_RENAME_FLAG_REPLACE_IF_EXISTS : 0);
		rc = set_rename(h, NT_RENAME_INFO_EX, newdir->h, &nn, rflags);
		if (rc != 1)
			goto out;
		ws__win32_log_once(&w->posix_rename, "FileRenameInformationEx (POSIX rename) is not available "
		         "here; renaming with classic semantics");
	}
	rc = set_rename(h, NT_RENAME_INFO, newdir->h, &nn, (DWORD)replace);
	if (rc == 1)
		rc = -FSB_EINVAL;
out:
	CloseHandle(h);
	return rc;
}
