/*
 * test_names.c - Linux <-> Windows name mapping (winside/win32/names.c),
 * run natively: every forbidden character both ways, trailing dots and
 * spaces, the private-use aliases that must be refused, surrogates,
 * invalid UTF-8, reserved device names and the case rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ws_win32_port.h"

#define CAP 300

static int to16(const char *s, uint16_t *out, size_t *n)
{
	return ws_win32_name_to_utf16(s, strlen(s), out, CAP, n);
}

/* name -> UTF-16 -> name must give back the same bytes. */
static void round_trip(const char *s)
{
	uint16_t w[CAP];
	char back[FSB_NAME_MAX + 1];
	size_t n, m;

	assert_int_equal(to16(s, w, &n), 0);
	assert_int_equal(ws_win32_name_from_utf16(w, n, back, FSB_NAME_MAX, &m), 0);
	assert_int_equal(m, strlen(s));
	assert_memory_equal(back, s, m);
}

static void t_plain(void **state)
{
	uint16_t w[CAP];
	size_t n;

	assert_int_equal(to16("hello.txt", w, &n), 0);
	assert_int_equal(n, 9);
	assert_int_equal(w[0], 'h');
	assert_int_equal(w[8], 't');
	round_trip("hello.txt");
	round_trip("n\xc3\xa4me");                     /* U+00E4 */
	round_trip("\xe6\x97\xa5\xe6\x9c\xac");         /* CJK */
	round_trip("emoji-\xf0\x9f\x98\x80");           /* U+1F600: a surrogate pair */
	round_trip(".hidden");
	round_trip("a.b.c");
	round_trip("mid dle");
}

