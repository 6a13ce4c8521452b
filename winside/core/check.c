/*
 * check.c - the confinement checks every request passes before a backend
 * sees it, and the token comparison.
 */
#include <stdio.h>
#include <string.h>

#include "ws_check.h"

int ws__name_check(struct fsb_str name, char *out, char *why, size_t whylen)
{
	uint32_t i;

	/* The decoder already refuses NUL bytes and overlong names; checking
	 * again keeps this function safe on its own. */
	if (name.len == 0) {
		snprintf(why, whylen, "empty name");
		return -FSB_EINVAL;
	}
	if (name.len > FSB_NAME_MAX) {
		snprintf(why, whylen, "name is %u bytes long, the limit is %u", name.len,
		         FSB_NAME_MAX);
		return -FSB_ENAMETOOLONG;
	}
	if ((name.len == 1 && name.ptr[0] == '.') ||
	    (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.')) {
		snprintf(why, whylen, "\"%.*s\" is not a name a client may use", (int)name.len,
		         name.ptr);
		return -FSB_EINVAL;
	}
	for (i = 0; i < name.len; i++) {
		if (name.ptr[i] == '/') {
			snprintf(why, whylen, "a name is one path component and cannot contain '/'");
			return -FSB_EINVAL;
		}
		if (name.ptr[i] == '\0') {
			snprintf(why, whylen, "name contains a NUL byte");
			return -FSB_EINVAL;
		}
	}
	memcpy(out, name.ptr, name.len);
	out[name.len] = '\0';
	return 0;
}

int ws__token_equal(const char *want, size_t wantlen, const char *got, size_t gotlen)
{
	/* volatile keeps the compiler from turning the loop into an early-exit
	 * memcmp. The time depends only on the length the client sent. */
	volatile unsigned char diff = 0;
	size_t i;

	diff |= (unsigned char)(wantlen != gotlen);
	diff |= (unsigned char)(wantlen == 0);
	for (i = 0; i < gotlen; i++)
		diff |= (unsigned char)(got[i] ^ (wantlen ? want[i % wantlen] : 0));
	return diff == 0;
}

void ws__printable(struct fsb_str s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	uint32_t i;

	if (!len)
		return;
	for (i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.ptr[i];
		int esc = ch < 0x20 || ch == 0x7f || ch == '\\';

		/* Keep room for this character, "..." and the NUL. */
		if (o + (esc ? 4 : 1) + 4 > len) {
			if (o + 4 <= len) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (esc) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}
