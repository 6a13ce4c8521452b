/*
 * events.h - change events from the server: cache truth and kernel-native
 * replay (DESIGN.md, "Coherence" and "Change events inside Linux").
 *
 * EVENT frames arrive on the connection's loop thread, which only copies
 * the events into a queue (fb_events_on_push). One event thread takes them
 * in order and, per event:
 *   - drops echoes of this client's own requests: the kernel already saw
 *     those operations and raised their inotify events itself;
 *   - in replay mode, performs the change through the mount point, so the
 *     kernel raises the native inotify/fanotify events for every watcher
 *     (containers included) and updates its caches as it would for a local
 *     change. The daemon recognises the replay thread's requests by its
 *     thread id and answers them from the *replay view* - the event record
 *     - without touching the server (replay_view.c);
 *   - otherwise (invalidate mode, or a replay that could not run) tells the
 *     kernel exactly what to forget with fuse_lowlevel_notify_*.
 * Events under directories the kernel has not cached are skipped: no
 * inotify watch can exist there (a watch pins its inode, an inode its
 * dentry, a dentry its parents).
 *
 * The event thread is never a FUSE worker and no worker waits on it, so
 * its round trips through the mount and its notify calls cannot deadlock
 * the session.
 */
#ifndef FB_EVENTS_H
#define FB_EVENTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsb_proto.h"

struct fb_fs;
struct fuse_session;

enum fb_events_mode {
	FB_EVENTS_REPLAY,       /* replay through the mount (default) */
	FB_EVENTS_INVALIDATE,   /* keep the cache exact, raise no events */
	FB_EVENTS_OFF,          /* do not even ask the server for events */
};

int fb_events_mode_parse(const char *s, enum fb_events_mode *out);
const char *fb_events_mode_name(enum fb_events_mode mode);

/* One queued event, owning its path. */
struct fb_rev {
	struct fb_rev *next;
	uint8_t kind;
	uint8_t flags;
	uint32_t cookie;
	uint64_t seq;
	struct fsb_attr attr;
	size_t pathlen;
	char path[];            /* NUL-terminated */
};

/*
 * What the replay thread is doing right now. Set by the replay thread
 * before each system call on the mount and cleared after it; read by the
 * workers answering that call. `kind` 0: no replay is running.
 */
struct fb_replay_view {
	uint8_t kind;           /* FSB_EV_CREATED, _REMOVED, _RENAMED_TO, ... */
	uint8_t flags;          /* the event's FSB_EVF_* */
	struct fsb_attr attr;   /* the state the event recorded (FSB_EVF_ATTR) */
	uint64_t parent;        /* the name created, removed or renamed away */
	char name[FSB_NAME_MAX + 1];
	uint64_t parent2;       /* a rename's new name */
	char name2[FSB_NAME_MAX + 1];
};

/* A node the daemon made up for the replay of something that no longer
 * exists on the server (created and deleted before the replay ran). Its
 * id has FB_GHOST_BIT set; the server never hears of it. */
#define FB_GHOST_BIT (1ull << 63)

static inline int fb_is_ghost(uint64_t id)
{
	return (id & FB_GHOST_BIT) != 0;
}

/*
 * The ghost directory: a name in the mount's root that only the replay
 * thread can look up (it stands for "outside the export"; anyone else's
 * LOOKUP goes to the server, which has no such name, so no listing shows
 * it and no watcher can watch it). A move into the export is replayed as
 * a rename from it, a move out as a rename into it: the kernel raises a
 * lone IN_MOVED_TO or IN_MOVED_FROM where watchers can see it, and its
 * partner where none can. Its node is a ghost.
 */
#define FB_GHOST_DIR_NAME ".fsbridge-replay-outside"

struct fb_ghost {
	struct fb_ghost *next;
	uint64_t id;
	uint64_t nlookup;
	struct fsb_attr attr;
};

/* The file handle of every file the replay thread opens: no server handle
 * stands behind it. */
#define FB_REPLAY_FH UINT64_MAX

struct fb_events {
	enum fb_events_mode mode;

	/* counters, shown by `fsbridge stats` */
	atomic_uint_fast64_t frames;
	atomic_uint_fast64_t received;
	atomic_uint_fast64_t echoes;       /* our own changes: dropped */
	atomic_uint_fast64_t replayed;
	atomic_uint_fast64_t invalidated;  /* cache updated without replay */
	atomic_uint_fast64_t skipped;      /* nothing cached there */
	atomic_uint_fast64_t failed;       /* replay failed: invalidated */
	atomic_uint_fast64_t rescans;
	atomic_uint_fast64_t gaps;         /* sequence gaps seen */
	atomic_uint_fast64_t by_kind[FSB_EV__COUNT];
	uint64_t last_seq;                 /* loop thread only */

	pthread_mutex_t stats_lock;        /* writing the stats file */
	size_t stats_nodes;                /* nodes + names at the last writing
	                                    * (under stats_lock) */
	uint64_t stats_written_ns;         /* CLOCK_MONOTONIC of the last writing
	                                    * after a batch (event thread) */
	int stats_dirty;                   /* a batch was handled since (event
	                                    * thread) */
	atomic_int stats_stale;            /* echoes were handled on the loop
	                                    * thread since the last writing */

