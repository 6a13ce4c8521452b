/*
 * automount.h - `fsbridge automount`: every folder a server exports,
 * mounted at ROOT/NAME and kept mounted, as WSL mounts every drive under
 * /mnt.
 */
#ifndef FB_AUTOMOUNT_H
#define FB_AUTOMOUNT_H

struct fb_config;

struct fb_automount_opts {
	const char *server;             /* required */
	const char *token_file;         /* NULL: the default token path */
	const char *root;               /* mounts go to ROOT/NAME */
	unsigned interval_ms;           /* how often the list is asked for */
	const struct fb_config *config; /* [export NAME] sections; may be NULL */
};

/* Run until SIGINT or SIGTERM, then unmount everything it mounted.
 * Returns the exit status. */
int fb_automount_run(const struct fb_automount_opts *o);

#endif
