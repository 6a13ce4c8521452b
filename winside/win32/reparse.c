/*
 * reparse.c - READLINK of the Win32 backend: the target of a link read
 * from its reparse point (NTFS symbolic links, junctions, WSL's own
 * links) and spelled as Linux would (drvfs's /mnt/<drive>/ for absolute
 * Windows targets). The reparse data is the file system's word and is
 * checked before it is read. Calls backend.c's UTF-8 conversion and
 * error mapping.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_int.h"

#include <winioctl.h>

/* REPARSE_DATA_BUFFER lives in the DDK headers; only what we read. */
struct reparse_buf {
	ULONG tag;
	USHORT data_len;
	USHORT reserved;
	union {
		struct {
			USHORT sub_off, sub_len, print_off, print_len;
			ULONG flags;
			WCHAR path[1];
		} symlink;
		struct {
			USHORT sub_off, sub_len, print_off, print_len;
			WCHAR path[1];
		} mount;
		struct {
			ULONG version;
			char target[1];
		} lx;
	} u;
};

/* A Windows target as a Linux one: relative ones get '/', absolute ones
 * the drvfs spelling /mnt/<drive>/... */
static int target_to_linux(const WCHAR *t, size_t n, char *buf, size_t size, size_t *len)
{
	char *tmp;
	size_t o = 0, i;
	int k;

	if (n >= 4 && t[0] == L'\\' && t[1] == L'?' && t[2] == L'?' && t[3] == L'\\') {
		t += 4;
		n -= 4;
	}
	tmp = malloc(n * 4 + 16);
	if (!tmp)
		return -FSB_ENOMEM;
	if (n >= 2 && t[1] == L':' && ((t[0] | 0x20) >= L'a' && (t[0] | 0x20) <= L'z')) {
		o = (size_t)snprintf(tmp, 16, "/mnt/%c", (char)(t[0] | 0x20));
		t += 2;
		n -= 2;
	}
	k = ws__win32_utf8(t, (int)n, tmp + o, n * 4 + 16 - o);
	if (k < 0) {
		free(tmp);
		return -FSB_EILSEQ;
	}
	o += (size_t)k;
	for (i = 0; i < o; i++)
		if (tmp[i] == '\\')
			tmp[i] = '/';
	if (o > size)
		o = size;
	memcpy(buf, tmp, o);
	*len = o;
	free(tmp);
	return 0;
}

/* The reparse data is the file system's word: check that the substitute
 * name lies inside what the call returned before reading it. */
static int path_in(const struct reparse_buf *rb, DWORD got, const uint8_t *path, USHORT off,
                   USHORT len)
{
	size_t start = (size_t)(path - (const uint8_t *)rb) + off;

	return (off | len) % 2 || start + len > got ? -FSB_EIO : 0;
}

int ws__win32_readlink(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
                       size_t *len)
{
	struct reparse_buf *rb;
	DWORD got;
	int rc;

	(void)be;
	if (n->type != FSB_S_IFLNK)
		return -FSB_EINVAL;
	rb = malloc(MAXIMUM_REPARSE_DATA_BUFFER_SIZE);
	if (!rb)
		return -FSB_ENOMEM;
	if (!DeviceIoControl(n->h, FSCTL_GET_REPARSE_POINT, NULL, 0, rb,
	                     MAXIMUM_REPARSE_DATA_BUFFER_SIZE, &got, NULL)) {
		rc = ws__win32_last_error();
		goto out;
	}
	switch (rb->tag) {
	case TAG_SYMLINK:
		rc = path_in(rb, got, (const uint8_t *)rb->u.symlink.path, rb->u.symlink.sub_off,
		             rb->u.symlink.sub_len);
		if (!rc)
			rc = target_to_linux(rb->u.symlink.path + rb->u.symlink.sub_off / 2,
			                     rb->u.symlink.sub_len / 2, buf, size, len);
		break;
	case TAG_MOUNT_POINT:
		rc = path_in(rb, got, (const uint8_t *)rb->u.mount.path, rb->u.mount.sub_off,
		             rb->u.mount.sub_len);
		if (!rc)
			rc = target_to_linux(rb->u.mount.path + rb->u.mount.sub_off / 2,
			                     rb->u.mount.sub_len / 2, buf, size, len);
		break;
	case TAG_LX_SYMLINK:
		/* WSL's own links hold the Linux target as UTF-8. */
		if (rb->data_len < 4 || offsetof(struct reparse_buf, u.lx.target) + rb->data_len - 4 > got) {
			rc = -FSB_EIO;
			break;
		}
		*len = rb->data_len - 4u < size ? rb->data_len - 4u : size;
		memcpy(buf, rb->u.lx.target, *len);
		rc = 0;
		break;
	default:
		rc = -FSB_EINVAL;
		break;
	}
out:
	free(rb);
	return rc;
}
