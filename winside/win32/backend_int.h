/*
 * backend_int.h - what the files of the Win32 backend share (backend.c:
 * nodes and attributes; files.c: open files and listings; entries.c:
 * creating, linking, removing and renaming names; reparse.c: reading
 * links). Not for the core.
 */
#ifndef WS_WIN32_BACKEND_INT_H
#define WS_WIN32_BACKEND_INT_H

#include <pthread.h>
#include <stdint.h>
#include <winsock2.h>
#include <windows.h>
#include <winternl.h>

#include "fsb_proto.h"
#include "ws_win32.h"

#define ST_OBJECT_NAME_COLLISION ((LONG)0xC0000035)
#define ST_INVALID_INFO_CLASS ((LONG)0xC0000003)
#define ST_NOT_IMPLEMENTED ((LONG)0xC0000002)
#define ST_INVALID_PARAMETER ((LONG)0xC000000D)
#define ST_NOT_SUPPORTED ((LONG)0xC00000BB)

/*
 * mingw-w64 10 guards the Windows 10 information classes with an NTDDI
 * value compared against _WIN32_WINNT, which drops them and shifts the
 * classes after them; this is the value Windows defines.
 */
_Static_assert(FileIdExtdDirectoryRestartInfo == 20, "FILE_INFO_BY_HANDLE_CLASS layout");
#define INFO_NORMALIZED_NAME ((FILE_INFO_BY_HANDLE_CLASS)24)

#define TAG_MOUNT_POINT 0xA0000003u
#define TAG_SYMLINK 0xA000000Cu
#define TAG_LX_SYMLINK 0xA000001Du

struct ws_bnode {
	HANDLE h;
	uint32_t type;          /* FSB_S_IFDIR, FSB_S_IFREG or FSB_S_IFLNK */
};

struct ws_bfile {
	HANDLE h;
	uint32_t type;
	int append;
	/* Directory listings, under lock. `pos` counts the entries consumed
	 * (the cookie of the last one); `next` is the entry at pos + 1 inside
	 * `buf` when `have` is set. */
	pthread_mutex_t lock;
	uint64_t pos;
	uint8_t *buf;
	size_t next;
	int have;
	int more;               /* the directory may hold more batches */
};

struct win32_be {
	struct ws_backend base;
	HANDLE root;
	uint64_t volume;
	wchar_t *path;          /* the export, for volume queries */
	struct ws_win32_opts o;
	/* Run-time feature detection, each cleared for good on first refusal. */
	volatile LONG posix_delete;
	volatile LONG posix_rename;
	volatile LONG id_info;
	volatile LONG extd_dir;
	volatile LONG norm_name;
	/* Linux metadata in extended attributes (metadata.c). */
	volatile LONG meta_read;
	volatile LONG meta_write;
	struct ws_backend_ops ops;      /* this backend's, with its capabilities */
};

static inline struct win32_be *W(struct ws_backend *be)
{
	return (struct win32_be *)be;
}

/* A name as Windows spells it, NUL-terminated. */
struct wname {
	wchar_t w[WS_WIN32_NAME_MAX + 1];
	size_t len;
};

/* What the backend reads about an object, before synthesising attributes. */
struct raw_stat {
	DWORD attrs;
	DWORD tag;
	int64_t atime, mtime, ctime;
	uint64_t size, alloc;
	uint32_t nlink;
	uint64_t id_lo, id_hi;
	struct ws_lxmeta lx;    /* persisted Linux metadata, if any */
};

uint32_t ws__win32_type_of(DWORD attrs, DWORD tag);
/* ws__win32_open_rel with extended attributes for a new object (NtCreateFile's
 * EaBuffer); ea NULL for none. */
int ws__win32_open_rel_ea(HANDLE dir, const wchar_t *wname, size_t wlen, ACCESS_MASK access,
	ULONG disposition, ULONG options, const void *ea, size_t ealen, HANDLE *out);
int ws__win32_reopen(HANDLE h, ACCESS_MASK access, ULONG options, HANDLE *out);
int ws__win32_unsupported(DWORD e);
void ws__win32_log_once(volatile LONG *flag, const char *what);
void ws__win32_fill_attr(const struct win32_be *w, const struct raw_stat *r, struct ws_bstat *st);
int ws__win32_to_wname(const char *name, struct wname *wn);
int ws__win32_check_case(struct win32_be *w, HANDLE h, const struct wname *wn);
int ws__win32_node_new(struct win32_be *w, HANDLE h, struct ws_bnode **out, struct ws_bstat *st);
void ws__win32_forget(struct ws_backend *be, struct ws_bnode *n);
int ws__win32_dir_ok(const struct ws_bnode *dir);
int ws__win32_open_child(struct win32_be *w, struct ws_bnode *dir, const struct wname *wn,
	ACCESS_MASK access, ULONG options, HANDLE *out);
int ws__win32_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	struct ws_bnode **out, struct ws_bstat *st);
int ws__win32_getattr_full(struct win32_be *w, HANDLE h, struct fsb_attr *attr);
int ws__win32_open(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
	struct ws_bfile **out, struct fsb_attr *attr);
int ws__win32_create(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	uint32_t flags, uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
	struct ws_bstat *st, struct ws_bfile **f);
int ws__win32_release(struct ws_backend *be, struct ws_bfile *f);
int ws__win32_read(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
	uint32_t size, uint32_t *got);
int ws__win32_write(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
	uint32_t size, uint32_t *written, struct fsb_attr *attr);
int ws__win32_flush(struct ws_backend *be, struct ws_bfile *f);
int ws__win32_fsync(struct ws_backend *be, struct ws_bfile *f, int datasync);
int ws__win32_readdir(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
	ws_dirent_fn fn, void *ctx, int *eof);
int ws__win32_mkdir(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out, struct ws_bstat *st);
int ws__win32_mknod(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	uint32_t mode, uint32_t rdev, const struct fsb_cred *owner, struct ws_bnode **out,
	struct ws_bstat *st);
int ws__win32_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	const char *target, const struct fsb_cred *owner, struct ws_bnode **out,
	struct ws_bstat *st);
int ws__win32_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
	const char *newname, struct ws_bnode **out, struct ws_bstat *st);
int ws__win32_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name);
int ws__win32_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name);
int ws__win32_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
	struct ws_bnode *newdir, const char *newname, uint32_t flags);
int ws__win32_readlink(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
	size_t *len);

/* metadata.c */
void ws__win32_meta_init(struct win32_be *w);
/* The persisted values of the object behind h (any handle), or none. */
void ws__win32_meta_read(struct win32_be *w, HANDLE h, struct ws_lxmeta *m);
/* The same for a directory entry whose listing says it has some. */
void ws__win32_meta_read_child(struct win32_be *w, HANDLE dir, const WCHAR *name, size_t len,
	struct ws_lxmeta *m);
/* The EaBuffer that gives a new object its owner and mode; 0 for none. */
size_t ws__win32_meta_for_new(const struct win32_be *w, const struct fsb_cred *owner,
	uint32_t mode, uint8_t *buf, size_t cap);
/* Store m's values on the object behind `node`. -FSB_ENOTSUP when this
 * file system keeps none. */
int ws__win32_meta_write(struct win32_be *w, HANDLE node, const struct ws_lxmeta *m);

#endif
