/*
 * names.c - words for logs and error messages.
 */
#include "cursor.h"

/* Sentences in the style of strerror(3), lower case, so callers can write
 * "%s: %s" after a path or an op name. */
static const char *const status_text[] = {
	[FSB_OK] = "success",
	[FSB_EPERM] = "operation not permitted",
	[FSB_ENOENT] = "no such file or directory",
	[FSB_EIO] = "input/output error",
	[FSB_EBADF] = "bad file handle",
	[FSB_ENOMEM] = "out of memory",
	[FSB_EACCES] = "permission denied",
	[FSB_EBUSY] = "device or resource busy",
	[FSB_EEXIST] = "file exists",
	[FSB_EXDEV] = "cross-device link",
	[FSB_ENOTDIR] = "not a directory",
	[FSB_EISDIR] = "is a directory",
	[FSB_EINVAL] = "invalid argument",
	[FSB_EMFILE] = "too many open files",
	[FSB_EFBIG] = "file too large",
	[FSB_ENOSPC] = "no space left on device",
	[FSB_EROFS] = "read-only file system",
	[FSB_EMLINK] = "too many links",
	[FSB_ENAMETOOLONG] = "file name too long",
	[FSB_ENOTEMPTY] = "directory not empty",
	[FSB_ELOOP] = "too many levels of symbolic links",
	[FSB_ENOSYS] = "function not implemented",
	[FSB_ENOTSUP] = "operation not supported",
	[FSB_ETXTBSY] = "text file busy",
	[FSB_ESTALE] = "stale file handle",
	[FSB_EAGAIN] = "resource temporarily unavailable",
	[FSB_EOVERFLOW] = "value too large for defined data type",
	[FSB_ERANGE] = "result out of range",
	[FSB_ENXIO] = "no such device or address",
	[FSB_EINTR] = "interrupted",
	[FSB_ENFILE] = "too many open files in system",
	[FSB_EDQUOT] = "disk quota exceeded",
	[FSB_EILSEQ] = "name not representable on the server",
	[FSB_EPROTO] = "protocol error",
	[FSB_ETIMEDOUT] = "connection timed out",
	[FSB_ECONNRESET] = "connection reset by peer",
	[FSB_ENOTCONN] = "not connected",
	[FSB_EAUTH] = "authentication token rejected",
	[FSB_EVERSION] = "no common protocol version",
	[FSB_ENOEXPORT] = "no such export on the server",
	[FSB_ESPIPE] = "illegal seek",
	[FSB_E2BIG] = "argument list too long",
	[FSB_ENODATA] = "no data available",
	[FSB_EFRAME_SHORT] = "incomplete frame",
	[FSB_EFRAME_MAGIC] = "not an fsbridge frame (bad magic)",
	[FSB_EFRAME_TOOBIG] = "frame larger than the maximum frame size",
	[FSB_EFRAME_UNDERSIZE] = "frame length smaller than the frame header",
	[FSB_EFRAME_CSUM] = "frame checksum mismatch",
	[FSB_EFRAME_OP] = "unknown opcode or opcode not valid in this direction",
	[FSB_EFRAME_LEN] = "field length runs past the end of the frame",
	[FSB_EFRAME_TRAILING] = "unexpected bytes after the last field",
	[FSB_EFRAME_VALUE] = "field holds a forbidden value",
};

static const char *const event_kind_text[] = {
	[FSB_EV_CREATED] = "CREATED",
	[FSB_EV_MODIFIED] = "MODIFIED",
	[FSB_EV_ATTRIB] = "ATTRIB",
	[FSB_EV_REMOVED] = "REMOVED",
	[FSB_EV_RENAMED_FROM] = "RENAMED_FROM",
	[FSB_EV_RENAMED_TO] = "RENAMED_TO",
	[FSB_EV_RESCAN] = "RESCAN",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *fsb_op_name(unsigned op)
{
	const char *name = fsb__codec_op_name(op);

	return name ? name : "?";
}

const char *fsb_strerror(int code)
{
	/* Widen before negating: -INT_MIN does not fit an int. */
	long long c = code < 0 ? -(long long)code : code;

	if ((unsigned long long)c < ARRAY_SIZE(status_text) && status_text[c])
		return status_text[c];
	return "unknown error";
}

const char *fsb_event_kind_name(unsigned kind)
{
	if (kind < ARRAY_SIZE(event_kind_text) && event_kind_text[kind])
		return event_kind_text[kind];
	return "?";
}
