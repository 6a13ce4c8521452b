/*
 * entries.c - names made, linked, removed and renamed by the POSIX
 * backend, each relative to its directory's descriptor; what is made is
 * made as its caller, and a file about to lose its last name is pinned
 * first. Calls nodes.c, backend.c's conversions and owner.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_int.h"
#include "fsb_proto.h"
#include "ws_posix_owner.h"

int ws__posix_mkdir(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                    uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
                    struct ws_bstat *st)
{
	struct ws_posix_as as;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	ws__posix_as_begin(&as, owner);
	rc = mkdirat(dir->fd, name, (mode_t)(mode & 07777));
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return ws__posix_status(err);
	/* If the new directory is swapped for a link before this lookup,
	 * the node is that link, which is never followed. */
	return ws__posix_lookup(be, dir, name, out, st);
}

int ws__posix_mknod(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                    uint32_t mode, uint32_t rdev, const struct fsb_cred *owner,
                    struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_posix_as as;
	dev_t dev = 0;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	switch (mode & FSB_S_IFMT) {
	case FSB_S_IFREG:
	case FSB_S_IFIFO:
	case FSB_S_IFSOCK:
		break;
	case FSB_S_IFCHR:
	case FSB_S_IFBLK:
		/* The kernel decides (CAP_MKNOD); opening one through the
		 * export is refused anyway. */
		dev = ws__posix_decode_dev(rdev);
		break;
	default:
		return -FSB_EINVAL;
	}
	ws__posix_as_begin(&as, owner);
	rc = mknodat(dir->fd, name, (mode_t)mode, dev);
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return ws__posix_status(err);
	return ws__posix_lookup(be, dir, name, out, st);
}

int ws__posix_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                      const char *target, const struct fsb_cred *owner,
                      struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_posix_as as;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	ws__posix_as_begin(&as, owner);
	rc = symlinkat(target, dir->fd, name);
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return ws__posix_status(err);
	return ws__posix_lookup(be, dir, name, out, st);
}

int ws__posix_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
                   const char *newname, struct ws_bnode **out, struct ws_bstat *st)
{
	char proc[PROC_FD_LEN];
	int fd, rc;

	/* Only directories have a descriptor to resolve names in. */
	if (newdir->fd < 0)
		return -FSB_ENOTDIR;
	fd = ws__posix_node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return ws__posix_status(-fd);
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it). The
	 * /proc magic link, followed, lands on the node's own inode, a link
	 * inode included: linkat never follows a link reached that way. */
	rc = -1;
	errno = ENOENT;
	if (n->type == S_IFLNK)
		rc = linkat(fd, "", newdir->fd, newname, AT_EMPTY_PATH);
	if (rc < 0 && (n->type != S_IFLNK || errno == ENOENT || errno == EPERM)) {
		ws__posix_proc_path(proc, fd);
		rc = linkat(AT_FDCWD, proc, newdir->fd, newname, AT_SYMLINK_FOLLOW);
	}
	rc = rc < 0 ? ws__posix_status(errno) : 0;
	ws__posix_node_fd_put(n, fd);
	if (rc)
		return rc;
	return ws__posix_lookup(be, newdir, newname, out, st);
}

int ws__posix_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	ws__posix_pin_name((struct posix_be *)be, dir->fd, name);
	return unlinkat(dir->fd, name, 0) < 0 ? ws__posix_status(errno) : 0;
}

int ws__posix_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	(void)be;
	return unlinkat(dir->fd, name, AT_REMOVEDIR) < 0 ? ws__posix_status(errno) : 0;
}

int ws__posix_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
                     struct ws_bnode *newdir, const char *newname, uint32_t flags)
{
	unsigned rf = 0;
	int rc;

	/* Only directories have a descriptor to resolve names in. */
	if (olddir->fd < 0 || newdir->fd < 0)
		return -FSB_ENOTDIR;
	/* A rename over a file unlinks it. */
	if (!(flags & FSB_RENAME_EXCHANGE))
		ws__posix_pin_name((struct posix_be *)be, newdir->fd, newname);
	if (flags & FSB_RENAME_NOREPLACE)
		rf |= RENAME_NOREPLACE;
	if (flags & FSB_RENAME_EXCHANGE)
		rf |= RENAME_EXCHANGE;
	/* File systems without NOREPLACE/EXCHANGE answer EINVAL, which is
	 * what the client should hear. */
	rc = rf ? renameat2(olddir->fd, oldname, newdir->fd, newname, rf)
	        : renameat(olddir->fd, oldname, newdir->fd, newname);
	return rc < 0 ? ws__posix_status(errno) : 0;
}
