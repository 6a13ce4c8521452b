/*
 * errno_map.c - protocol status codes <-> errno (POSIX builds only; the
 * Windows server maps from GetLastError/NTSTATUS in its own table).
 */
#include <errno.h>
#include <limits.h>

#include "cursor.h"

/*
 * One table, read in both directions; the first row that matches wins.
 * So the first row for a status gives the errno it becomes, and the first
 * row for an errno gives the status it becomes. Rows further down only add
 * aliases (EOPNOTSUPP and ENOTSUP are the same value on Linux and distinct
 * elsewhere; the table is right either way) or lossy one-way mappings.
 */
static const struct {
	int err;
	int status;
} errno_table[] = {
	{ EPERM, FSB_EPERM },
	{ ENOENT, FSB_ENOENT },
	{ EIO, FSB_EIO },
	{ EBADF, FSB_EBADF },
	{ ENOMEM, FSB_ENOMEM },
	{ EACCES, FSB_EACCES },
	{ EBUSY, FSB_EBUSY },
	{ EEXIST, FSB_EEXIST },
	{ EXDEV, FSB_EXDEV },
	{ ENOTDIR, FSB_ENOTDIR },
	{ EISDIR, FSB_EISDIR },
	{ EINVAL, FSB_EINVAL },
	{ EMFILE, FSB_EMFILE },
	{ EFBIG, FSB_EFBIG },
	{ ENOSPC, FSB_ENOSPC },
	{ EROFS, FSB_EROFS },
	{ EMLINK, FSB_EMLINK },
	{ ENAMETOOLONG, FSB_ENAMETOOLONG },
	{ ENOTEMPTY, FSB_ENOTEMPTY },
	{ ELOOP, FSB_ELOOP },
	{ ENOSYS, FSB_ENOSYS },
	{ ENOTSUP, FSB_ENOTSUP },
	{ ETXTBSY, FSB_ETXTBSY },
	{ ESTALE, FSB_ESTALE },
	{ EAGAIN, FSB_EAGAIN },
	{ EOVERFLOW, FSB_EOVERFLOW },
	{ ERANGE, FSB_ERANGE },
	{ ENXIO, FSB_ENXIO },
	{ EINTR, FSB_EINTR },
	{ ENFILE, FSB_ENFILE },
	{ EDQUOT, FSB_EDQUOT },
	{ EILSEQ, FSB_EILSEQ },
	{ EPROTO, FSB_EPROTO },
	{ ETIMEDOUT, FSB_ETIMEDOUT },
	{ ECONNRESET, FSB_ECONNRESET },
	{ ENOTCONN, FSB_ENOTCONN },
	{ ESPIPE, FSB_ESPIPE },
	{ E2BIG, FSB_E2BIG },
	{ ENODATA, FSB_ENODATA },
	/* Session-level refusals have no errno of their own; these are what
	 * mount(8) users understand. The reverse direction never yields
	 * them because EACCES and ENOENT match earlier rows. */
	{ EACCES, FSB_EAUTH },
	{ EPROTONOSUPPORT, FSB_EVERSION },
	{ ENOENT, FSB_ENOEXPORT },
	/* errno aliases and near-synonyms seen by a server. */
	{ EOPNOTSUPP, FSB_ENOTSUP },
	{ EWOULDBLOCK, FSB_EAGAIN },
	{ EPIPE, FSB_ECONNRESET },
	{ ECONNABORTED, FSB_ECONNRESET },
	{ EBADMSG, FSB_EPROTO },
};

#define TABLE_LEN (sizeof(errno_table) / sizeof(errno_table[0]))

int fsb_status_from_errno(int err)
{
	size_t i;

	if (err == INT_MIN)
		return FSB_EIO;
	if (err < 0)
		err = -err;
	if (err == 0)
		return FSB_OK;
	for (i = 0; i < TABLE_LEN; i++)
		if (errno_table[i].err == err)
			return errno_table[i].status;
	return FSB_EIO;
}

int fsb_status_to_errno(int status)
{
	size_t i;

	if (status == INT_MIN)
		return EIO;
	if (status < 0)
		status = -status;
	if (status == 0)
		return 0;
	for (i = 0; i < TABLE_LEN; i++)
		if (errno_table[i].status == status)
			return errno_table[i].err;
	if (status >= FSB_EFRAME_SHORT && status <= FSB_EFRAME_VALUE)
		return EPROTO;
	return EIO;
}
