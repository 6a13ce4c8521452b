/*
 * test_lxmeta.c - drvfs's Linux metadata extended attributes
 * (winside/win32/lxmeta.c), run natively: the exact bytes NtSetEaFile is
 * given and NtQueryEaFile is asked with, decoding what NTFS answers
 * (empty values for missing names, upper-cased names, foreign attributes),
 * hostile chains, and what the values do to synthesised attributes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ws_win32_port.h"

/* uid 1000, gid 1000, mode 0100644: three FILE_FULL_EA_INFORMATION entries
 * of 8 + 7 + 4 = 19 bytes, each starting 4-byte aligned (at 0, 20, 40). */
static const uint8_t owner_and_mode[] = {
	20, 0, 0, 0,  0, 6, 4, 0,  '$', 'L', 'X', 'U', 'I', 'D', 0,  0xe8, 0x03, 0, 0,  0,
	20, 0, 0, 0,  0, 6, 4, 0,  '$', 'L', 'X', 'G', 'I', 'D', 0,  0xe8, 0x03, 0, 0,  0,
	0, 0, 0, 0,   0, 6, 4, 0,  '$', 'L', 'X', 'M', 'O', 'D', 0,  0xa4, 0x81, 0, 0,
};

static void t_encode_layout(void **state)
{
	struct ws_lxmeta m = { WS_LX_UID | WS_LX_GID | WS_LX_MODE, 1000, 1000, 0100644, 0, 0 };
	uint8_t buf[WS_LX_EA_MAX];
	size_t n;

	memset(buf, 0xee, sizeof(buf));
	n = ws_lxmeta_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, sizeof(owner_and_mode));
	assert_memory_equal(buf, owner_and_mode, n);
}

