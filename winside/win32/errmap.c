/*
 * errmap.c - the one table from Windows error codes to protocol status
 * codes: Win32 errors (GetLastError, WSAGetLastError) and NTSTATUS values
 * (the NT calls the backend makes for node-relative opens and links).
 *
 * The codes are written as numbers with their Windows names beside them so
 * this file needs no windows.h and is unit-tested on Linux; backend.c
 * checks a few of them against the real headers at compile time.
 */
#include "ws_win32_port.h"

struct code_map {
	uint32_t code;
	int status;
};

static const struct code_map win32_table[] = {
	{ 1, FSB_EINVAL },              /* ERROR_INVALID_FUNCTION */
	{ 2, FSB_ENOENT },              /* ERROR_FILE_NOT_FOUND */
	{ 3, FSB_ENOENT },              /* ERROR_PATH_NOT_FOUND */
	{ 4, FSB_EMFILE },              /* ERROR_TOO_MANY_OPEN_FILES */
	{ 5, FSB_EACCES },              /* ERROR_ACCESS_DENIED */
	{ 6, FSB_EBADF },               /* ERROR_INVALID_HANDLE */
	{ 8, FSB_ENOMEM },              /* ERROR_NOT_ENOUGH_MEMORY */
	{ 14, FSB_ENOMEM },             /* ERROR_OUTOFMEMORY */
	{ 15, FSB_ENOENT },             /* ERROR_INVALID_DRIVE */
	{ 16, FSB_EBUSY },              /* ERROR_CURRENT_DIRECTORY */
	{ 17, FSB_EXDEV },              /* ERROR_NOT_SAME_DEVICE */
	{ 19, FSB_EROFS },              /* ERROR_WRITE_PROTECT */
	{ 23, FSB_EIO },                /* ERROR_CRC */
	{ 32, FSB_EBUSY },              /* ERROR_SHARING_VIOLATION */
	{ 33, FSB_EBUSY },              /* ERROR_LOCK_VIOLATION */
	{ 39, FSB_ENOSPC },             /* ERROR_HANDLE_DISK_FULL */
	{ 50, FSB_ENOTSUP },            /* ERROR_NOT_SUPPORTED */
	{ 53, FSB_ENOENT },             /* ERROR_BAD_NETPATH */
	{ 65, FSB_EACCES },             /* ERROR_NETWORK_ACCESS_DENIED */
	{ 67, FSB_ENOENT },             /* ERROR_BAD_NET_NAME */
	{ 80, FSB_EEXIST },             /* ERROR_FILE_EXISTS */
	{ 82, FSB_EACCES },             /* ERROR_CANNOT_MAKE */
	{ 87, FSB_EINVAL },             /* ERROR_INVALID_PARAMETER */
	{ 112, FSB_ENOSPC },            /* ERROR_DISK_FULL */
	{ 120, FSB_ENOSYS },            /* ERROR_CALL_NOT_IMPLEMENTED */
	{ 121, FSB_ETIMEDOUT },         /* ERROR_SEM_TIMEOUT */
	{ 122, FSB_ERANGE },            /* ERROR_INSUFFICIENT_BUFFER */
	{ 123, FSB_EINVAL },            /* ERROR_INVALID_NAME */
	{ 131, FSB_EINVAL },            /* ERROR_NEGATIVE_SEEK */
	{ 145, FSB_ENOTEMPTY },         /* ERROR_DIR_NOT_EMPTY */
	{ 161, FSB_ENOENT },            /* ERROR_BAD_PATHNAME */
	{ 170, FSB_EBUSY },             /* ERROR_BUSY */
	{ 183, FSB_EEXIST },            /* ERROR_ALREADY_EXISTS */
	{ 206, FSB_ENAMETOOLONG },      /* ERROR_FILENAME_EXCED_RANGE */
	{ 223, FSB_EFBIG },             /* ERROR_FILE_TOO_LARGE */
	{ 267, FSB_ENOTDIR },           /* ERROR_DIRECTORY */
	{ 303, FSB_ENOENT },            /* ERROR_DELETE_PENDING */
	{ 336, FSB_EISDIR },            /* ERROR_DIRECTORY_NOT_SUPPORTED */
	{ 681, FSB_ELOOP },             /* ERROR_STOPPED_ON_SYMLINK */
	{ 995, FSB_EINTR },             /* ERROR_OPERATION_ABORTED */
	{ 997, FSB_EAGAIN },            /* ERROR_IO_PENDING */
	{ 1006, FSB_ESTALE },           /* ERROR_FILE_INVALID */
	{ 1022, FSB_EOVERFLOW },        /* ERROR_NOTIFY_ENUM_DIR */
	{ 1113, FSB_EILSEQ },           /* ERROR_NO_UNICODE_TRANSLATION */
	{ 1142, FSB_EMLINK },           /* ERROR_TOO_MANY_LINKS */
	{ 1224, FSB_ETXTBSY },          /* ERROR_USER_MAPPED_FILE */
	{ 1295, FSB_EDQUOT },           /* ERROR_DISK_QUOTA_EXCEEDED */
	{ 1314, FSB_EPERM },            /* ERROR_PRIVILEGE_NOT_HELD */
	{ 1921, FSB_ELOOP },            /* ERROR_CANT_RESOLVE_FILENAME */
	{ 4390, FSB_EINVAL },           /* ERROR_NOT_A_REPARSE_POINT */
	{ 4392, FSB_EINVAL },           /* ERROR_INVALID_REPARSE_DATA */
	{ 10004, FSB_EINTR },           /* WSAEINTR */
	{ 10013, FSB_EACCES },          /* WSAEACCES */
	{ 10022, FSB_EINVAL },          /* WSAEINVAL */
	{ 10024, FSB_EMFILE },          /* WSAEMFILE */
	{ 10035, FSB_EAGAIN },          /* WSAEWOULDBLOCK */
	{ 10043, FSB_ENOTSUP },         /* WSAEPROTONOSUPPORT */
	{ 10047, FSB_ENOTSUP },         /* WSAEAFNOSUPPORT */
	{ 10048, FSB_EBUSY },           /* WSAEADDRINUSE */
	{ 10053, FSB_ECONNRESET },      /* WSAECONNABORTED */
	{ 10054, FSB_ECONNRESET },      /* WSAECONNRESET */
	{ 10055, FSB_ENOMEM },          /* WSAENOBUFS */
	{ 10057, FSB_ENOTCONN },        /* WSAENOTCONN */
	{ 10058, FSB_ECONNRESET },      /* WSAESHUTDOWN */
	{ 10060, FSB_ETIMEDOUT },       /* WSAETIMEDOUT */
};

