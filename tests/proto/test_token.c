/*
 * test_token.c - token file creation, loading and refusal of unsafe files.
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsb_proto.h"
#include "fsb_net.h"

struct tdir {
	char root[64];
	char path[256];
};

static void put_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->root, sizeof(t->root), "/tmp/fsb-token-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tdir *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", t->root);
	free(t);
	return 0;
}

static void test_create_and_reload(void **state)
{
	struct tdir *t = *state;
	char tok[FSB_TOKEN_MAX + 1], tok2[FSB_TOKEN_MAX + 1], err[512], dir[300];
	struct stat st;
	size_t i;

	snprintf(t->path, sizeof(t->path), "%s/a/b/token", t->root);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, t->path));

	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(strlen(tok), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", tok[i]));

	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 65);
	snprintf(dir, sizeof(dir), "%s/a/b", t->root);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(dir, sizeof(dir), "%s/a", t->root);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* Loading again, with or without create, gives the same token. */
	assert_int_equal(fsb_token_load(t->path, 1, tok2, sizeof(tok2), err, sizeof(err)), 0);
	assert_string_equal(tok, tok2);
	assert_int_equal(fsb_token_load(t->path, 0, tok2, sizeof(tok2), err, sizeof(err)), 0);
	assert_string_equal(tok, tok2);

	/* No temporary files left beside it. */
	snprintf(dir, sizeof(dir), "ls -A '%s/a/b' | grep -qv '^token$'", t->root);
	assert_int_not_equal(system(dir), 0);
}

static void test_two_creators_agree(void **state)
{
	struct tdir *t = *state;
	char tok[FSB_TOKEN_MAX + 1], tok2[FSB_TOKEN_MAX + 1], err[512];

	snprintf(t->path, sizeof(t->path), "%s/token", t->root);
	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_int_equal(fsb_token_load(t->path, 1, tok2, sizeof(tok2), err, sizeof(err)), 0);
	assert_string_equal(tok, tok2);
}

static void test_existing_file(void **state)
{
	struct tdir *t = *state;
	char tok[FSB_TOKEN_MAX + 1], err[512];

	snprintf(t->path, sizeof(t->path), "%s/token", t->root);
	put_file(t->path, "s3cret\n", 0600);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "s3cret");

	put_file(t->path, "crlf\r\n", 0400);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "crlf");

	put_file(t->path, "no-newline", 0600);
	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "no-newline");
}

static void test_refusals(void **state)
{
	struct tdir *t = *state;
	char tok[FSB_TOKEN_MAX + 1], err[512], want[600], big[FSB_TOKEN_MAX + 10];

	snprintf(t->path, sizeof(t->path), "%s/token", t->root);

	put_file(t->path, "abc\n", 0644);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "token file %s is readable by others (mode 0644); chmod 600 %s",
	         t->path, t->path);
	assert_string_equal(err, want);

	put_file(t->path, "abc\n", 0640);
	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "(mode 0640)"));

	put_file(t->path, "abc\n", 0620);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));

	put_file(t->path, "", 0600);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is empty"));

	put_file(t->path, "\n", 0600);
	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is empty"));

	put_file(t->path, "two\nlines\n", 0600);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "control character"));

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file(t->path, big, 0600);
	assert_int_equal(fsb_token_load(t->path, 0, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than 256 bytes"));

	put_file(t->path, "0123456789\n", 0600);
	assert_int_equal(fsb_token_load(t->path, 0, tok, 5, err, sizeof(err)), -ENOBUFS);

	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_int_equal(fsb_token_load(t->path, 1, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_default_path(void **state)
{
	char buf[4096], small[8];

	assert_int_equal(setenv("FSBRIDGE_TOKEN_FILE", "/x/y/token", 1), 0);
	assert_int_equal(fsb_token_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/y/token");

	assert_int_equal(unsetenv("FSBRIDGE_TOKEN_FILE"), 0);
	assert_int_equal(setenv("HOME", "/home/someone", 1), 0);
	assert_int_equal(fsb_token_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/someone/.config/fsbridge/token");
	assert_int_equal(fsb_token_default_path(small, sizeof(small)), -ENAMETOOLONG);

	assert_int_equal(setenv("FSBRIDGE_TOKEN_FILE", "", 1), 0);
	assert_int_equal(fsb_token_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/someone/.config/fsbridge/token");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_creators_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test(test_default_path),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
