/*
 * json.h - the little JSON the Docker plugin protocol needs: find string
 * members of an object (one level down too, for "Opts"), and write
 * strings escaped. Input is untrusted: every length is checked, every
 * malformation is an error, nothing is allocated.
 */
#ifndef FB_JSON_H
#define FB_JSON_H

#include <stddef.h>

/* A string member as it appears in the input, still escaped. */
struct fb_json_str {
	const char *p;
	size_t len;
};

/*
 * Check that buf[0, len) is one JSON value with nothing but white space
 * around it. 0, or -EINVAL.
 */
int fb_json_valid(const char *buf, size_t len);

/*
 * In the top-level object of buf, the member `key`:
 *   - as an unescaped string into out (NUL-terminated, at most cap - 1
 *     bytes): 0; -ENOENT when absent or null, -EINVAL when not a string
 *     or malformed, -ENAMETOOLONG when it does not fit.
 * fb_json_get_in looks in the object that member `obj` of the top level
 * holds ("Opts"), with the same results (-ENOENT when obj is absent).
 */
int fb_json_get(const char *buf, size_t len, const char *key, char *out, size_t cap);
int fb_json_get_in(const char *buf, size_t len, const char *obj, const char *key, char *out,
                   size_t cap);

/*
 * Call fn(ctx, key, value) for each member of the object member `obj` of
 * the top level, keys and values unescaped (each at most 4095 bytes).
 * Values that are not strings are an error: -EINVAL. fn returns 0 to go
 * on, anything else to stop with that result. -ENOENT when obj is absent
 * or null (an empty object calls fn never and returns 0).
 */
int fb_json_each_in(const char *buf, size_t len, const char *obj,
                    int (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* Append s as a JSON string (quotes included) to out[*pos, cap); the
 * result stays NUL-terminated. -ENOSPC when it does not fit. */
int fb_json_put_str(char *out, size_t cap, size_t *pos, const char *s);

#endif
