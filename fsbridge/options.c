/*
 * options.c - see options.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "options.h"

int fb_cache_mode_parse(const char *s, enum fb_cache_mode *out)
{
	if (!strcmp(s, "coherent"))
		*out = FB_CACHE_COHERENT;
	else if (!strcmp(s, "strict"))
		*out = FB_CACHE_STRICT;
	else if (!strcmp(s, "none"))
		*out = FB_CACHE_NONE;
	else
		return -EINVAL;
	return 0;
}

const char *fb_cache_mode_name(enum fb_cache_mode mode)
{
	switch (mode) {
	case FB_CACHE_COHERENT: return "coherent";
	case FB_CACHE_STRICT: return "strict";
	case FB_CACHE_NONE: return "none";
	}
	return "?";
}

void fb_cache_policy_init(struct fb_cache_policy *p, enum fb_cache_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	switch (mode) {
	case FB_CACHE_COHERENT:
		/* Safe only because change events invalidate what changed. */
		p->entry_timeout = 86400.0;
		p->attr_timeout = 86400.0;
		p->negative_timeout = 86400.0;
		p->keep_cache = 1;
		p->cache_dir = 1;
		p->writeback = 1;
		p->cache_symlinks = 1;
		break;
	case FB_CACHE_STRICT:
		/* No writeback cache here: with it the kernel ignores the
		 * server's file sizes, so a file grown on the Windows side would
		 * keep its old size until evicted, which strict mode exists to
		 * avoid. */
		p->entry_timeout = 1.0;
		p->attr_timeout = 1.0;
		p->negative_timeout = 0.0;
		break;
	case FB_CACHE_NONE:
		p->direct_io = 1;
		break;
	}
}

void fb_mount_opts_init(struct fb_mount_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cache = FB_CACHE_COHERENT;
	o->events = FB_EVENTS_REPLAY;
	o->reconnect = FB_RECONNECT_HARD;
	o->timeo = 30;
}

static int parse_reconnect(struct fb_mount_opts *o, const char *v, size_t len, char *err,
                           size_t errlen)
{
	if (len == 4 && !memcmp(v, "hard", 4))
		o->reconnect = FB_RECONNECT_HARD;
	else if (len == 4 && !memcmp(v, "soft", 4))
		o->reconnect = FB_RECONNECT_SOFT;
	else if (len == 3 && !memcmp(v, "off", 3))
		o->reconnect = FB_RECONNECT_OFF;
	else {
		snprintf(err, errlen, "unknown reconnect mode '%.*s' (use hard, soft or off)",
		         (int)(len < 32 ? len : 32), v);
		return -EINVAL;
	}
	return 0;
}

static int parse_timeo(struct fb_mount_opts *o, const char *v, size_t len, char *err,
                       size_t errlen)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9' && n <= 86400; i++)
		n = n * 10 + (unsigned long)(v[i] - '0');
	if (len == 0 || i != len || n == 0 || n > 86400) {
		snprintf(err, errlen, "timeo=%.*s: give whole seconds from 1 to 86400",
		         (int)(len < 32 ? len : 32), v);
		return -EINVAL;
	}
	o->timeo = (unsigned)n;
	return 0;
}

void fb_mount_opts_release(struct fb_mount_opts *o)
{
	free(o->export_path);
	free(o->mountpoint);
	free(o->server);
	free(o->token_file);
	free(o->fuse_opts);
	fb_mount_opts_init(o);
}

int fb_events_mode_check(const char *s, enum fb_events_mode *out, char *err, size_t errlen)
{
	if (fb_events_mode_parse(s, out) == 0)
		return 0;
	snprintf(err, errlen, "unknown events mode '%s' (use replay, invalidate or off)", s);
	return -EINVAL;
}

int fb_strset(char **slot, const char *s)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

static int append_fuse_opt(struct fb_mount_opts *o, const char *opt, size_t len)
{
	size_t old = o->fuse_opts ? strlen(o->fuse_opts) : 0;
	char *n = realloc(o->fuse_opts, old + len + 2);

	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	memcpy(n + old, opt, len);
	n[old + len] = '\0';
	o->fuse_opts = n;
	return 0;
}

/* Options that only mean something to mount(8), fstab or mount.fuse: the
 * kernel and libfuse would reject them. */
