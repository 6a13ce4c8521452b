/*
 * config.c - see config.h. Line by line; a line it cannot read, an
 * unknown section or key, or a bad value is an error naming the file and
 * the line, so a typo never silently falls back to a default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "events.h"
#include "options.h"

#define LINE_MAX_LEN 4096

enum section { S_NONE, S_SERVER, S_MOUNT, S_AUTOMOUNT, S_EXPORT };

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set(char **slot, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

static void mount_release(struct fb_config_mount *m)
{
	free(m->cache);
	free(m->events);
	free(m->options);
	memset(m, 0, sizeof(*m));
}

/* cache=, events=, options=, checked. 1 if the key is not one of them. */
static int mount_key(struct fb_config_mount *m, const char *k, const char *v, const char **why)
{
	enum fb_cache_mode cm;
	enum fb_events_mode em;

	if (!strcmp(k, "cache")) {
		if (fb_cache_mode_parse(v, &cm) < 0) {
			*why = "cache is coherent, strict or none";
			return -EINVAL;
		}
		return set(&m->cache, v);
	}
	if (!strcmp(k, "events")) {
		if (fb_events_mode_parse(v, &em) < 0) {
			*why = "events is replay, invalidate or off";
			return -EINVAL;
		}
		return set(&m->events, v);
	}
	if (!strcmp(k, "options"))
		return set(&m->options, v);
	return 1;
}

static int section(struct fb_config *c, char *name, enum section *cur, const char **why)
{
	struct fb_config_export *e;
	char *n;

	if (!strcmp(name, "server"))
		*cur = S_SERVER;
	else if (!strcmp(name, "mount"))
		*cur = S_MOUNT;
	else if (!strcmp(name, "automount"))
		*cur = S_AUTOMOUNT;
	else if (!strncmp(name, "export", 6) && (name[6] == ' ' || name[6] == '\t')) {
		n = trim(name + 7);
		if (!*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..")) {
			*why = "an export's name is one folder name: [export c]";
			return -EINVAL;
		}
		if (fb_config_export(c, n)) {
			*why = "this export has a section already";
			return -EINVAL;
		}
		e = realloc(c->exports, (c->nexports + 1) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		c->exports = e;
		e = &c->exports[c->nexports];
		memset(e, 0, sizeof(*e));
		e->name = strdup(n);
		if (!e->name)
			return -ENOMEM;
		c->nexports++;
		*cur = S_EXPORT;
	} else {
		*why = "sections are [server], [mount], [automount] and [export NAME]";
		return -EINVAL;
	}
	return 0;
}

static int key(struct fb_config *c, enum section cur, const char *k, const char *v,
               const char **why)
{
	int rc;

	switch (cur) {
	case S_SERVER:
		if (!strcmp(k, "address"))
			return set(&c->server, v);
		if (!strcmp(k, "token_file"))
			return set(&c->token_file, v);
		*why = "[server] takes address and token_file";
		return -EINVAL;
	case S_AUTOMOUNT:
		if (!strcmp(k, "root")) {
			if (v[0] != '/') {
				*why = "root is an absolute path";
				return -EINVAL;
			}
			return set(&c->automount_root, v);
		}
		*why = "[automount] takes root";
		return -EINVAL;
	case S_MOUNT:
	case S_EXPORT:
		rc = mount_key(cur == S_MOUNT ? &c->mount : &c->exports[c->nexports - 1].m, k, v, why);
		if (rc == 1) {
			*why = "mount sections take cache, events and options";
			return -EINVAL;
		}
		return rc;
	default:
		*why = "a key before any [section]";
		return -EINVAL;
	}
}

int fb_config_load_file(struct fb_config *c, const char *path, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN + 2];
	enum section cur = S_NONE;
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		if (rc != -ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = set(&c->path, path);
	while (!rc && fgets(line, sizeof(line), f)) {
		const char *why = "cannot read this line";
		char *s, *eq;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = -EINVAL;
			why = "line too long";
		} else {
			s = trim(line);
			if (!*s || *s == '#' || *s == ';')
				continue;
			if (*s == '[') {
				char *end = strchr(s, ']');

				if (!end || *trim(end + 1)) {
					rc = -EINVAL;
				} else {
					*end = '\0';
					rc = section(c, trim(s + 1), &cur, &why);
				}
			} else if ((eq = strchr(s, '='))) {
				*eq = '\0';
				rc = key(c, cur, trim(s), trim(eq + 1), &why);
			} else {
				rc = -EINVAL;
			}
		}
		if (rc)
			snprintf(err, errlen, "%s:%u: %s", path, lineno, rc == -ENOMEM ? "out of memory" : why);
	}
	fclose(f);
	if (rc)
		fb_config_release(c);
	return rc;
}

int fb_config_load(struct fb_config *c, char *err, size_t errlen)
{
	const char *path = getenv("FSBRIDGE_CONFIG");
	int rc = fb_config_load_file(c, path && *path ? path : FB_CONFIG_PATH, err, errlen);

	return rc == -ENOENT ? 0 : rc;
}

void fb_config_release(struct fb_config *c)
{
	size_t i;

	free(c->path);
	free(c->server);
	free(c->token_file);
	free(c->automount_root);
	mount_release(&c->mount);
	for (i = 0; i < c->nexports; i++) {
		free(c->exports[i].name);
		mount_release(&c->exports[i].m);
	}
	free(c->exports);
	memset(c, 0, sizeof(*c));
}

const struct fb_config_export *fb_config_export(const struct fb_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nexports; i++)
		if (!strcmp(c->exports[i].name, name))
			return &c->exports[i];
	return NULL;
}