static const struct code_map nt_table[] = {
	{ 0x00000000u, FSB_OK },                /* STATUS_SUCCESS */
	{ 0x0000010Cu, FSB_EOVERFLOW },         /* STATUS_NOTIFY_ENUM_DIR */
	{ 0x80000005u, FSB_ERANGE },            /* STATUS_BUFFER_OVERFLOW */
	{ 0x8000002Du, FSB_ELOOP },             /* STATUS_STOPPED_ON_SYMLINK */
	{ 0xC0000002u, FSB_ENOSYS },            /* STATUS_NOT_IMPLEMENTED */
	{ 0xC0000003u, FSB_ENOTSUP },           /* STATUS_INVALID_INFO_CLASS */
	{ 0xC0000008u, FSB_EBADF },             /* STATUS_INVALID_HANDLE */
	{ 0xC000000Du, FSB_EINVAL },            /* STATUS_INVALID_PARAMETER */
	{ 0xC000000Fu, FSB_ENOENT },            /* STATUS_NO_SUCH_FILE */
	{ 0xC0000010u, FSB_EINVAL },            /* STATUS_INVALID_DEVICE_REQUEST */
	{ 0xC0000017u, FSB_ENOMEM },            /* STATUS_NO_MEMORY */
	{ 0xC0000022u, FSB_EACCES },            /* STATUS_ACCESS_DENIED */
	{ 0xC0000023u, FSB_ERANGE },            /* STATUS_BUFFER_TOO_SMALL */
	{ 0xC0000024u, FSB_EINVAL },            /* STATUS_OBJECT_TYPE_MISMATCH */
	{ 0xC0000033u, FSB_EINVAL },            /* STATUS_OBJECT_NAME_INVALID */
	{ 0xC0000034u, FSB_ENOENT },            /* STATUS_OBJECT_NAME_NOT_FOUND */
	{ 0xC0000035u, FSB_EEXIST },            /* STATUS_OBJECT_NAME_COLLISION */
	{ 0xC0000039u, FSB_ENOTDIR },           /* STATUS_OBJECT_PATH_INVALID */
	{ 0xC000003Au, FSB_ENOENT },            /* STATUS_OBJECT_PATH_NOT_FOUND */
	{ 0xC000003Bu, FSB_EINVAL },            /* STATUS_OBJECT_PATH_SYNTAX_BAD */
	{ 0xC0000043u, FSB_EBUSY },             /* STATUS_SHARING_VIOLATION */
	{ 0xC0000044u, FSB_EDQUOT },            /* STATUS_QUOTA_EXCEEDED */
	{ 0xC0000054u, FSB_EBUSY },             /* STATUS_FILE_LOCK_CONFLICT */
	{ 0xC0000055u, FSB_EBUSY },             /* STATUS_LOCK_NOT_GRANTED */
	{ 0xC0000056u, FSB_ENOENT },            /* STATUS_DELETE_PENDING */
	{ 0xC0000061u, FSB_EPERM },             /* STATUS_PRIVILEGE_NOT_HELD */
	{ 0xC000007Fu, FSB_ENOSPC },            /* STATUS_DISK_FULL */
	{ 0xC0000098u, FSB_ESTALE },            /* STATUS_FILE_INVALID */
	{ 0xC000009Au, FSB_ENOMEM },            /* STATUS_INSUFFICIENT_RESOURCES */
	{ 0xC00000A2u, FSB_EROFS },             /* STATUS_MEDIA_WRITE_PROTECTED */
	{ 0xC00000BAu, FSB_EISDIR },            /* STATUS_FILE_IS_A_DIRECTORY */
	{ 0xC00000BBu, FSB_ENOTSUP },           /* STATUS_NOT_SUPPORTED */
	{ 0xC00000D4u, FSB_EXDEV },             /* STATUS_NOT_SAME_DEVICE */
	{ 0xC0000101u, FSB_ENOTEMPTY },         /* STATUS_DIRECTORY_NOT_EMPTY */
	{ 0xC0000103u, FSB_ENOTDIR },           /* STATUS_NOT_A_DIRECTORY */
	{ 0xC0000106u, FSB_ENAMETOOLONG },      /* STATUS_NAME_TOO_LONG */
	{ 0xC000011Fu, FSB_EMFILE },            /* STATUS_TOO_MANY_OPENED_FILES */
	{ 0xC0000120u, FSB_EINTR },             /* STATUS_CANCELLED */
	{ 0xC0000121u, FSB_EACCES },            /* STATUS_CANNOT_DELETE */
	{ 0xC0000123u, FSB_ENOENT },            /* STATUS_FILE_DELETED */
	{ 0xC0000265u, FSB_EMLINK },            /* STATUS_TOO_MANY_LINKS */
	{ 0xC0000275u, FSB_EINVAL },            /* STATUS_NOT_A_REPARSE_POINT */
	{ 0xC0000279u, FSB_ELOOP },             /* STATUS_IO_REPARSE_TAG_NOT_HANDLED */
};

static int lookup(const struct code_map *t, size_t n, uint32_t code)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].status;
	return FSB_EIO;
}

int ws_win32_status_from_error(uint32_t err)
{
	if (err == 0)
		return FSB_OK;
	return lookup(win32_table, sizeof(win32_table) / sizeof(win32_table[0]), err);
}

int ws_win32_status_from_ntstatus(uint32_t st)
{
	return lookup(nt_table, sizeof(nt_table) / sizeof(nt_table[0]), st);
}
