/*
 * json.c - see json.h. A recursive-descent scanner over the input, with
 * a depth limit; values are skipped or unescaped, never built.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

#define MAX_DEPTH 32
#define KEY_MAX 256
#define VALUE_MAX 4096

struct scan {
	const char *p;
	const char *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int put_utf8(char *out, size_t cap, size_t *n, uint32_t c)
{
	char b[4];
	size_t k;

	if (c < 0x80) {
		b[0] = (char)c;
		k = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xC0 | c >> 6);
		b[1] = (char)(0x80 | (c & 0x3F));
		k = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xE0 | c >> 12);
		b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (char)(0x80 | (c & 0x3F));
		k = 3;
	} else {
		b[0] = (char)(0xF0 | c >> 18);
		b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (char)(0x80 | (c & 0x3F));
		k = 4;
	}
	if (out) {
		if (*n + k >= cap)
			return -ENAMETOOLONG;
		memcpy(out + *n, b, k);
	}
	*n += k;
	return 0;
}

/* A string at s->p ('"' first): unescaped into out (NULL: skipped). */
static int string(struct scan *s, char *out, size_t cap)
{
	size_t n = 0;
	int rc;

	if (s->p >= s->end || *s->p != '"')
		return -EINVAL;
	s->p++;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p++;
		uint32_t u, lo;

		if (c == '"') {
			if (out)
				out[n] = '\0';
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			if (out) {
				if (n + 1 >= cap)
					return -ENAMETOOLONG;
				out[n] = (char)c;
			}
			n++;
			continue;
		}
		if (s->p >= s->end)
			return -EINVAL;
		c = (unsigned char)*s->p++;
		switch (c) {
		case '"': case '\\': case '/': u = c; break;
		case 'b': u = '\b'; break;
		case 'f': u = '\f'; break;
		case 'n': u = '\n'; break;
		case 'r': u = '\r'; break;
		case 't': u = '\t'; break;
		case 'u':
			if (s->end - s->p < 4 || hex4(s->p, &u))
				return -EINVAL;
			s->p += 4;
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
				    hex4(s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return -EINVAL;
				s->p += 6;
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			} else if (u >= 0xDC00 && u <= 0xDFFF) {
				return -EINVAL;
			}
			/* A NUL would cut the C string short: refused. */
			if (u == 0)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		rc = put_utf8(out, cap, &n, u);
		if (rc)
			return rc;
	}
	return -EINVAL;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
		return -EINVAL;
	s->p += n;
	return 0;
}

static int number(struct scan *s)
{
	const char *start = s->p;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' || *s->p == 'e' ||
	                         *s->p == 'E' || *s->p == '+' || *s->p == '-'))
		s->p++;
	return s->p > start && (s->p[-1] >= '0' && s->p[-1] <= '9') ? 0 : -EINVAL;
}

static int value(struct scan *s, int depth);

/* The ':' after a member's name. */
static int colon(struct scan *s)
{
	ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -EINVAL;
	s->p++;
	return 0;
}

