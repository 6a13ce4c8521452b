/*
 * test_errmap.c - the Win32/NTSTATUS -> protocol status table
 * (winside/win32/errmap.c), run natively.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ws_win32_port.h"

static void t_win32(void **state)
{
	static const struct { uint32_t code; int want; } cases[] = {
		{ 0, FSB_OK },
		{ 2, FSB_ENOENT },              /* ERROR_FILE_NOT_FOUND */
		{ 3, FSB_ENOENT },              /* ERROR_PATH_NOT_FOUND */
		{ 5, FSB_EACCES },              /* ERROR_ACCESS_DENIED */
		{ 6, FSB_EBADF },               /* ERROR_INVALID_HANDLE */
		{ 17, FSB_EXDEV },              /* ERROR_NOT_SAME_DEVICE */
		{ 32, FSB_EBUSY },              /* ERROR_SHARING_VIOLATION */
		{ 80, FSB_EEXIST },             /* ERROR_FILE_EXISTS */
		{ 112, FSB_ENOSPC },            /* ERROR_DISK_FULL */
		{ 145, FSB_ENOTEMPTY },         /* ERROR_DIR_NOT_EMPTY */
		{ 183, FSB_EEXIST },            /* ERROR_ALREADY_EXISTS */
		{ 206, FSB_ENAMETOOLONG },      /* ERROR_FILENAME_EXCED_RANGE */
		{ 267, FSB_ENOTDIR },           /* ERROR_DIRECTORY */
		{ 303, FSB_ENOENT },            /* ERROR_DELETE_PENDING */
		{ 1022, FSB_EOVERFLOW },        /* ERROR_NOTIFY_ENUM_DIR */
		{ 1113, FSB_EILSEQ },           /* ERROR_NO_UNICODE_TRANSLATION */
		{ 1314, FSB_EPERM },            /* ERROR_PRIVILEGE_NOT_HELD */
		{ 1921, FSB_ELOOP },            /* ERROR_CANT_RESOLVE_FILENAME */
		{ 10047, FSB_ENOTSUP },         /* WSAEAFNOSUPPORT: no AF_HYPERV */
		{ 10054, FSB_ECONNRESET },      /* WSAECONNRESET */
		{ 10060, FSB_ETIMEDOUT },       /* WSAETIMEDOUT */
		{ 99999, FSB_EIO },             /* unknown */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ws_win32_status_from_error(cases[i].code) != cases[i].want)
			fail_msg("Win32 error %u: got %d, want %d", cases[i].code,
			         ws_win32_status_from_error(cases[i].code), cases[i].want);
}

static void t_ntstatus(void **state)
{
	static const struct { uint32_t code; int want; } cases[] = {
		{ 0x00000000u, FSB_OK },
		{ 0xC0000034u, FSB_ENOENT },    /* STATUS_OBJECT_NAME_NOT_FOUND */
		{ 0xC000003Au, FSB_ENOENT },    /* STATUS_OBJECT_PATH_NOT_FOUND */
		{ 0xC0000035u, FSB_EEXIST },    /* STATUS_OBJECT_NAME_COLLISION */
		{ 0xC0000022u, FSB_EACCES },    /* STATUS_ACCESS_DENIED */
		{ 0xC0000043u, FSB_EBUSY },     /* STATUS_SHARING_VIOLATION */
		{ 0xC0000056u, FSB_ENOENT },    /* STATUS_DELETE_PENDING */
		{ 0xC00000BAu, FSB_EISDIR },    /* STATUS_FILE_IS_A_DIRECTORY */
		{ 0xC0000103u, FSB_ENOTDIR },   /* STATUS_NOT_A_DIRECTORY */
		{ 0xC0000101u, FSB_ENOTEMPTY }, /* STATUS_DIRECTORY_NOT_EMPTY */
		{ 0xC00000D4u, FSB_EXDEV },     /* STATUS_NOT_SAME_DEVICE */
		{ 0xC0000003u, FSB_ENOTSUP },   /* STATUS_INVALID_INFO_CLASS */
		{ 0x8000002Du, FSB_ELOOP },     /* STATUS_STOPPED_ON_SYMLINK */
		{ 0x0000010Cu, FSB_EOVERFLOW }, /* STATUS_NOTIFY_ENUM_DIR */
		{ 0xC0000106u, FSB_ENAMETOOLONG },
		{ 0xC0000265u, FSB_EMLINK },    /* STATUS_TOO_MANY_LINKS */
		{ 0xC0FFFFFFu, FSB_EIO },       /* unknown */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ws_win32_status_from_ntstatus(cases[i].code) != cases[i].want)
			fail_msg("NTSTATUS 0x%08x: got %d, want %d", cases[i].code,
			         ws_win32_status_from_ntstatus(cases[i].code), cases[i].want);
}

/* Every mapped code is a real protocol status that may travel. */
static void t_range(void **state)
{
	uint32_t c;
	int s;

	for (c = 0; c < 20000; c++) {
		s = ws_win32_status_from_error(c);
		assert_true(s >= 0 && s < FSB_STATUS__WIRE_MAX);
	}
	for (c = 0xC0000000u; c < 0xC0000300u; c++) {
		s = ws_win32_status_from_ntstatus(c);
		assert_true(s > 0 && s < FSB_STATUS__WIRE_MAX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_win32),
		cmocka_unit_test(t_ntstatus),
		cmocka_unit_test(t_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
