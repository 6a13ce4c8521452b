/*
 * test_addr.c - every address form fsb_addr_parse accepts, every way it
 * can be wrong, and the round trip through fsb_addr_format.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fsb_net.h"

static void parse_ok(const char *s, struct fsb_addr *a)
{
	char err[512] = "untouched";
	int rc = fsb_addr_parse(s, a, err, sizeof(err));

	if (rc != 0)
		fail_msg("parsing \"%s\" failed: %s", s, err);
	assert_string_equal(err, "");
}

static void parse_bad(const char *s, const char *needle)
{
	struct fsb_addr a;
	char err[512] = "";
	int rc = fsb_addr_parse(s, &a, err, sizeof(err));

	if (rc != -EINVAL)
		fail_msg("parsing \"%s\" returned %d, want -EINVAL", s, rc);
	if (!strstr(err, needle))
		fail_msg("error for \"%s\" is \"%s\"; want it to mention \"%s\"", s, err, needle);
}

static void roundtrip(const char *in, const char *want)
{
	struct fsb_addr a, b;
	char buf[512];

	parse_ok(in, &a);
	fsb_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, want);
	parse_ok(buf, &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_unix(void **state)
{
	struct fsb_addr a;
	char path[200];

	parse_ok("unix:/run/fsbridge.sock", &a);
	assert_int_equal(a.kind, FSB_ADDR_UNIX);
	assert_string_equal(a.path, "/run/fsbridge.sock");

	parse_ok("unix:relative/sock", &a);
	assert_string_equal(a.path, "relative/sock");

	parse_ok("unix:@fsbridge-test", &a);
	assert_int_equal(a.kind, FSB_ADDR_UNIX);
	assert_string_equal(a.path, "@fsbridge-test");

	/* Colons belong to the path, not to the syntax. */
	parse_ok("unix:/tmp/a:b", &a);
	assert_string_equal(a.path, "/tmp/a:b");

	/* 107 bytes is the most sun_path holds with its NUL. */
	memset(path, 'p', 107);
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'p', 106);
	path[5 + 107] = '\0';
	parse_ok(path, &a);
	assert_int_equal(strlen(a.path), 107);

	roundtrip("unix:/tmp/x.sock", "unix:/tmp/x.sock");
	roundtrip("unix:@abstract", "unix:@abstract");
	(void)state;
}

static void test_unix_bad(void **state)
{
	char path[200];

	parse_bad("unix:", "missing socket path");
	parse_bad("unix:@", "missing abstract socket name");
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'p', 107);
	path[6 + 107] = '\0';
	parse_bad(path, "at most 107");
	memcpy(path, "unix:@", 6);
	memset(path + 6, 'n', 107);
	path[6 + 107] = '\0';
	parse_bad(path, "at most 107");
	(void)state;
}

static void test_tcp(void **state)
{
	struct fsb_addr a;

	parse_ok("tcp:127.0.0.1:7000", &a);
	assert_int_equal(a.kind, FSB_ADDR_TCP);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 7000);

	parse_ok("tcp:localhost:0", &a);
	assert_string_equal(a.host, "localhost");
	assert_int_equal(a.port, 0);

	parse_ok("tcp:build-box_2.example.com:65535", &a);
	assert_string_equal(a.host, "build-box_2.example.com");
	assert_int_equal(a.port, 65535);

	parse_ok("tcp:[::1]:40123", &a);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 40123);

	parse_ok("tcp:[fe80::1:2]:1", &a);
	assert_string_equal(a.host, "fe80::1:2");

	parse_ok("tcp:[::ffff:127.0.0.1]:80", &a);
	assert_string_equal(a.host, "::ffff:127.0.0.1");

	roundtrip("tcp:127.0.0.1:40123", "tcp:127.0.0.1:40123");
	roundtrip("tcp:[::1]:9", "tcp:[::1]:9");
	roundtrip("tcp:localhost:007", "tcp:localhost:7");
	(void)state;
}