static void t_encode_dev_alone(void **state)
{
	/* A character device 136:3 (a pty): major then minor. */
	static const uint8_t want[] = {
		0, 0, 0, 0,  0, 6, 8, 0,  '$', 'L', 'X', 'D', 'E', 'V', 0,
		136, 0, 0, 0,  3, 0, 0, 0,
	};
	struct ws_lxmeta m = { WS_LX_DEV, 0, 0, 0, 136, 3 };
	uint8_t buf[WS_LX_EA_MAX];

	assert_int_equal(ws_lxmeta_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	m.have = 0;
	assert_int_equal(ws_lxmeta_encode(&m, buf, sizeof(buf)), 0);
	m.have = WS_LX_UID | WS_LX_GID | WS_LX_MODE | WS_LX_DEV;
	assert_true(ws_lxmeta_encode(&m, buf, sizeof(buf)) > 0);
	assert_int_equal(ws_lxmeta_encode(&m, buf, 30), 0);     /* does not fit */
}

static void t_query_list(void **state)
{
	/* FILE_GET_EA_INFORMATION: 4 + 1 + 7 = 12 bytes each. */
	static const uint8_t want[] = {
		12, 0, 0, 0,  6, '$', 'L', 'X', 'U', 'I', 'D', 0,
		12, 0, 0, 0,  6, '$', 'L', 'X', 'G', 'I', 'D', 0,
		12, 0, 0, 0,  6, '$', 'L', 'X', 'M', 'O', 'D', 0,
		0, 0, 0, 0,   6, '$', 'L', 'X', 'D', 'E', 'V', 0,
	};
	uint8_t buf[WS_LX_EA_MAX];

	assert_int_equal(ws_lxmeta_query_list(buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(ws_lxmeta_query_list(buf, 20), 0);
}

static void t_decode_round_trip(void **state)
{
	struct ws_lxmeta m = { WS_LX_UID | WS_LX_GID | WS_LX_MODE | WS_LX_DEV,
	                       0xfffffffeu, 5, 0060660, 0x123, 0x45678 }, out;
	uint8_t buf[WS_LX_EA_MAX];
	size_t n = ws_lxmeta_encode(&m, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(ws_lxmeta_decode(buf, n, &out), 0);
	assert_memory_equal(&m, &out, sizeof(m));
	assert_int_equal(ws_lxmeta_decode(owner_and_mode, sizeof(owner_and_mode), &out), 0);
	assert_int_equal(out.have, WS_LX_UID | WS_LX_GID | WS_LX_MODE);
	assert_int_equal(out.uid, 1000);
	assert_int_equal(out.mode, 0100644);
}

/* What NTFS answers a query for names a file lacks (empty values), with
 * lower-case spellings and someone else's attribute mixed in. */
static void t_decode_ntfs_answers(void **state)
{
	static const uint8_t answer[] = {
		16, 0, 0, 0,  0, 6, 0, 0,  '$', 'L', 'X', 'U', 'I', 'D', 0,  0,  /* empty */
		20, 0, 0, 0,  0, 6, 4, 0,  '$', 'l', 'x', 'g', 'i', 'd', 0,  7, 0, 0, 0, 0,
		20, 0, 0, 0,  0, 5, 4, 0,  'O', 'T', 'H', 'E', 'R', 0,  1, 2, 3, 4,  0, 0,
		0, 0, 0, 0,   0, 6, 2, 0,  '$', 'L', 'X', 'M', 'O', 'D', 0,  0xff, 0xff, /* short */
	};
	struct ws_lxmeta m;

	assert_int_equal(ws_lxmeta_decode(answer, sizeof(answer), &m), 0);
	assert_int_equal(m.have, WS_LX_GID);
	assert_int_equal(m.gid, 7);
	assert_int_equal(ws_lxmeta_decode(answer, 0, &m), 0);
	assert_int_equal(m.have, 0);
}

static void t_decode_hostile(void **state)
{
	uint8_t buf[sizeof(owner_and_mode)];
	struct ws_lxmeta m;
	size_t cut;

	/* Every truncation of a valid chain fails or decodes a prefix. */
	for (cut = 1; cut < sizeof(owner_and_mode); cut++) {
		int rc = ws_lxmeta_decode(owner_and_mode, cut, &m);

		assert_true(rc == -FSB_EIO || rc == 0);
	}
	assert_int_equal(ws_lxmeta_decode(owner_and_mode, 7, &m), -FSB_EIO);
	/* A next offset pointing back at itself, short of a header, past the end. */
	memcpy(buf, owner_and_mode, sizeof(buf));
	buf[0] = 0;
	buf[1] = 0;
	buf[20] = 0;
	assert_int_equal(ws_lxmeta_decode(owner_and_mode, sizeof(owner_and_mode), &m), 0);
	memcpy(buf, owner_and_mode, sizeof(buf));
	buf[0] = 4;
	assert_int_equal(ws_lxmeta_decode(buf, sizeof(buf), &m), -FSB_EIO);
	buf[0] = 200;
	assert_int_equal(ws_lxmeta_decode(buf, sizeof(buf), &m), -FSB_EIO);
	/* A name length running past the end, a missing NUL. */
	memcpy(buf, owner_and_mode, sizeof(buf));
	buf[45] = 250;
	assert_int_equal(ws_lxmeta_decode(buf, sizeof(buf), &m), -FSB_EIO);
	memcpy(buf, owner_and_mode, sizeof(buf));
	buf[14] = 'X';
	assert_int_equal(ws_lxmeta_decode(buf, sizeof(buf), &m), -FSB_EIO);
	/* A value length running past the end. */
	memcpy(buf, owner_and_mode, sizeof(buf));
	buf[46] = 9;
	assert_int_equal(ws_lxmeta_decode(buf, sizeof(buf), &m), -FSB_EIO);
}

static void t_apply(void **state)
{
	struct fsb_attr a = { .mode = FSB_S_IFREG | 0644, .uid = 1000, .gid = 1000 };
	struct ws_lxmeta m = { WS_LX_UID | WS_LX_MODE, 1234, 0, FSB_S_IFDIR | 04750, 0, 0 };

	ws_lxmeta_apply(&m, &a);
	assert_int_equal(a.uid, 1234);
	assert_int_equal(a.gid, 1000);                   /* not persisted: synthesised */
	assert_int_equal(a.mode, FSB_S_IFREG | 04750);   /* the type is what NTFS says */
	a.mode = FSB_S_IFLNK | 0777;
	ws_lxmeta_apply(&m, &a);
	assert_int_equal(a.mode, FSB_S_IFLNK | 0777);    /* links are always 0777 */
	m.have = WS_LX_DEV;
	m.dev_major = 8;
	m.dev_minor = 0x101;
	ws_lxmeta_apply(&m, &a);
	assert_int_equal(a.rdev, 0x100801);              /* the kernel's new_encode_dev */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_encode_layout),
		cmocka_unit_test(t_encode_dev_alone),
		cmocka_unit_test(t_query_list),
		cmocka_unit_test(t_decode_round_trip),
		cmocka_unit_test(t_decode_ntfs_answers),
		cmocka_unit_test(t_decode_hostile),
		cmocka_unit_test(t_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