static int is_mount_only(const char *opt, size_t len)
{
	static const char *const words[] = {
		"defaults", "auto", "noauto", "_netdev", "nofail", "user", "users",
		"nouser", "owner", "group", "rw", "loop", "nobootwait",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == len && !memcmp(opt, words[i], len))
			return 1;
	if (len >= 2 && !memcmp(opt, "x-", 2))
		return 1;
	if (len >= 8 && !memcmp(opt, "comment=", 8))
		return 1;
	return 0;
}

static int key_is(const char *opt, size_t len, const char *key, const char **val)
{
	size_t k = strlen(key);

	if (len > k && !memcmp(opt, key, k) && opt[k] == '=') {
		*val = opt + k + 1;
		return 1;
	}
	return 0;
}

static int parse_one(struct fb_mount_opts *o, const char *opt, size_t len, char *err,
                     size_t errlen)
{
	char val[4096];
	const char *v;

	if (len == 0 || is_mount_only(opt, len))
		return 0;
	if (key_is(opt, len, "server", &v) || key_is(opt, len, "token_file", &v) ||
	    key_is(opt, len, "token-file", &v) || key_is(opt, len, "cache", &v) ||
	    key_is(opt, len, "events", &v)) {
		size_t vlen = len - (size_t)(v - opt);

		if (vlen >= sizeof(val)) {
			snprintf(err, errlen, "option '%.*s...' is too long", 20, opt);
			return -EINVAL;
		}
		memcpy(val, v, vlen);
		val[vlen] = '\0';
		if (opt[0] == 's')
			return fb_strset(&o->server, val);
		if (opt[0] == 't')
			return fb_strset(&o->token_file, val);
		if (opt[0] == 'e') {
			o->events_set = 1;
			return fb_events_mode_check(val, &o->events, err, errlen);
		}
		o->cache_set = 1;
		if (fb_cache_mode_parse(val, &o->cache) < 0) {
			snprintf(err, errlen,
			         "unknown cache mode '%s' (use coherent, strict or none)", val);
			return -EINVAL;
		}
		return 0;
	}
	if (key_is(opt, len, "reconnect", &v))
		return parse_reconnect(o, v, len - (size_t)(v - opt), err, errlen);
	if (key_is(opt, len, "timeo", &v))
		return parse_timeo(o, v, len - (size_t)(v - opt), err, errlen);
	if (len == 11 && !memcmp(opt, "allow_other", 11)) {
		o->allow_other = 1;
		return 0;
	}
	if (len == 13 && !memcmp(opt, "noallow_other", 13)) {
		o->allow_other = -1;
		return 0;
	}
	if (len == 5 && !memcmp(opt, "local", 5)) {
		o->local = 1;
		return 0;
	}
	if (len == 10 && !memcmp(opt, "foreground", 10)) {
		o->foreground = 1;
		return 0;
	}
	if (len == 5 && !memcmp(opt, "debug", 5)) {
		o->debug = 1;
		o->foreground = 1;
		return 0;
	}
	return append_fuse_opt(o, opt, len);
}

int fb_mount_opts_parse_o(struct fb_mount_opts *o, const char *list, char *err,
                          size_t errlen)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int rc = parse_one(o, p, len, err, errlen);

		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		if (rc < 0)
			return rc;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int fb_mount_opts_apply_config(struct fb_mount_opts *o, const struct fb_config *c,
                               const struct fb_config_mount *m, char *err, size_t errlen)
{
	char *given;
	int rc = 0, allow;

	if (!o->server && !getenv("FSBRIDGE_SERVER") && c->server && !o->local &&
	    fb_strset(&o->server, c->server) < 0)
		return -ENOMEM;
	if (!o->token_file && c->token_file && fb_strset(&o->token_file, c->token_file) < 0)
		return -ENOMEM;
	if (!m)
		return 0;
	if (!o->cache_set && m->cache && fb_cache_mode_parse(m->cache, &o->cache) < 0) {
		snprintf(err, errlen, "%s: unknown cache mode '%s'", c->path, m->cache);
		return -EINVAL;
	}
	if (!o->events_set && m->events &&
	    fb_events_mode_check(m->events, &o->events, err, errlen) < 0)
		return -EINVAL;
	if (!m->options)
		return 0;
	/* The file's options first: the command line's come after and win. */
	given = o->fuse_opts;
	o->fuse_opts = NULL;
	allow = o->allow_other;
	rc = fb_mount_opts_parse_o(o, m->options, err, errlen);
	if (allow)
		o->allow_other = allow;
	if (!rc && given)
		rc = append_fuse_opt(o, given, strlen(given));
	free(given);
	return rc;
}
