/*
 * token.c - the per-user token file on Windows.
 *
 * The default file lives in the user's profile (%USERPROFILE%), whose
 * inherited ACL already restricts it to the user, SYSTEM and
 * Administrators, the Windows counterpart of the POSIX build's 0600 rule.
 * A new token is 32 random bytes from the system generator, written to a
 * temporary file and moved into place without replacing, so a client and
 * the server starting together agree on one token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <windows.h>
#include <bcrypt.h>

#include "fsb_proto.h"
#include "ws_win32.h"

#define TOKEN_RANDOM_BYTES 32

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *path)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, path, fsb_strerror(rc));
	return rc;
}

int ws_win32_token_default_path(char *buf, size_t len)
{
	const char *env = getenv("FSBRIDGE_TOKEN_FILE");
	const char *home = getenv("USERPROFILE");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (home && *home)
		n = snprintf(buf, len, "%s\\.config\\fsbridge\\token", home);
	else
		return -FSB_ENOENT;
	return n < 0 || (size_t)n >= len ? -FSB_ENAMETOOLONG : 0;
}

/* mkdir -p for the directory part of the (wide) path. */
static void make_parents(wchar_t *p)
{
	wchar_t *s;

	for (s = p; *s; s++) {
		if ((*s == L'\\' || *s == L'/') && s > p && s[-1] != L':') {
			wchar_t c = *s;

			*s = 0;
			CreateDirectoryW(p, NULL);
			*s = c;
		}
	}
}

static int create_token(const wchar_t *wpath)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[TOKEN_RANDOM_BYTES];
	char text[2 * TOKEN_RANDOM_BYTES + 1];
	wchar_t *tmp, *dup;
	size_t n = wcslen(wpath);
	DWORD wrote;
	HANDLE h;
	int i, rc = 0;

	if (BCryptGenRandom(NULL, raw, sizeof(raw), BCRYPT_USE_SYSTEM_PREFERRED_RNG))
		return -FSB_EIO;
	for (i = 0; i < TOKEN_RANDOM_BYTES; i++) {
		text[2 * i] = hex[raw[i] >> 4];
		text[2 * i + 1] = hex[raw[i] & 15];
	}
	text[2 * TOKEN_RANDOM_BYTES] = '\n';
	SecureZeroMemory(raw, sizeof(raw));
	dup = _wcsdup(wpath);
	tmp = malloc((n + 32) * sizeof(wchar_t));
	if (!dup || !tmp) {
		free(dup);
		free(tmp);
		return -FSB_ENOMEM;
	}
	make_parents(dup);
	free(dup);
	_snwprintf(tmp, n + 32, L"%ls.%lu.tmp", wpath, (unsigned long)GetCurrentProcessId());
	tmp[n + 31] = 0;
	h = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		free(tmp);
		return ws__win32_last_error();
	}
	if (!WriteFile(h, text, sizeof(text), &wrote, NULL) || wrote != sizeof(text) ||
	    !FlushFileBuffers(h))
		rc = ws__win32_last_error();
	CloseHandle(h);
	SecureZeroMemory(text, sizeof(text));
	if (!rc && !MoveFileExW(tmp, wpath, MOVEFILE_WRITE_THROUGH) &&
	    GetLastError() != ERROR_ALREADY_EXISTS)
		rc = ws__win32_last_error();
	DeleteFileW(tmp);
	free(tmp);
	return rc;
}

int ws_win32_token_load(const char *path, int create, char *tok, size_t toklen, char *err,
                        size_t errlen)
{
	char buf[FSB_TOKEN_MAX + 3];
	wchar_t *wpath = ws__win32_wide(path);
	DWORD got = 0;
	size_t n;
	HANDLE h;
	int rc;

	if (!wpath)
		return fail(err, errlen, -FSB_EILSEQ, "token file %s: %s", path);
	h = CreateFileW(wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
	                FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE && create &&
	    (GetLastError() == ERROR_FILE_NOT_FOUND || GetLastError() == ERROR_PATH_NOT_FOUND)) {
		rc = create_token(wpath);
		if (rc) {
			free(wpath);
			return fail(err, errlen, rc, "cannot create token file %s: %s", path);
		}
		h = CreateFileW(wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
		                OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	}
	free(wpath);
	if (h == INVALID_HANDLE_VALUE)
		return fail(err, errlen, ws__win32_last_error(), "cannot open token file %s: %s", path);
	if (!ReadFile(h, buf, sizeof(buf), &got, NULL)) {
		rc = ws__win32_last_error();
		CloseHandle(h);
		return fail(err, errlen, rc, "cannot read token file %s: %s", path);
	}
	CloseHandle(h);
	/* One line of printable text; a final "\n" or "\r\n" is not part of
	 * it (Notepad writes the latter). */
	for (n = 0; n < got; n++) {
		unsigned char c = (unsigned char)buf[n];

		if ((c == '\n' && n + 1 == got) || (c == '\r' && n + 2 == got && buf[n + 1] == '\n'))
			break;
		if (c < 0x20 || c == 0x7f) {
			rc = fail(err, errlen, -FSB_EINVAL, "token file %s: %s (a control character; "
			          "it must be one line of text)", path);
			goto out;
		}
	}
	rc = -FSB_EINVAL;
	if (n == 0 || n > FSB_TOKEN_MAX || n + 1 > toklen) {
		fail(err, errlen, rc, "token file %s: %s (empty, or longer than 256 bytes)", path);
		goto out;
	}
	memcpy(tok, buf, n);
	tok[n] = '\0';
	rc = 0;
out:
	SecureZeroMemory(buf, sizeof(buf));
	return rc;
}
