/*
 * entries.c - names made, linked, removed and renamed by the POSIX
 * backend, each relative to its directory's descriptor; what is made is
 * made as its caller, a file about to lose its last name is pinned first,
 * and what a rename moved is re-anchored where it went. Calls objs.c,
 * nodes.c, backend.c's conversions and owner.c.
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
	int dfd, rc, err;

	dfd = ws__posix_dir_fd((struct posix_be *)be, dir);
	if (dfd < 0)
		return dfd;
	ws__posix_as_begin(&as, owner);
	rc = mkdirat(dfd, name, (mode_t)(mode & 07777));
	err = errno;
	ws__posix_as_end(&as);
	ws__posix_node_fd_put((struct posix_be *)be, dir, dfd);
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
	int dfd, rc, err;

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
	dfd = ws__posix_dir_fd((struct posix_be *)be, dir);
	if (dfd < 0)
		return dfd;
	ws__posix_as_begin(&as, owner);
	rc = mknodat(dfd, name, (mode_t)mode, dev);
	err = errno;
	ws__posix_as_end(&as);
	ws__posix_node_fd_put((struct posix_be *)be, dir, dfd);
	if (rc < 0)
		return ws__posix_status(err);
	return ws__posix_lookup(be, dir, name, out, st);
}

int ws__posix_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                      const char *target, const struct fsb_cred *owner,
                      struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_posix_as as;
	int dfd, rc, err;

	dfd = ws__posix_dir_fd((struct posix_be *)be, dir);
	if (dfd < 0)
		return dfd;
	ws__posix_as_begin(&as, owner);
	rc = symlinkat(target, dfd, name);
	err = errno;
	ws__posix_as_end(&as);
	ws__posix_node_fd_put((struct posix_be *)be, dir, dfd);
	if (rc < 0)
		return ws__posix_status(err);
	return ws__posix_lookup(be, dir, name, out, st);
}

int ws__posix_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
                   const char *newname, struct ws_bnode **out, struct ws_bstat *st)
{
	struct posix_be *pb = (struct posix_be *)be;
	char proc[PROC_FD_LEN];
	int fd, dfd, rc;

	dfd = ws__posix_dir_fd(pb, newdir);
	if (dfd < 0)
		return dfd;
	fd = ws__posix_node_fd(pb, n);
	if (fd < 0) {
		ws__posix_node_fd_put(pb, newdir, dfd);
		return fd;
	}
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it). The
	 * /proc magic link, followed, lands on the node's own inode, a link
	 * inode included: linkat never follows a link reached that way. */
	rc = -1;
	errno = ENOENT;
	if (n->type == S_IFLNK)
		rc = linkat(fd, "", dfd, newname, AT_EMPTY_PATH);
	if (rc < 0 && (n->type != S_IFLNK || errno == ENOENT || errno == EPERM)) {
		ws__posix_proc_path(proc, fd);
		rc = linkat(AT_FDCWD, proc, dfd, newname, AT_SYMLINK_FOLLOW);
	}
	rc = rc < 0 ? ws__posix_status(errno) : 0;
	ws__posix_node_fd_put(pb, n, fd);
	ws__posix_node_fd_put(pb, newdir, dfd);
	if (rc)
		return rc;
	return ws__posix_lookup(be, newdir, newname, out, st);
}

int ws__posix_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	struct posix_be *pb = (struct posix_be *)be;
	int dfd = ws__posix_dir_fd(pb, dir), rc;

	if (dfd < 0)
		return dfd;
	ws__posix_pin_name(pb, dfd, name);
	rc = unlinkat(dfd, name, 0) < 0 ? ws__posix_status(errno) : 0;
	ws__posix_node_fd_put(pb, dir, dfd);
	return rc;
}

int ws__posix_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	struct posix_be *pb = (struct posix_be *)be;
	int dfd = ws__posix_dir_fd(pb, dir), rc;

	if (dfd < 0)
		return dfd;
	rc = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? ws__posix_status(errno) : 0;
	ws__posix_node_fd_put(pb, dir, dfd);
	return rc;
}

static int rename_at(struct posix_be *pb, struct ws_bnode *olddir, int ofd, const char *oldname,
                     struct ws_bnode *newdir, int nfd, const char *newname, uint32_t flags)
{
	unsigned rf = 0;
	int rc;

	/* A rename over a file unlinks it. */
	if (!(flags & FSB_RENAME_EXCHANGE))
		ws__posix_pin_name(pb, nfd, newname);
	if (flags & FSB_RENAME_NOREPLACE)
		rf |= RENAME_NOREPLACE;
	if (flags & FSB_RENAME_EXCHANGE)
		rf |= RENAME_EXCHANGE;
	/* File systems without NOREPLACE/EXCHANGE answer EINVAL, which is
	 * what the client should hear. */
	rc = rf ? renameat2(ofd, oldname, nfd, newname, rf) : renameat(ofd, oldname, nfd, newname);
	if (rc < 0)
		return ws__posix_status(errno);
	/* The nodes keep being found where they are now. */
	ws__posix_obj_reanchor(pb, newdir, nfd, newname);
	if (flags & FSB_RENAME_EXCHANGE)
		ws__posix_obj_reanchor(pb, olddir, ofd, oldname);
	return 0;
}

int ws__posix_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
                     struct ws_bnode *newdir, const char *newname, uint32_t flags)
{
	struct posix_be *pb = (struct posix_be *)be;
	int ofd, nfd, rc;

	ofd = ws__posix_dir_fd(pb, olddir);
	if (ofd < 0)
		return ofd;
	nfd = ws__posix_dir_fd(pb, newdir);
	if (nfd < 0) {
		ws__posix_node_fd_put(pb, olddir, ofd);
		return nfd;
	}
	rc = rename_at(pb, olddir, ofd, oldname, newdir, nfd, newname, flags);
	ws__posix_node_fd_put(pb, newdir, nfd);
	ws__posix_node_fd_put(pb, olddir, ofd);
	return rc;
}