static void t_surrogate_pair(void **state)
{
	uint16_t w[CAP];
	size_t n;

	assert_int_equal(to16("\xf0\x9f\x98\x80", w, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(w[0], 0xD83D);
	assert_int_equal(w[1], 0xDE00);
}

static void t_forbidden_all(void **state)
{
	static const char forb[] = "\\:*?\"<>|";
	char name[8], back[FSB_NAME_MAX + 1];
	uint16_t w[CAP];
	size_t n, m;
	unsigned c;

	/* Control characters 0x01-0x1F and the punctuation, each in the
	 * middle of a name. */
	for (c = 1; c < 0x80; c++) {
		if (!(c < 0x20 || strchr(forb, (int)c)))
			continue;
		name[0] = 'a';
		name[1] = (char)c;
		name[2] = 'b';
		name[3] = '\0';
		assert_int_equal(ws_win32_name_to_utf16(name, 3, w, CAP, &n), 0);
		assert_int_equal(n, 3);
		assert_int_equal(w[1], 0xF000 + c);
		assert_int_equal(ws_win32_name_from_utf16(w, n, back, FSB_NAME_MAX, &m), 0);
		assert_int_equal(m, 3);
		assert_memory_equal(back, name, 3);
	}
}

static void t_stream_colon(void **state)
{
	uint16_t w[CAP];
	size_t n, i;

	/* "name:stream" never reaches Windows as a stream: no ':' unit. */
	assert_int_equal(to16("file.txt:Zone.Identifier", w, &n), 0);
	for (i = 0; i < n; i++)
		assert_int_not_equal(w[i], ':');
	assert_int_equal(w[8], 0xF03A);
	round_trip("file.txt:Zone.Identifier");
	round_trip("C:");
}

static void t_trailing(void **state)
{
	uint16_t w[CAP];
	size_t n;

	assert_int_equal(to16("name.", w, &n), 0);
	assert_int_equal(w[n - 1], 0xF02E);
	assert_int_equal(to16("name ", w, &n), 0);
	assert_int_equal(w[n - 1], 0xF020);
	/* Only the last character: "a.." keeps its first dot. */
	assert_int_equal(to16("a..", w, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(w[1], '.');
	assert_int_equal(w[2], 0xF02E);
	round_trip("name.");
	round_trip("name ");
	round_trip("a..");
	round_trip("...x");
	round_trip(" lead");
}

static void t_pua_aliases(void **state)
{
	uint16_t w[CAP];
	char back[FSB_NAME_MAX + 1];
	size_t n, m;

	/* U+F03A would read back as ':': refused, never aliased. */
	assert_int_equal(to16("a\xef\x80\xba", w, &n), -FSB_EILSEQ);
	/* U+F001 (a control character's alias) likewise. */
	assert_int_equal(to16("\xef\x80\x81x", w, &n), -FSB_EILSEQ);
	/* U+F02E only aliases '.' at the end. */
	assert_int_equal(to16("x\xef\x80\xae", w, &n), -FSB_EILSEQ);
	round_trip("\xef\x80\xaex");
	/* Private-use characters outside the mapped set pass through. */
	round_trip("\xef\x80\x80");                     /* U+F000 */
	round_trip("\xef\x81\x81");                     /* U+F041 ('A' is allowed) */
	round_trip("\xef\x82\x80");                     /* U+F080 */

	/* Windows names holding the aliases come back as the ASCII
	 * characters, U+F02E in the middle as itself. */
	w[0] = 'a';
	w[1] = 0xF02E;
	w[2] = 'b';
	assert_int_equal(ws_win32_name_from_utf16(w, 3, back, FSB_NAME_MAX, &m), 0);
	assert_string_equal(back, "a\xef\x80\xae" "b");
	w[2] = 0xF02E;
	assert_int_equal(ws_win32_name_from_utf16(w, 3, back, FSB_NAME_MAX, &m), 0);
	assert_string_equal(back, "a\xef\x80\xae.");
}

static void t_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\x80", "a\xbf", "\xc0\xaf", "\xc1\x81", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xed\xa0\x80",         /* U+D800, a surrogate */
		"\xed\xbf\xbf",         /* U+DFFF */
		"\xf4\x90\x80\x80",     /* > U+10FFFF */
		"\xf5\x80\x80\x80", "\xff", "\xfe",
		"\xc3", "\xe6\x97", "\xf0\x9f\x98",     /* truncated */
		"\xe6\x41\x41",         /* bad continuation */
	};
	uint16_t w[CAP];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (to16(bad[i], w, &n) != -FSB_EILSEQ)
			fail_msg("bad UTF-8 #%zu accepted", i);
	}
}

static void t_unpaired_surrogates(void **state)
{
	uint16_t w[4];
	char back[FSB_NAME_MAX + 1];
	size_t m;

	w[0] = 'a';
	w[1] = 0xD800;
	assert_int_equal(ws_win32_name_from_utf16(w, 2, back, FSB_NAME_MAX, &m), -FSB_EILSEQ);
	w[1] = 0xDC00;
	w[2] = 'b';
	assert_int_equal(ws_win32_name_from_utf16(w, 3, back, FSB_NAME_MAX, &m), -FSB_EILSEQ);
	w[1] = 0xD800;
	w[2] = 'b';
	assert_int_equal(ws_win32_name_from_utf16(w, 3, back, FSB_NAME_MAX, &m), -FSB_EILSEQ);
	w[1] = 0xDBFF;
	w[2] = 0xDFFF;
	assert_int_equal(ws_win32_name_from_utf16(w, 3, back, FSB_NAME_MAX, &m), 0);
	assert_string_equal(back, "a\xf4\x8f\xbf\xbf");
}

static void t_reserved(void **state)
{
	static const char *const reserved[] = {
		"CON", "con", "Con.txt", "PRN", "aux", "NUL", "nul.tar.gz", "COM1", "com9.log",
		"LPT1", "lpt9", "CONIN$", "conout$", "CON .txt", "COM\xc2\xb9", "lpt\xc2\xb2.x",
	};
	static const char *const fine[] = {
		"CONSOLE", "con_", "xcon", "COM", "COM0", "COM10", "LPT", "NULL", "aux1", ".con",
		"con.", "CON ",
	};
	uint16_t w[CAP];
	size_t i, n;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (to16(reserved[i], w, &n) != -FSB_EINVAL)
			fail_msg("reserved name %s accepted", reserved[i]);
	/* "con." and "CON " end in a mapped dot/space, so Windows sees
	 * "con\uF02E", which is no device. */
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (to16(fine[i], w, &n) != 0)
			fail_msg("ordinary name %s refused", fine[i]);
}

static void t_length(void **state)
{
	char name[FSB_NAME_MAX + 2], back[FSB_NAME_MAX + 1];
	uint16_t w[CAP];
	size_t n, m;

	memset(name, 'x', 255);
	name[255] = '\0';
	assert_int_equal(to16(name, w, &n), 0);
	assert_int_equal(n, 255);
	/* 256 units: one too many for NTFS. */
	name[255] = 'x';
	assert_int_equal(ws_win32_name_to_utf16(name, 256, w, CAP, &n), -FSB_ENAMETOOLONG);
	/* A smaller output buffer is respected as well. */
	assert_int_equal(ws_win32_name_to_utf16(name, 20, w, 10, &n), -FSB_ENAMETOOLONG);
	/* 255 CJK characters are 765 UTF-8 bytes: not a Linux name. */
	for (n = 0; n < 255; n++)
		w[n] = 0x65E5;
	assert_int_equal(ws_win32_name_from_utf16(w, 255, back, FSB_NAME_MAX, &m), -FSB_ENAMETOOLONG);
	assert_int_equal(ws_win32_name_from_utf16(w, 85, back, FSB_NAME_MAX, &m), 0);
	assert_int_equal(m, 255);
}

static void t_case_rule(void **state)
{
	uint16_t a[CAP], b[CAP];
	size_t na, nb;

	assert_int_equal(to16("README.md", a, &na), 0);
	assert_int_equal(to16("README.md", b, &nb), 0);
	assert_int_equal(ws_win32_name_check_case(a, na, b, nb), 0);
	assert_int_equal(to16("readme.md", b, &nb), 0);
	assert_int_equal(ws_win32_name_check_case(a, na, b, nb), -FSB_ENOENT);
	/* An 8.3 alias opened the long name: not the name asked for. */
	assert_int_equal(to16("PROGRA~1", a, &na), 0);
	assert_int_equal(to16("Program Files", b, &nb), 0);
	assert_int_equal(ws_win32_name_check_case(a, na, b, nb), -FSB_ENOENT);
	assert_int_equal(ws_win32_name_check_case(a, na, a, na - 1), -FSB_ENOENT);
	/* Non-ASCII case differs too. */
	assert_int_equal(to16("\xc3\xa4", a, &na), 0);
	assert_int_equal(to16("\xc3\x84", b, &nb), 0);
	assert_int_equal(ws_win32_name_check_case(a, na, b, nb), -FSB_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plain),
		cmocka_unit_test(t_surrogate_pair),
		cmocka_unit_test(t_forbidden_all),
		cmocka_unit_test(t_stream_colon),
		cmocka_unit_test(t_trailing),
		cmocka_unit_test(t_pua_aliases),
		cmocka_unit_test(t_invalid_utf8),
		cmocka_unit_test(t_unpaired_surrogates),
		cmocka_unit_test(t_reserved),
		cmocka_unit_test(t_length),
		cmocka_unit_test(t_case_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
