/*
 * token.c - the per-user secret a client presents in HELLO.
 *
 * The token file is the whole of the access control on a TCP or vsock
 * listener, so a file others can read is refused rather than used.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "net_internal.h"

#define TOKEN_RANDOM_BYTES 32


int fsb_token_default_path(char *buf, size_t len)
{
	const char *env = getenv("FSBRIDGE_TOKEN_FILE");
	const char *home;
	struct passwd *pw;
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		home = getenv("HOME");
		if (!home || !*home) {
			pw = getpwuid(getuid());
			if (!pw || !pw->pw_dir || !*pw->pw_dir)
				return -ENOENT;
			home = pw->pw_dir;
		}
		n = snprintf(buf, len, "%s/.config/fsbridge/token", home);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p for the directory part of `path`; each directory we create is
 * 0700 because it exists only to hold a secret. */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	size_t n;
	char *p, c;

	n = strlen(path);
	if (n >= sizeof(dir))
		return fsb__net_fail(-ENAMETOOLONG, err, errlen, "token file path %s is too long", path);
	memcpy(dir, path, n + 1);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return fsb__net_fail(-errno, err, errlen, "cannot create directory %s for token file %s: %s",
			            dir, path, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int random_fill(uint8_t *b, size_t n)
{
	ssize_t r;

	while (n) {
		r = getrandom(b, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_fd_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write the token to a private temporary file first and link() it into
 * place: a reader racing with us (server and client starting together)
 * then sees either no file or a complete one, never an empty one, and two
 * creators agree on whichever token got linked first.
 */
static int create_token(const char *path, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[TOKEN_RANDOM_BYTES];
	char text[2 * TOKEN_RANDOM_BYTES + 1];
	char tmp[4200];
	int fd, rc, i;

	rc = make_parents(path, err, errlen);
	if (rc)
		return rc;
	rc = random_fill(raw, sizeof(raw));
	if (rc)
		return fsb__net_fail(rc, err, errlen, "cannot create token file %s: getrandom: %s", path, strerror(-rc));
	for (i = 0; i < TOKEN_RANDOM_BYTES; i++) {
		text[2 * i] = hex[raw[i] >> 4];
		text[2 * i + 1] = hex[raw[i] & 15];
	}
	text[2 * TOKEN_RANDOM_BYTES] = '\n';

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return fsb__net_fail(-ENAMETOOLONG, err, errlen, "token file path %s is too long", path);
	/* mkostemp creates with O_EXCL and mode 0600. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "cannot create token file %s: %s", tmp, strerror(errno));
	rc = write_fd_all(fd, text, sizeof(text));
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return fsb__net_fail(rc, err, errlen, "cannot write token file %s: %s", tmp, strerror(-rc));
	}
	if (link(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		if (rc == -EEXIST)
			return 0;
		if (rc != -EPERM && rc != -ENOTSUP && rc != -EOPNOTSUPP)
			return fsb__net_fail(rc, err, errlen, "cannot create token file %s: %s", path, strerror(-rc));
		/* No hard links on this filesystem: create in place. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				return 0;
			return fsb__net_fail(-errno, err, errlen, "cannot create token file %s: %s", path, strerror(errno));
		}
		rc = write_fd_all(fd, text, sizeof(text));
		if (close(fd) < 0 && !rc)
			rc = -errno;
		if (rc) {
			unlink(path);
			return fsb__net_fail(rc, err, errlen, "cannot write token file %s: %s", path, strerror(-rc));
		}
		return 0;
	}
	unlink(tmp);
	return 0;
}

int fsb_token_load(const char *path, int create, char *tok, size_t toklen,
                   char *err, size_t errlen)
{
	char buf[FSB_TOKEN_MAX + 3];
	struct stat st;
	size_t n = 0, i;
	ssize_t r;
	int fd, rc;

	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT && create) {
		rc = create_token(path, err, errlen);
		if (rc)
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return fsb__net_fail(-ENOENT, err, errlen, "token file %s does not exist", path);
		return fsb__net_fail(-errno, err, errlen, "cannot open token file %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		rc = fsb__net_fail(-errno, err, errlen, "cannot stat token file %s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fsb__net_fail(-EINVAL, err, errlen, "token file %s is not a regular file", path);
		goto out_close;
	}
	if (st.st_mode & 0077) {
		rc = fsb__net_fail(-EPERM, err, errlen, "token file %s is %s by others (mode %04o); chmod 600 %s",
		          path, (st.st_mode & 0044) ? "readable" : "accessible",
		          (unsigned)(st.st_mode & 07777), path);
		goto out_close;
	}
	while (n < sizeof(buf)) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = fsb__net_fail(-errno, err, errlen, "cannot read token file %s: %s", path, strerror(errno));
			goto out_close;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		rc = fsb__net_fail(-EINVAL, err, errlen, "token file %s is empty", path);
		goto out_close;
	}
	if (n > FSB_TOKEN_MAX) {
		rc = fsb__net_fail(-EINVAL, err, errlen, "token in %s is longer than %u bytes", path, FSB_TOKEN_MAX);
		goto out_close;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			rc = fsb__net_fail(-EINVAL, err, errlen,
			          "token in %s contains a control character at byte %zu; it must be one line of text",
			          path, i);
			goto out_close;
		}
	}
	if (n + 1 > toklen) {
		rc = fsb__net_fail(-ENOBUFS, err, errlen, "token in %s (%zu bytes) does not fit the caller's %zu-byte buffer",
		          path, n, toklen);
		goto out_close;
	}
	memcpy(tok, buf, n);
	tok[n] = '\0';
	rc = 0;

out_close:
	close(fd);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}
