/*
 * test_net.c - listening and connecting on each transport: stale Unix
 * socket files, files that are not ours to delete, TCP port 0, abstract
 * names, and the errors a user sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsb_net.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fsb-net-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", tmpdir);
	(void)state;
	return 0;
}

static void parse(const char *s, struct fsb_addr *a)
{
	char err[300];

	if (fsb_addr_parse(s, a, err, sizeof(err)))
		fail_msg("%s", err);
}

/* Accept one connection and check both ends talk. */
static void roundtrip(int lfd, const struct fsb_addr *to)
{
	char err[300], b[4];
	int c, s;

	c = fsb_net_connect(to, err, sizeof(err));
	if (c < 0)
		fail_msg("connect: %s", err);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(fsb_net_write_all(c, "ping", 4), 0);
	assert_int_equal(fsb_net_read_all(s, b, 4), 0);
	assert_memory_equal(b, "ping", 4);
	close(s);
	/* EOF in the middle of a read is a reset, not a short success. */
	assert_int_equal(fsb_net_read_all(c, b, 4), -ECONNRESET);
	close(c);
}

static void test_unix_listen(void **state)
{
	struct fsb_addr a, bound;
	char s[200], err[300];
	int l, l2;

	snprintf(s, sizeof(s), "unix:%s/sock", tmpdir);
	parse(s, &a);
	l = fsb_net_listen(&a, &bound, err, sizeof(err));
	if (l < 0)
		fail_msg("%s", err);
	assert_true(fcntl(l, F_GETFD) & FD_CLOEXEC);
	assert_memory_equal(&a, &bound, sizeof(a));
	roundtrip(l, &a);

	/* A live listener is never replaced. */
	l2 = fsb_net_listen(&a, NULL, err, sizeof(err));
	assert_int_equal(l2, -EADDRINUSE);
	assert_non_null(strstr(err, "another server is already listening"));

	/* Once its server is gone, the leftover socket file is replaced. */
	close(l);
	l = fsb_net_listen(&a, NULL, err, sizeof(err));
	if (l < 0)
		fail_msg("relisten over a stale socket: %s", err);
	roundtrip(l, &a);
	close(l);
	(void)state;
}

static void test_unix_refuses_non_socket(void **state)
{
	struct fsb_addr a;
	char s[300], path[200], err[300];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/precious", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	snprintf(s, sizeof(s), "unix:%s", path);
	parse(s, &a);
	assert_int_equal(fsb_net_listen(&a, NULL, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "is not a socket"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);

	snprintf(s, sizeof(s), "unix:%s/no/such/dir/sock", tmpdir);
	parse(s, &a);
	assert_int_equal(fsb_net_listen(&a, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no/such/dir/sock"));
	assert_int_equal(fsb_net_connect(&a, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "connect to unix:"));
	(void)state;
}

static void test_unix_abstract(void **state)
{
	struct fsb_addr a;
	char s[200], err[300];
	int l;

	snprintf(s, sizeof(s), "unix:@fsb-test-%ld", (long)getpid());
	parse(s, &a);
	l = fsb_net_listen(&a, NULL, err, sizeof(err));
	if (l < 0)
		fail_msg("%s", err);
	roundtrip(l, &a);
	assert_int_equal(fsb_net_listen(&a, NULL, err, sizeof(err)), -EADDRINUSE);
	close(l);
	(void)state;
}

static void test_tcp_port0(void **state)
{
	struct fsb_addr a, bound;
	char err[300], txt[100];
	int l, l2;

	parse("tcp:127.0.0.1:0", &a);
	l = fsb_net_listen(&a, &bound, err, sizeof(err));
	if (l < 0)
		fail_msg("%s", err);
	assert_int_equal(bound.kind, FSB_ADDR_TCP);
	assert_string_equal(bound.host, "127.0.0.1");
	assert_true(bound.port != 0);
	fsb_addr_format(&bound, txt, sizeof(txt));
	assert_true(!strncmp(txt, "tcp:127.0.0.1:", 14));
	roundtrip(l, &bound);

	/* The same port again is busy (SO_REUSEADDR does not allow two
	 * listeners). */
	l2 = fsb_net_listen(&bound, NULL, err, sizeof(err));
	assert_int_equal(l2, -EADDRINUSE);
	assert_non_null(strstr(err, txt + 4));
	close(l);

	/* Nothing listens there now. */
	assert_int_equal(fsb_net_connect(&bound, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, "connect to tcp:127.0.0.1:"));
	(void)state;
}

static void test_tcp_names(void **state)
{
	struct fsb_addr a, bound;
	char err[300];
	int l;

	parse("tcp:localhost:0", &a);
	l = fsb_net_listen(&a, &bound, err, sizeof(err));
	if (l < 0)
		fail_msg("%s", err);
	assert_true(bound.port != 0);
	/* The bound address is numeric, whatever name was given. */
	assert_true(!strcmp(bound.host, "127.0.0.1") || !strcmp(bound.host, "::1"));
	roundtrip(l, &bound);
	close(l);

	parse("tcp:[::1]:0", &a);
	l = fsb_net_listen(&a, &bound, err, sizeof(err));
	if (l >= 0) {
		char txt[100];

		fsb_addr_format(&bound, txt, sizeof(txt));
		assert_true(!strncmp(txt, "tcp:[::1]:", 10));
		roundtrip(l, &bound);
		close(l);
	} else {
		print_message("# no IPv6 loopback here: %s\n", err);
	}

	parse("tcp:no-such-host.invalid:80", &a);
	assert_true(fsb_net_connect(&a, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot resolve host"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix_listen),
		cmocka_unit_test(test_unix_refuses_non_socket),
		cmocka_unit_test(test_unix_abstract),
		cmocka_unit_test(test_tcp_port0),
		cmocka_unit_test(test_tcp_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
