/*
 * names.c - Linux (UTF-8) <-> Windows (UTF-16) names, drvfs style.
 *
 * The mapping is a bijection on the names each side can hold, so Linux
 * never sees two names for one file and a name survives any number of
 * round trips:
 *   - forbidden characters (0x01-0x1F, \ : * ? " < > |) always become
 *     U+F000 + c, and a trailing dot or space becomes U+F000 + c (Win32
 *     strips those; NTFS keeps them but Explorer cannot open the file);
 *   - a Linux name that already contains one of those private-use
 *     characters where the reverse mapping would turn it into the ASCII
 *     character is refused (FSB_EILSEQ) instead of aliasing another name;
 *   - everything else is plain UTF-8 <-> UTF-16, strictly validated.
 */
#include "ws_win32_port.h"

#define PUA_BASE 0xF000u

/* Characters a Windows name never holds, whatever their position. */
static int forbidden(uint32_t c)
{
	if (c >= 0x01 && c <= 0x1F)
		return 1;
	switch (c) {
	case '\\': case ':': case '*': case '?': case '"': case '<': case '>': case '|':
		return 1;
	}
	return 0;
}

static int trailing_mapped(uint32_t c)
{
	return c == '.' || c == ' ';
}

/* One code point from strict UTF-8 at s[*i]; -1 on any malformation. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char b = s[*i];
	uint32_t c, min;
	size_t n, k;

	if (b < 0x80) {
		(*i)++;
		return b;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		n = 1;
		c = b & 0x1F;
		min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 2;
		c = b & 0x0F;
		min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 3;
		c = b & 0x07;
		min = 0x10000;
	} else {
		return -1;      /* continuation byte, C0/C1 overlong lead, > U+10FFFF lead */
	}
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[*i + k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*i += n + 1;
	return (long)c;
}

int ws_win32_name_to_utf16(const char *name, size_t len, uint16_t *out, size_t cap,
                           size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0, o = 0;
	long c;
	int last;

	while (i < len) {
		c = utf8_next(s, len, &i);
		if (c < 0 || c == 0)
			return -FSB_EILSEQ;
		last = i == len;
		if (c >= (long)PUA_BASE + 1 && c <= (long)PUA_BASE + 0x7F) {
			uint32_t a = (uint32_t)c - PUA_BASE;

			if (forbidden(a) || (last && trailing_mapped(a)))
				return -FSB_EILSEQ;
		}
		if (forbidden((uint32_t)c) || (last && trailing_mapped((uint32_t)c)))
			c += PUA_BASE;
		if (c >= 0x10000) {
			if (o + 2 > cap || o + 2 > WS_WIN32_NAME_MAX)
				return -FSB_ENAMETOOLONG;
			c -= 0x10000;
			out[o++] = (uint16_t)(0xD800 + (c >> 10));
			out[o++] = (uint16_t)(0xDC00 + (c & 0x3FF));
		} else {
			if (o + 1 > cap || o + 1 > WS_WIN32_NAME_MAX)
				return -FSB_ENAMETOOLONG;
			out[o++] = (uint16_t)c;
		}
	}
	if (ws_win32_name_reserved(out, o))
		return -FSB_EINVAL;
	*outlen = o;
	return 0;
}

int ws_win32_name_from_utf16(const uint16_t *name, size_t len, char *out, size_t cap,
                             size_t *outlen)
{
	size_t i, o = 0, n;
	uint32_t c;

	if (cap > FSB_NAME_MAX)
		cap = FSB_NAME_MAX;
	for (i = 0; i < len; i++) {
		c = name[i];
		if (c >= 0xD800 && c <= 0xDBFF) {
			if (i + 1 >= len || name[i + 1] < 0xDC00 || name[i + 1] > 0xDFFF)
				return -FSB_EILSEQ;
			c = 0x10000 + ((c - 0xD800) << 10) + (name[i + 1] - 0xDC00u);
			i++;
		} else if (c >= 0xDC00 && c <= 0xDFFF) {
			return -FSB_EILSEQ;
		} else if (c > PUA_BASE && c <= PUA_BASE + 0x7F) {
			uint32_t a = c - PUA_BASE;

			if (forbidden(a) || (i + 1 == len && trailing_mapped(a)))
				c = a;
		}
		if (c == 0)
			return -FSB_EILSEQ;
		n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
		if (o + n > cap)
			return -FSB_ENAMETOOLONG;
		switch (n) {
		case 1:
			out[o++] = (char)c;
			break;
		case 2:
			out[o++] = (char)(0xC0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3F));
			break;
		case 3:
			out[o++] = (char)(0xE0 | (c >> 12));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
			break;
		default:
			out[o++] = (char)(0xF0 | (c >> 18));
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
			break;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

static uint16_t ascii_upper(uint16_t c)
{
	return c >= 'a' && c <= 'z' ? (uint16_t)(c - 32) : c;
}

static int base_is(const uint16_t *b, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!word[i] || ascii_upper(b[i]) != (uint16_t)word[i])
			return 0;
	return word[n] == '\0';
}

/*
 * Win32 (RtlIsDosDeviceName_U) looks at the part before the first dot,
 * ignoring trailing spaces there: "con", "CON.txt" and "Con .log" all open
 * the console. COM and LPT take a digit 1-9 or a superscript 1-3.
 */
int ws_win32_name_reserved(const uint16_t *name, size_t len)
{
	static const char *const plain[] = { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };
	size_t n = 0, i;
	uint16_t d;

	while (n < len && name[n] != '.')
		n++;
	while (n > 0 && name[n - 1] == ' ')
		n--;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (base_is(name, n, plain[i]))
			return 1;
	if (n == 4 && (base_is(name, 3, "COM") || base_is(name, 3, "LPT"))) {
		d = name[3];
		if ((d >= '1' && d <= '9') || d == 0xB9 || d == 0xB2 || d == 0xB3)
			return 1;
	}
	return 0;
}

int ws_win32_name_check_case(const uint16_t *want, size_t wantlen, const uint16_t *held,
                             size_t heldlen)
{
	size_t i;

	if (wantlen != heldlen)
		return -FSB_ENOENT;
	for (i = 0; i < wantlen; i++)
		if (want[i] != held[i])
			return -FSB_ENOENT;
	return 0;
}