	/* the queue, loop thread -> event thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fb_rev *head;
	struct fb_rev *tail;
	size_t queued;
	int overflowed;                    /* queue cap hit: rescan due */
	int rescanning;                    /* the event thread runs a rescan */
	int busy;                          /* the event thread handles a batch */
	uint64_t rescan_for;               /* `losses` when the due rescan was asked */
	int stop;
	int started;
	pthread_t thread;

	/* Connection losses so far, and how many of them the last finished
	 * rescan covered: the names the client knows are sure only when the
	 * two agree (fb_events_settled). */
	atomic_uint_fast64_t losses;
	atomic_uint_fast64_t rescanned_for;
	/* Events queued or being handled that are not echoes of this
	 * client's own requests: only those can tell of names it does not
	 * know yet. */
	atomic_int_fast64_t foreign;

	/* the event thread's world */
	struct fb_fs *fs;
	struct fuse_session *se;
	char *mountpoint;
	char *stats_path;
	int rootfd;
	_Atomic pid_t tid;                 /* the event thread's id */

	/* the replay view and ghosts, shared with the workers */
	pthread_mutex_t view_lock;
	struct fb_replay_view view;
	struct fb_ghost *ghosts;
	uint64_t next_ghost;
};

int fb_events_init(struct fb_events *ev, enum fb_events_mode mode);
/* Start the event thread once the mount is up. 0 or -errno. */
int fb_events_start(struct fb_fs *fs, struct fuse_session *se, const char *mountpoint);
/* Loop thread: copy the pushed events into the queue. Never blocks. */
void fb_events_on_push(struct fb_events *ev, const struct fsb_event_push *push);
/*
 * Ask for a rescan of everything the client has cached, as after lost
 * change events (rescan.c): each cached name is looked up on the server
 * again and each directory whose whole listing the kernel has seen is
 * listed again; what changed is handled as the events that would have
 * told of it - removals, replacements, modifications, attribute changes
 * and creations - replayed to the watchers in replay mode.
 *
 * Any thread (the connection's loop thread included), holding no lock of
 * the event pipeline; never blocks and never waits for the rescan, which
 * runs on the event thread before the next batch of queued events.
 * Requests made before it starts are merged into one. The rescan sends
 * requests and waits for their answers, so call it once the connection
 * serves requests again (after a reconnect: once HELLO succeeded and the
 * node ids the client holds are valid on the new session). Does nothing
 * when events are off or the thread is stopping.
 */
void fb_events_rescan(struct fb_events *ev);
/* The connection was lost: changes may go unreported until the rescan
 * asked after the reconnect has run. Any thread; never blocks. */
void fb_events_lost(struct fb_events *ev);
/*
 * 1 when every change the server has reported is in the client's tables:
 * no event other than an echo of the client's own requests (whose
 * replies told the client already) waits in the queue or is being
 * handled, no rescan is due or running, and the last connection loss has
 * been rescanned since. Only
 * then does the absence of a name in a listed directory mean the server
 * has no such name (fb_dents_absent), up to changes still on their way,
 * which the kernel's cached entries do not wait for either.
 */
int fb_events_settled(struct fb_events *ev);
/* Ask the event thread to stop after its current event. */
void fb_events_stop(struct fb_events *ev);
/* Stop and join the thread. Call after the session is unmounted (so a
 * replay blocked on the mount has failed) and before it is destroyed (the
 * thread notifies the kernel through it). Idempotent. */
void fb_events_join(struct fb_events *ev);
/* Join, then free everything. */
void fb_events_release(struct fb_events *ev);
/* One summary line, at shutdown. */
void fb_events_log_summary(struct fb_events *ev);

/* Rewrite the stats file now (any thread). */
void fb_events_write_stats(struct fb_events *ev);

/* Where the daemon for the file system with device number `dev` keeps its
 * counters; `fsbridge stats MNT` reads it. */
int fb_events_stats_path(char *buf, size_t size, unsigned long long dev);

/* ---- for the FUSE operations (replay_view.c, fuse_ops.c) --------------- */

/* 1 if the request comes from the replay thread. */
int fb_replay_is_mine(struct fb_events *ev, pid_t pid);
/* A copy of the current replay view. */
void fb_replay_view_get(struct fb_events *ev, struct fb_replay_view *out);
/* A new ghost with one lookup reference and these attributes; its entry
 * in *e. 0 or -ENOMEM. */
int fb_ghost_new(struct fb_events *ev, const struct fsb_attr *attr, struct fsb_entry *e);
/* Attributes of a ghost; 0 or -ENOENT. */
int fb_ghost_attr(struct fb_events *ev, uint64_t id, struct fsb_attr *out);
/* One more lookup of an existing ghost; 0 or -ENOENT. */
int fb_ghost_ref(struct fb_events *ev, uint64_t id, struct fsb_entry *e);
/* The kernel forgot n lookups of a ghost. */
void fb_ghost_forget(struct fb_events *ev, uint64_t id, uint64_t n);

#endif
