/*
 * test_json.c - the JSON reader and writer of the Docker volume plugin
 * (fsbridge/json.c): what Docker sends, escapes and surrogates, and
 * hostile or malformed input, which must be refused without crashing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

static int get(const char *doc, const char *key, char *out, size_t cap)
{
	return fb_json_get(doc, strlen(doc), key, out, cap);
}

static void t_docker_requests(void **state)
{
	const char *create = "{\"Name\":\"src\",\"Opts\":{\"export\":\"C:\\\\src\",\"server\":"
	                     "\"vsock:2:5000\"}}";
	const char *mount = "{\"Name\":\"src\",\"ID\":\"3f2a\"}\n";
	char v[64];

	(void)state;
	assert_int_equal(get(create, "Name", v, sizeof(v)), 0);
	assert_string_equal(v, "src");
	assert_int_equal(fb_json_get_in(create, strlen(create), "Opts", "export", v, sizeof(v)), 0);
	assert_string_equal(v, "C:\\src");
	assert_int_equal(get(mount, "ID", v, sizeof(v)), 0);
	assert_string_equal(v, "3f2a");
	assert_int_equal(get(mount, "Opts", v, sizeof(v)), -ENOENT);
	assert_int_equal(fb_json_get_in(mount, strlen(mount), "Opts", "export", v, sizeof(v)),
	                 -ENOENT);
	assert_int_equal(get("{\"Name\":null}", "Name", v, sizeof(v)), -ENOENT);
	assert_int_equal(get("{\"Name\":7}", "Name", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"Name\":\"0123456789\"}", "Name", v, 5), -ENAMETOOLONG);
}

struct seen {
	char keys[8][32];
	char vals[8][32];
	int n;
};

static int collect(void *ctx, const char *key, const char *value)
{
	struct seen *s = ctx;

	if (s->n == 8)
		return 1;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	snprintf(s->vals[s->n], sizeof(s->vals[0]), "%s", value);
	s->n++;
	return 0;
}

static void t_each(void **state)
{
	const char *d = " { \"Opts\" : { \"a\" : \"1\" , \"b\\u00e9\" : \"x\\ny\" } , \"Name\":\"n\" } ";
	struct seen s = { .n = 0 };

	(void)state;
	assert_int_equal(fb_json_each_in(d, strlen(d), "Opts", collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "a");
	assert_string_equal(s.vals[0], "1");
	assert_string_equal(s.keys[1], "b\xc3\xa9");
	assert_string_equal(s.vals[1], "x\ny");
	s.n = 0;
	assert_int_equal(fb_json_each_in("{\"Opts\":{}}", 11, "Opts", collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(fb_json_each_in("{\"Opts\":null}", 13, "Opts", collect, &s), -ENOENT);
	assert_int_equal(fb_json_each_in("{\"Opts\":{\"a\":1}}", 16, "Opts", collect, &s), -EINVAL);
	assert_int_equal(fb_json_each_in("{\"Opts\":[]}", 11, "Opts", collect, &s), -EINVAL);
}

static void t_escapes(void **state)
{
	char v[32];

	(void)state;
	assert_int_equal(get("{\"k\":\"\\ud83d\\ude00\"}", "k", v, sizeof(v)), 0);
	assert_string_equal(v, "\xf0\x9f\x98\x80");
	assert_int_equal(get("{\"k\":\"\\/\\\"\\\\\\t\"}", "k", v, sizeof(v)), 0);
	assert_string_equal(v, "/\"\\\t");
	/* A lone surrogate, a NUL, a raw control character, a bad escape. */
	assert_int_equal(get("{\"k\":\"\\ud83d\"}", "k", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"k\":\"\\ude00x\"}", "k", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"k\":\"a\\u0000b\"}", "k", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"k\":\"a\nb\"}", "k", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"k\":\"\\q\"}", "k", v, sizeof(v)), -EINVAL);
	assert_int_equal(get("{\"k\":\"\\u12\"}", "k", v, sizeof(v)), -EINVAL);
}

static void t_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "[1,]", "{\"a\":1}x",
		"{\"a\":tru}", "{\"a\":-}", "{\"a\":\"x}", "{'a':1}", "{\"a\" 1}", "nul",
	};
	char deep[200];
	char v[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fb_json_valid(bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(get(bad[i], "a", v, sizeof(v)), -EINVAL);
	}
	{
		const char *ok = "{\"a\":[1,-2.5e3,true,false,null,{\"b\":[]}],\"c\":{}}";

		assert_int_equal(fb_json_valid(ok, strlen(ok)), 0);
	}
	/* Nesting past the limit is refused, not recursed into. */
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(fb_json_valid(deep, 200), -EINVAL);
	/* A length that stops inside the document. */
	assert_int_equal(fb_json_valid("{\"a\":\"b\"}", 5), -EINVAL);
}

static void t_put_str(void **state)
{
	char out[32];
	size_t pos = 0;

	(void)state;
	assert_int_equal(fb_json_put_str(out, sizeof(out), &pos, "a\"b\\c\n"), 0);
	assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\"");
	assert_int_equal(pos, strlen(out));
	pos = 0;
	assert_int_equal(fb_json_put_str(out, 6, &pos, "abcdef"), -ENOSPC);
	assert_int_equal(pos, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_docker_requests),
		cmocka_unit_test(t_each),
		cmocka_unit_test(t_escapes),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_put_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
