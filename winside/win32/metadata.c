/*
 * metadata.c - Linux owners and modes kept on NTFS, drvfs-compatible.
 *
 * With WSL's drvfs `metadata` option, a chmod or chown on /mnt/c stores
 * the values as extended attributes of the file ($LXUID, $LXGID, $LXMOD,
 * $LXDEV; layouts in ws_win32_port.h, encoded by lxmeta.c). winside reads
 * and writes the same attributes, so a file looks the same through both:
 * made by uid 1000 through fsbridge, it is 1000's through /mnt/c, and a
 * mode set through /mnt/c is the mode fsbridge shows. Files without them
 * keep the synthesised attributes (--uid, --gid, --umask).
 *
 * It is on where the volume keeps extended attributes (NTFS; not FAT,
 * exFAT or most network shares), unless --no-metadata. A write that the
 * file system refuses anyway turns it off for writes, once, with a log
 * line: a server must not fail a chmod that drvfs without metadata would
 * have accepted.
 *
 * Calls the NT API only; shares nothing with the rest of the backend but
 * struct win32_be.
 */
#include <string.h>

#include "backend_int.h"
#include "ws_log.h"

#define ST_NO_EAS_ON_FILE ((NTSTATUS)0xC0000052L)
#define ST_EAS_NOT_SUPPORTED ((NTSTATUS)0xC000004FL)
#define ST_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#define ST_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)


/* ntdll exports them; mingw-w64 declares them only in the DDK. */
NTSTATUS NTAPI NtQueryEaFile(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf, ULONG len,
                             BOOLEAN single, PVOID list, ULONG list_len, PULONG index,
                             BOOLEAN restart);
NTSTATUS NTAPI NtSetEaFile(HANDLE h, PIO_STATUS_BLOCK io, PVOID buf, ULONG len);

void ws__win32_meta_init(struct win32_be *w)
{
	DWORD flags = 0;

	w->meta_read = w->meta_write = 0;
	if (!w->o.metadata)
		return;
	if (!GetVolumeInformationByHandleW(w->root, NULL, 0, NULL, NULL, &flags, NULL, 0) ||
	    !(flags & FILE_SUPPORTS_EXTENDED_ATTRIBUTES)) {
		ws_log(WS_LOG_INFO, "this volume keeps no extended attributes: owners and modes are "
		       "synthesised (--uid, --gid, --umask), chown is refused");
		return;
	}
	w->meta_read = w->meta_write = 1;
	ws_log(WS_LOG_INFO, "Linux owners and modes are kept in extended attributes ($LXUID, "
	       "$LXGID, $LXMOD), as drvfs's metadata option keeps them");
}

/* The values, through a handle opened with FILE_READ_EA. */
static void query(HANDLE h, struct ws_lxmeta *m)
{
	uint8_t list[WS_LX_EA_MAX], buf[2 * WS_LX_EA_MAX];
	size_t list_len = ws_lxmeta_query_list(list, sizeof(list));
	IO_STATUS_BLOCK io;
	NTSTATUS s;

	memset(&io, 0, sizeof(io));
	s = NtQueryEaFile(h, &io, buf, sizeof(buf), FALSE, list, (ULONG)list_len, NULL, TRUE);
	if (s < 0 || s == ST_BUFFER_OVERFLOW)
		return;
	if (ws_lxmeta_decode(buf, io.Information < sizeof(buf) ? io.Information : sizeof(buf), m))
		memset(m, 0, sizeof(*m));
}

/*
 * Node handles carry FILE_READ_ATTRIBUTES only (an ACL may grant no more),
 * and most Windows files have no extended attributes at all: ask their
 * size first, which needs no access right, and open for FILE_READ_EA only
 * when there are some.
 */
void ws__win32_meta_read(struct win32_be *w, HANDLE h, struct ws_lxmeta *m)
{
	FILE_EA_INFORMATION ei;
	IO_STATUS_BLOCK io;
	HANDLE eh;

	memset(m, 0, sizeof(*m));
	if (!w->meta_read)
		return;
	if (NtQueryInformationFile(h, &io, &ei, sizeof(ei), FileEaInformation) < 0 || !ei.EaSize)
		return;
	if (ws__win32_reopen(h, FILE_READ_EA, 0, &eh))
		return;
	query(eh, m);
	CloseHandle(eh);
}

void ws__win32_meta_read_child(struct win32_be *w, HANDLE dir, const WCHAR *name, size_t len,
                               struct ws_lxmeta *m)
{
	HANDLE h;

	memset(m, 0, sizeof(*m));
	if (!w->meta_read || ws__win32_open_rel(dir, name, len, FILE_READ_EA, FILE_OPEN, 0, &h))
		return;
	query(h, m);
	CloseHandle(h);
}

size_t ws__win32_meta_for_new(const struct win32_be *w, const struct fsb_cred *owner,
                              uint32_t mode, uint8_t *buf, size_t cap)
{
	struct ws_lxmeta m;

	if (!w->meta_write || !owner)
		return 0;
	memset(&m, 0, sizeof(m));
	m.have = WS_LX_UID | WS_LX_GID | WS_LX_MODE;
	m.uid = owner->uid;
	m.gid = owner->gid;
	m.mode = mode;
	return ws_lxmeta_encode(&m, buf, cap);
}

int ws__win32_meta_write(struct win32_be *w, HANDLE node, const struct ws_lxmeta *m)
{
	uint8_t buf[WS_LX_EA_MAX];
	IO_STATUS_BLOCK io;
	size_t len;
	NTSTATUS s;
	HANDLE h;
	int rc;

	if (!w->meta_write)
		return -FSB_ENOTSUP;
	len = ws_lxmeta_encode(m, buf, sizeof(buf));
	if (!len)
		return 0;
	rc = ws__win32_reopen(node, FILE_WRITE_EA, 0, &h);
	if (rc)
		return rc;
	s = NtSetEaFile(h, &io, buf, (ULONG)len);
	CloseHandle(h);
	if (s >= 0)
		return 0;
	if (s == ST_EAS_NOT_SUPPORTED || s == ST_NOT_IMPLEMENTED || s == ST_NOT_SUPPORTED ||
	    s == ST_ACCESS_DENIED) {
		/* The volume said it keeps them; this file system does not
		 * (or the handle cannot write them): stop trying. */
		if (InterlockedExchange(&w->meta_write, 0))
			ws_log(WS_LOG_WARN, "extended attributes cannot be written here (NTSTATUS "
			       "0x%08lx): owners and modes are synthesised from now on",
			       (unsigned long)s);
		return -FSB_ENOTSUP;
	}
	return ws__win32_nt_error(s);
}
