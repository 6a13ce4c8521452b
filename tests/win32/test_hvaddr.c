/*
 * test_hvaddr.c - hvsock:VMID:PORT parsing and the service GUID a Linux
 * guest's AF_VSOCK port maps to (winside/win32/hvaddr.c), run natively.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ws_win32_port.h"

static void t_service_guid(void **state)
{
	struct ws_guid g;
	char s[40];

	ws_win32_hv_service_for_port(5000, &g);
	ws_win32_guid_format(&g, s, sizeof(s));
	assert_string_equal(s, "00001388-facb-11e6-bd58-64006a7986d3");
	ws_win32_hv_service_for_port(0x7FFFFFFF, &g);
	ws_win32_guid_format(&g, s, sizeof(s));
	assert_string_equal(s, "7fffffff-facb-11e6-bd58-64006a7986d3");
	/* Memory layout: Data1 little-endian, then the fixed tail. */
	ws_win32_hv_service_for_port(0x01020304, &g);
	assert_int_equal(g.d1, 0x01020304);
	assert_int_equal(g.d2, 0xfacb);
	assert_int_equal(g.d3, 0x11e6);
	assert_int_equal(g.d4[0], 0xbd);
	assert_int_equal(g.d4[7], 0xd3);
}

static void t_names(void **state)
{
	static const struct { const char *in; const char *vm; const char *out; } cases[] = {
		{ "hvsock:*:5000", "00000000-0000-0000-0000-000000000000", "hvsock:wildcard:5000" },
		{ "hvsock:wildcard:1", "00000000-0000-0000-0000-000000000000", "hvsock:wildcard:1" },
		{ "hvsock:any:1", "00000000-0000-0000-0000-000000000000", "hvsock:wildcard:1" },
		{ "hvsock:children:7", "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd", "hvsock:children:7" },
		{ "hvsock:loopback:7", "e0e16197-dd56-4a10-9195-5ee7a155a838", "hvsock:loopback:7" },
		{ "hvsock:parent:7", "a42e7cda-d03f-480c-9cc2-a4de20abb878", "hvsock:parent:7" },
		{ "hvsock:silohost:7", "36bd0c5c-7276-4223-88ba-7d03b654c568", "hvsock:silohost:7" },
	};
	struct ws_hvaddr a;
	char err[300], s[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ws_win32_hvaddr_parse(cases[i].in, &a, err, sizeof(err)))
			fail_msg("%s: %s", cases[i].in, err);
		ws_win32_guid_format(&a.vmid, s, sizeof(s));
		assert_string_equal(s, cases[i].vm);
		ws_win32_hvaddr_format(&a, s, sizeof(s));
		assert_string_equal(s, cases[i].out);
	}
}

static void t_guid_vmid(void **state)
{
	struct ws_hvaddr a;
	char err[300], s[200];

	assert_int_equal(ws_win32_hvaddr_parse("hvsock:3F2504E0-4F89-11D3-9A0C-0305E82C3301:50051",
	                                       &a, err, sizeof(err)), 0);
	assert_int_equal(a.vmid.d1, 0x3F2504E0);
	assert_int_equal(a.vmid.d2, 0x4F89);
	assert_int_equal(a.vmid.d3, 0x11D3);
	assert_int_equal(a.vmid.d4[0], 0x9A);
	assert_int_equal(a.vmid.d4[7], 0x01);
	assert_int_equal(a.port, 50051);
	ws_win32_guid_format(&a.service, s, sizeof(s));
	assert_string_equal(s, "0000c383-facb-11e6-bd58-64006a7986d3");
	ws_win32_hvaddr_format(&a, s, sizeof(s));
	assert_string_equal(s, "hvsock:3f2504e0-4f89-11d3-9a0c-0305e82c3301:50051");
	/* Braces are accepted. */
	assert_int_equal(ws_win32_hvaddr_parse("hvsock:{3f2504e0-4f89-11d3-9a0c-0305e82c3301}:1",
	                                       &a, err, sizeof(err)), 0);
	assert_int_equal(a.vmid.d1, 0x3F2504E0);
}

static void t_bad(void **state)
{
	static const char *const bad[] = {
		"hvsock:", "hvsock:*", "hvsock::5000", "hvsock:*:", "hvsock:*:0", "hvsock:*:-1",
		"hvsock:*:2147483648", "hvsock:*:99999999999", "hvsock:*:12a", "hvsock:*: 1",
		"hvsock:nosuchname:1", "hvsock:3f2504e0-4f89-11d3-9a0c-0305e82c330:1",
		"hvsock:3f2504e0-4f89-11d3-9a0c-0305e82c33011:1",
		"hvsock:3f2504e04f89-11d3-9a0c-0305e82c3301-:1",
		"hvsock:3f2504e0-4f89-11d3-9a0c-0305e82c33zz:1", "tcp:127.0.0.1:1", "vsock:2:1",
	};
	struct ws_hvaddr a;
	char err[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ws_win32_hvaddr_parse(bad[i], &a, err, sizeof(err)) != -FSB_EINVAL)
			fail_msg("%s accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(ws_win32_hvaddr_parse("hvsock:*:2147483647", &a, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_service_guid),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_guid_vmid),
		cmocka_unit_test(t_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