static void test_tcp_bad(void **state)
{
	char host[300];

	parse_bad("tcp:localhost", "missing port");
	parse_bad("tcp:localhost:", "missing port");
	parse_bad("tcp::80", "missing host");
	parse_bad("tcp:", "missing port");
	parse_bad("tcp:host:99999", "port 99999 is out of range");
	parse_bad("tcp:host:65536", "out of range");
	parse_bad("tcp:host:123456789012345678901234567890", "out of range");
	parse_bad("tcp:host:-1", "not a decimal number");
	parse_bad("tcp:host:+80", "not a decimal number");
	parse_bad("tcp:host:0x50", "not a decimal number");
	parse_bad("tcp:host: 80", "not a decimal number");
	parse_bad("tcp:host:http", "not a decimal number");
	parse_bad("tcp:::1:80", "needs brackets");
	parse_bad("tcp:fe80::1:80", "needs brackets");
	parse_bad("tcp:[::1", "missing ']'");
	parse_bad("tcp:[::1]", "missing port");
	parse_bad("tcp:[::1]:", "missing port");
	parse_bad("tcp:[::1]80", "expected ':PORT'");
	parse_bad("tcp:[]:80", "empty IPv6 address");
	parse_bad("tcp:[not-v6]:80", "is not an IPv6 address");
	parse_bad("tcp:[127.0.0.1]:80", "is not an IPv6 address");
	parse_bad("tcp:bad host:80", "contains ' '");
	parse_bad("tcp:a/b:80", "contains '/'");

	memcpy(host, "tcp:", 4);
	memset(host + 4, 'h', 256);
	memcpy(host + 260, ":80", 4);
	parse_bad(host, "at most 255");
	(void)state;
}

static void test_vsock(void **state)
{
	struct fsb_addr a;

	parse_ok("vsock:2:5000", &a);
	assert_int_equal(a.kind, FSB_ADDR_VSOCK);
	assert_int_equal(a.cid, 2);
	assert_int_equal(a.vport, 5000);

	parse_ok("vsock:any:5000", &a);
	assert_int_equal(a.cid, 0xFFFFFFFFu);
	parse_ok("vsock:host:5000", &a);
	assert_int_equal(a.cid, 2);
	parse_ok("vsock:local:1", &a);
	assert_int_equal(a.cid, 1);
	parse_ok("vsock:4294967294:4294967294", &a);
	assert_int_equal(a.cid, 4294967294u);
	assert_int_equal(a.vport, 4294967294u);
	parse_ok("vsock:3:any", &a);
	assert_int_equal(a.vport, 0xFFFFFFFFu);

	roundtrip("vsock:any:5000", "vsock:any:5000");
	roundtrip("vsock:host:77", "vsock:2:77");
	roundtrip("vsock:local:any", "vsock:1:any");
	(void)state;
}

static void test_vsock_bad(void **state)
{
	parse_bad("vsock:", "missing port");
	parse_bad("vsock:2", "missing port");
	parse_bad("vsock:2:", "missing port");
	parse_bad("vsock::5000", "missing CID");
	parse_bad("vsock:guest:5000", "neither a number nor one of any, host, local");
	parse_bad("vsock:-2:5000", "neither a number");
	parse_bad("vsock:4294967296:5000", "CID 4294967296 is out of range");
	parse_bad("vsock:2:4294967296", "port 4294967296 is out of range");
	parse_bad("vsock:2:x", "not a decimal number");
	parse_bad("vsock:2:5000:1", "not a decimal number");
	(void)state;
}

static void test_scheme_bad(void **state)
{
	struct fsb_addr a;
	char err[512];

	parse_bad("", "empty address");
	parse_bad("/tmp/sock", "has no scheme");
	parse_bad("localhost", "has no scheme; valid forms are unix:PATH");
	parse_bad("http://x:80", "unknown scheme \"http\"");
	parse_bad("TCP:host:80", "unknown scheme \"TCP\"");
	parse_bad("udp:host:80", "valid forms are unix:PATH, unix:@NAME, tcp:HOST:PORT");
	parse_bad(":x", "unknown scheme \"\"");

	assert_int_equal(fsb_addr_parse(NULL, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty address"));
	/* A tiny or missing error buffer must not be overrun. */
	assert_int_equal(fsb_addr_parse("nope", &a, err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(fsb_addr_parse("nope", &a, NULL, 0), -EINVAL);
	(void)state;
}

static void test_format_truncates(void **state)
{
	struct fsb_addr a;
	char small[8];
	int n;

	parse_ok("tcp:127.0.0.1:40123", &a);
	n = fsb_addr_format(&a, small, sizeof(small));
	assert_int_equal(n, (int)strlen("tcp:127.0.0.1:40123"));
	assert_string_equal(small, "tcp:127");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_unix_bad),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tcp_bad),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_vsock_bad),
		cmocka_unit_test(test_scheme_bad),
		cmocka_unit_test(test_format_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