/* Members of an object or elements of an array, '{' or '[' at s->p. */
static int container(struct scan *s, int depth)
{
	char close = *s->p == '{' ? '}' : ']';
	int first = 1, rc;

	if (depth >= MAX_DEPTH)
		return -EINVAL;
	s->p++;
	for (;;) {
		ws(s);
		if (s->p < s->end && *s->p == close && first) {
			s->p++;
			return 0;
		}
		if (close == '}' && ((rc = string(s, NULL, 0)) || (rc = colon(s))))
			return rc;
		rc = value(s, depth + 1);
		if (rc)
			return rc;
		ws(s);
		if (s->p >= s->end)
			return -EINVAL;
		if (*s->p == close) {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -EINVAL;
		s->p++;
		first = 0;
	}
}

static int value(struct scan *s, int depth)
{
	ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	switch (*s->p) {
	case '{': case '[': return container(s, depth);
	case '"': return string(s, NULL, 0);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default: return number(s);
	}
}

int fb_json_valid(const char *buf, size_t len)
{
	struct scan s = { buf, buf + len };

	if (value(&s, 0))
		return -EINVAL;
	ws(&s);
	return s.p == s.end ? 0 : -EINVAL;
}

/*
 * Position s at the value of member `key` of the object at s->p. 0, or
 * -ENOENT when there is none; -EINVAL when the object is malformed.
 */
static int member(struct scan *s, const char *key)
{
	char k[KEY_MAX];
	int first = 1, rc;

	ws(s);
	if (s->p >= s->end || *s->p != '{')
		return -EINVAL;
	s->p++;
	for (;;) {
		ws(s);
		if (s->p < s->end && *s->p == '}' && first)
			return -ENOENT;
		rc = string(s, k, sizeof(k));
		if (rc == -ENAMETOOLONG) {
			k[0] = '\0';    /* a key that long is not one we look for */
			rc = 0;
		}
		if (rc || (rc = colon(s)))
			return rc;
		ws(s);
		if (!strcmp(k, key))
			return 0;
		rc = value(s, 1);
		if (rc)
			return rc;
		ws(s);
		if (s->p >= s->end)
			return -EINVAL;
		if (*s->p == '}')
			return -ENOENT;
		if (*s->p != ',')
			return -EINVAL;
		s->p++;
		first = 0;
	}
}

static int get_from(struct scan *s, const char *key, char *out, size_t cap)
{
	int rc = member(s, key);

	if (rc)
		return rc;
	if (s->p < s->end && *s->p == 'n')
		return literal(s, "null") ? -EINVAL : -ENOENT;
	if (s->p >= s->end || *s->p != '"')
		return -EINVAL;
	return string(s, out, cap);
}

int fb_json_get(const char *buf, size_t len, const char *key, char *out, size_t cap)
{
	struct scan s = { buf, buf + len };

	if (fb_json_valid(buf, len))
		return -EINVAL;
	return get_from(&s, key, out, cap);
}

/* Position s at the object member `obj` holds; -ENOENT for null. */
static int object_in(struct scan *s, const char *obj)
{
	int rc = member(s, obj);

	if (rc)
		return rc;
	if (s->p < s->end && *s->p == 'n')
		return literal(s, "null") ? -EINVAL : -ENOENT;
	return s->p < s->end && *s->p == '{' ? 0 : -EINVAL;
}

int fb_json_get_in(const char *buf, size_t len, const char *obj, const char *key, char *out,
                   size_t cap)
{
	struct scan s = { buf, buf + len };
	int rc;

	if (fb_json_valid(buf, len))
		return -EINVAL;
	rc = object_in(&s, obj);
	return rc ? rc : get_from(&s, key, out, cap);
}

int fb_json_each_in(const char *buf, size_t len, const char *obj,
                    int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
	struct scan s = { buf, buf + len };
	char k[VALUE_MAX], v[VALUE_MAX];
	int rc;

	if (fb_json_valid(buf, len))
		return -EINVAL;
	rc = object_in(&s, obj);
	if (rc)
		return rc;
	s.p++;
	ws(&s);
	if (s.p < s.end && *s.p == '}')
		return 0;
	for (;;) {
		ws(&s);
		if ((rc = string(&s, k, sizeof(k))))
			return rc == -ENAMETOOLONG ? -EINVAL : rc;
		ws(&s);
		s.p++;          /* ':', checked by fb_json_valid */
		ws(&s);
		if ((rc = string(&s, v, sizeof(v))))
			return rc == -ENAMETOOLONG ? -EINVAL : rc;
		rc = fn(ctx, k, v);
		if (rc)
			return rc;
		ws(&s);
		if (*s.p == '}')
			return 0;
		s.p++;          /* ',' */
	}
}

int fb_json_put_str(char *out, size_t cap, size_t *pos, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = *pos;
	const unsigned char *c;

	if (n + 1 >= cap)
		return -ENOSPC;
	out[n++] = '"';
	for (c = (const unsigned char *)str; *c; c++) {
		char esc[7];
		size_t k = 0;

		if (*c == '"' || *c == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*c;
		} else if (*c < 0x20) {
			esc[k++] = '\\';
			esc[k++] = 'u';
			esc[k++] = '0';
			esc[k++] = '0';
			esc[k++] = hex[*c >> 4];
			esc[k++] = hex[*c & 15];
		} else {
			esc[k++] = (char)*c;
		}
		if (n + k + 1 >= cap)
			return -ENOSPC;
		memcpy(out + n, esc, k);
		n += k;
	}
	if (n + 2 > cap)
		return -ENOSPC;
	out[n++] = '"';
	out[n] = '\0';
	*pos = n;
	return 0;
}
