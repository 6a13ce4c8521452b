/*
 * fsb_proto.h - the fsbridge wire protocol, shared by winside and fsbridge.
 *
 * This header is the C face of protocol/PROTOCOL.md, which is normative.
 * Everything here is portable C11: it builds with gcc on Linux and with
 * mingw-w64 for Windows, and does no I/O.
 *
 * Changelog
 *   1  initial version: framing, HELLO, node-based ops, EVENT push frames.
 *      FALLOCATE (25), negotiated by FSB_CAP_FALLOCATE.
 *      Caller credentials: the FSB_F_CRED frame flag on requests that create
 *      or change ownership or remove names, negotiated by FSB_CAP_CREDS.
 *      EXPORTS (26), the server's exports by name, negotiated by
 *      FSB_CAP_EXPORTS.
 *      RESUME (27), re-attaching a client's node ids and handles to a new
 *      session after a server restart, negotiated by FSB_CAP_RESUME.
 *      Event flags FSB_EVF_OUTSIDE (a CREATED or REMOVED that was a move
 *      across the export's edge) and FSB_EVF_CLOSE_WRITE (an ATTRIB made
 *      through a file open for writing), negotiated by
 *      FSB_CAP_EVENT_EDGES.
 *      READDIRPLUS by node, without an OPEN (fh 0), negotiated by
 *      FSB_CAP_DIRLIST.
 *      Frames without a checksum (csum 0) after HELLO on transports that
 *      guarantee integrity (Unix sockets, vsock, hvsocket), negotiated by
 *      FSB_CAP_NO_CSUM.
 */
#ifndef FSB_PROTO_H
#define FSB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define FSB_PROTO_VERSION 1u

/* "FSB1" read as a little-endian u32; the second word of every frame. */
#define FSB_MAGIC 0x31425346u

/*
 * Frame layout (all integers little-endian):
 *   0  u32 len      whole frame, header included: FSB_HDR_SIZE..FSB_MAX_FRAME
 *   4  u32 magic    FSB_MAGIC
 *   8  u64 csum     XXH3-64 (seed 0) of bytes [16, len)
 *  16  u16 op       enum fsb_op
 *  18  u16 flags    enum fsb_frame_flag
 *  20  u32 status   enum fsb_status; 0 in requests and pushes
 *  24  u64 id       request id, echoed in the reply; 0 in pushes
 *  32  payload
 * The checksum covers everything after itself, so a lying len is caught
 * either by the size bounds or by the checksum.
 */
#define FSB_HDR_SIZE 32u
#define FSB_MAX_FRAME (4u << 20)
#define FSB_MAX_IO (1u << 20)       /* READ size / WRITE payload cap */
#define FSB_NAME_MAX 255u           /* one path component, bytes */
#define FSB_PATH_MAX 4096u          /* symlink targets, event paths, export */
#define FSB_TOKEN_MAX 256u
#define FSB_ERRMSG_MAX 1024u        /* optional detail in error replies */

enum fsb_op {
	FSB_OP_HELLO = 1,
	FSB_OP_LOOKUP = 2,
	FSB_OP_FORGET = 3,      /* batched; never answered */
	FSB_OP_GETATTR = 4,
	FSB_OP_SETATTR = 5,
	FSB_OP_READDIRPLUS = 6,
	FSB_OP_OPEN = 7,        /* files and directories */
	FSB_OP_CREATE = 8,
	FSB_OP_READ = 9,
	FSB_OP_WRITE = 10,
	FSB_OP_FLUSH = 11,
	FSB_OP_FSYNC = 12,
	FSB_OP_RELEASE = 13,    /* files and directories */
	FSB_OP_MKDIR = 14,
	FSB_OP_MKNOD = 15,
	FSB_OP_UNLINK = 16,
	FSB_OP_RMDIR = 17,
	FSB_OP_RENAME = 18,
	FSB_OP_SYMLINK = 19,
	FSB_OP_READLINK = 20,
	FSB_OP_LINK = 21,
	FSB_OP_STATFS = 22,
	FSB_OP_PING = 23,
	FSB_OP_EVENT = 24,      /* server push only */
	FSB_OP_FALLOCATE = 25,  /* only with FSB_CAP_FALLOCATE */
	FSB_OP_EXPORTS = 26,    /* only with FSB_CAP_EXPORTS */
	FSB_OP_RESUME = 27,     /* only with FSB_CAP_RESUME, right after HELLO */
	FSB_OP__COUNT
};

enum fsb_frame_flag {
	FSB_F_REPLY = 1u << 0,  /* a reply to request `id` */
	FSB_F_PUSH = 1u << 1,   /* unsolicited server frame (EVENT) */
	FSB_F_CRED = 1u << 2,   /* request: a struct fsb_cred follows the
	                         * body; only with FSB_CAP_CREDS, only on the
	                         * ops fsb_op_takes_cred() names */
};

/*
 * Portable status codes. On the wire: u32, 0 = success. In C APIs: functions
 * return 0 or the negated code (-FSB_ENOENT). Values never change once
 * published; new codes are appended.
 */
enum fsb_status {
	FSB_OK = 0,
	FSB_EPERM = 1,
	FSB_ENOENT = 2,
	FSB_EIO = 3,
	FSB_EBADF = 4,
	FSB_ENOMEM = 5,
	FSB_EACCES = 6,
	FSB_EBUSY = 7,
	FSB_EEXIST = 8,
	FSB_EXDEV = 9,
	FSB_ENOTDIR = 10,
	FSB_EISDIR = 11,
	FSB_EINVAL = 12,
	FSB_EMFILE = 13,
	FSB_EFBIG = 14,
	FSB_ENOSPC = 15,
	FSB_EROFS = 16,
	FSB_EMLINK = 17,
	FSB_ENAMETOOLONG = 18,
	FSB_ENOTEMPTY = 19,
	FSB_ELOOP = 20,
	FSB_ENOSYS = 21,
	FSB_ENOTSUP = 22,
	FSB_ETXTBSY = 23,
	FSB_ESTALE = 24,
	FSB_EAGAIN = 25,
	FSB_EOVERFLOW = 26,
	FSB_ERANGE = 27,
	FSB_ENXIO = 28,
	FSB_EINTR = 29,
	FSB_ENFILE = 30,
	FSB_EDQUOT = 31,
	FSB_EILSEQ = 32,        /* name not representable on the server */
	FSB_EPROTO = 33,        /* peer violated the protocol */
	FSB_ETIMEDOUT = 34,
	FSB_ECONNRESET = 35,
	FSB_ENOTCONN = 36,
	FSB_EAUTH = 37,         /* HELLO token rejected */
	FSB_EVERSION = 38,      /* no common protocol version */
	FSB_ENOEXPORT = 39,     /* HELLO names an export the server lacks */
	FSB_ESPIPE = 40,
	FSB_E2BIG = 41,
	FSB_ENODATA = 42,
	FSB_STATUS__WIRE_MAX,   /* codes below this may travel on the wire */

	/* Decoder verdicts: local only, never sent. */
	FSB_EFRAME_SHORT = 100,     /* fewer bytes than the frame needs (yet) */
	FSB_EFRAME_MAGIC = 101,     /* not an fsbridge frame: garbage */
	FSB_EFRAME_TOOBIG = 102,    /* len > FSB_MAX_FRAME */
	FSB_EFRAME_UNDERSIZE = 103, /* len < FSB_HDR_SIZE */
	FSB_EFRAME_CSUM = 104,      /* checksum mismatch */
	FSB_EFRAME_OP = 105,        /* unknown opcode or op/flags mismatch */
	FSB_EFRAME_LEN = 106,       /* a field's length runs past the frame */
	FSB_EFRAME_TRAILING = 107,  /* bytes left over after the last field */
	FSB_EFRAME_VALUE = 108,     /* a field holds a forbidden value */
};

/* Capability bits, offered by the client and confirmed by the server. */
enum fsb_cap {
	FSB_CAP_EVENTS = 1u << 0,           /* server pushes EVENT frames */
	FSB_CAP_RENAME_NOREPLACE = 1u << 1,
	FSB_CAP_RENAME_EXCHANGE = 1u << 2,
	FSB_CAP_SYMLINKS = 1u << 3,
	FSB_CAP_HARDLINKS = 1u << 4,
	FSB_CAP_READONLY = 1u << 5,         /* the export is read-only */
	FSB_CAP_CASE_INSENSITIVE = 1u << 6, /* backend folds case */
	FSB_CAP_FALLOCATE = 1u << 7,        /* FALLOCATE works */
	FSB_CAP_CREDS = 1u << 8,            /* requests may carry FSB_F_CRED and
	                                     * the server applies them */
	FSB_CAP_EXPORTS = 1u << 9,          /* EXPORTS lists the exports */
	FSB_CAP_RESUME = 1u << 10,          /* RESUME re-attaches old ids */
	FSB_CAP_EVENT_EDGES = 1u << 11,     /* events may carry FSB_EVF_OUTSIDE
	                                     * and FSB_EVF_CLOSE_WRITE */
	FSB_CAP_DIRLIST = 1u << 12,         /* READDIRPLUS with fh 0 lists a
	                                     * directory by its node */
	FSB_CAP_NO_CSUM = 1u << 13,         /* after HELLO, frames carry csum 0:
	                                     * the transport (Unix socket, vsock,
	                                     * hvsocket) guarantees integrity */
};

/* File type and permission bits: the traditional Unix values on the wire. */
#define FSB_S_IFMT   0170000u
#define FSB_S_IFSOCK 0140000u
#define FSB_S_IFLNK  0120000u
#define FSB_S_IFREG  0100000u
#define FSB_S_IFBLK  0060000u
#define FSB_S_IFDIR  0040000u
#define FSB_S_IFCHR  0020000u
#define FSB_S_IFIFO  0010000u

/* Portable open flags (OPEN, CREATE). */
enum fsb_open_flag {
	FSB_O_RDONLY = 0,
	FSB_O_WRONLY = 1,
	FSB_O_RDWR = 2,
	FSB_O_ACCMODE = 3,
	FSB_O_APPEND = 1u << 2,
	FSB_O_TRUNC = 1u << 3,
	FSB_O_EXCL = 1u << 4,
	FSB_O_CREAT = 1u << 5,
	FSB_O_DIRECTORY = 1u << 6,
	FSB_O_SYNC = 1u << 7,
	FSB_O_NOATIME = 1u << 8,
};

/* Which SETATTR fields apply. */
enum fsb_setattr_valid {
	FSB_SET_MODE = 1u << 0,
	FSB_SET_UID = 1u << 1,
	FSB_SET_GID = 1u << 2,
	FSB_SET_SIZE = 1u << 3,
	FSB_SET_ATIME = 1u << 4,
	FSB_SET_MTIME = 1u << 5,
	FSB_SET_ATIME_NOW = 1u << 6,
	FSB_SET_MTIME_NOW = 1u << 7,
	FSB_SET_FH = 1u << 8,       /* fh names an open handle to use */
};

enum fsb_rename_flag {
	FSB_RENAME_NOREPLACE = 1u << 0,
	FSB_RENAME_EXCHANGE = 1u << 1,
};

enum fsb_fsync_flag {
	FSB_FSYNC_DATASYNC = 1u << 0,
};

/* FALLOCATE modes; 0 allocates and may grow the file. */
enum fsb_falloc_flag {
	FSB_FALLOC_KEEP_SIZE = 1u << 0,     /* never change the size */
	FSB_FALLOC_PUNCH_HOLE = 1u << 1,    /* deallocate; needs KEEP_SIZE */
	FSB_FALLOC_ZERO_RANGE = 1u << 2,    /* zero the range */
};
#define FSB_FALLOC_ALL 7u

enum fsb_event_kind {
	FSB_EV_CREATED = 1,
	FSB_EV_MODIFIED = 2,    /* content changed */
	FSB_EV_ATTRIB = 3,      /* metadata only */
	FSB_EV_REMOVED = 4,
	FSB_EV_RENAMED_FROM = 5, /* always directly followed by its RENAMED_TO */
	FSB_EV_RENAMED_TO = 6,
	FSB_EV_RESCAN = 7,      /* events under `path` were lost: rescan it */
	FSB_EV__COUNT
};

enum fsb_event_flag {
	FSB_EVF_DIR = 1u << 0,  /* the object is a directory */
	FSB_EVF_ECHO = 1u << 1, /* caused by this session's own request */
	FSB_EVF_ATTR = 1u << 2, /* attr holds the post-change attributes */
	/* Only with FSB_CAP_EVENT_EDGES, and only on the kinds named: */
	FSB_EVF_OUTSIDE = 1u << 3,      /* CREATED: moved in from outside the
	                                 * export; REMOVED: moved out of it */
	FSB_EVF_CLOSE_WRITE = 1u << 4,  /* ATTRIB: made through a handle open
	                                 * for writing, closed after the change
	                                 * (touch), not on a path (utimensat) */
};
#define FSB_EVF_ALL 0x1fu

/* Strings and byte runs travel as u32 length + bytes, no terminator. After
 * decoding they borrow from the frame buffer and are NOT NUL-terminated. */
struct fsb_str {
	const char *ptr;
	uint32_t len;
};

struct fsb_bytes {
	const uint8_t *ptr;
	uint32_t len;
};

/* Wire: i64 sec, u32 nsec (< 1e9). */
struct fsb_time {
	int64_t sec;
	uint32_t nsec;
};

/* Wire order: ino, size, blocks (u64); mode, nlink, uid, gid, rdev, blksize
 * (u32); atime, mtime, ctime (fsb_time). 84 bytes. */
struct fsb_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;        /* 512-byte units */
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev;
	uint32_t blksize;
	struct fsb_time atime;
	struct fsb_time mtime;
	struct fsb_time ctime;
};
#define FSB_ATTR_WIRE_SIZE 84u

/* A node the server now holds one more lookup reference on. Wire: u64 node,
 * u64 gen, attr. */
struct fsb_entry {
	uint64_t node;
	uint64_t gen;
	struct fsb_attr attr;
};

struct fsb_statfs {
	uint64_t blocks;
	uint64_t bfree;
	uint64_t bavail;
	uint64_t files;
	uint64_t ffree;
	uint32_t bsize;
	uint32_t frsize;
	uint32_t namemax;
};

struct fsb_forget_item {
	uint64_t node;
	uint64_t nlookup;
};

/* One READDIRPLUS entry. `cookie` resumes the listing *after* this entry.
 * Each entry counts as one lookup of `entry.node`. "." and ".." are never
 * sent. */
struct fsb_dirent {
	uint64_t cookie;
	struct fsb_str name;
	struct fsb_entry entry;
};

struct fsb_event {
	uint8_t kind;           /* enum fsb_event_kind */
	uint8_t flags;          /* enum fsb_event_flag */
	uint32_t cookie;        /* pairs RENAMED_FROM with RENAMED_TO, else 0 */
	uint64_t seq;           /* per-session, strictly increasing */
	struct fsb_str path;    /* relative to the export root, '/'-separated,
	                         * "" for the root itself */
	struct fsb_attr attr;   /* valid when FSB_EVF_ATTR */
};

/* The caller of a request, as the client's kernel saw it (FSB_F_CRED).
 * Wire: u32 uid, u32 gid, after the request body. Supplementary groups do
 * not travel: checks that need them stay with the client's kernel. */
struct fsb_cred {
	uint32_t uid;
	uint32_t gid;
};
#define FSB_CRED_WIRE_SIZE 8u

/* ---- message bodies --------------------------------------------------- */

struct fsb_hello_req {
	uint32_t version;
	uint64_t caps;
	struct fsb_str token;
	struct fsb_str export_path;  /* as the user typed it: "C:\src", "/srv" */
};

struct fsb_hello_rep {
	uint32_t version;
	uint64_t caps;
	uint32_t max_frame;
	uint32_t max_io;
	struct fsb_entry root;
	struct fsb_statfs fs;
	struct fsb_str server;       /* e.g. "winside 0.1 (posix)" */
};

struct fsb_node_req {           /* GETATTR, READLINK, STATFS */
	uint64_t node;
	uint64_t fh;                 /* GETATTR only; 0 = none */
};

struct fsb_name_req {           /* LOOKUP, UNLINK, RMDIR */
	uint64_t parent;
	struct fsb_str name;
};

struct fsb_forget_req {
	uint32_t count;
	struct fsb_forget_item *items; /* decoded: malloc'd, see fsb_msg_release */
};

struct fsb_setattr_req {
	uint64_t node;
	uint64_t fh;
	uint32_t valid;              /* enum fsb_setattr_valid */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	struct fsb_time atime;
	struct fsb_time mtime;
};

struct fsb_readdir_req {
	uint64_t node;
	uint64_t fh;
	uint64_t cookie;             /* 0 = from the start */
	uint32_t max_bytes;          /* cap on the encoded entries */
};

struct fsb_readdir_rep {
	uint8_t eof;
	uint32_t count;
	struct fsb_dirent *ents;     /* decoded: malloc'd */
};

struct fsb_open_req {
	uint64_t node;
	uint32_t flags;              /* enum fsb_open_flag */
};

struct fsb_open_rep {
	uint64_t fh;
	struct fsb_attr attr;
};

struct fsb_create_req {         /* CREATE, MKDIR, MKNOD */
	uint64_t parent;
	struct fsb_str name;
	uint32_t flags;              /* CREATE: enum fsb_open_flag */
	uint32_t mode;               /* type bits for MKNOD, permissions */
	uint32_t rdev;               /* MKNOD */
};

/* Reply to CREATE, MKDIR, MKNOD, SYMLINK, LINK: the new entry, the parent's
 * post-op attributes, and (CREATE only) the open handle, else 0. */
struct fsb_entry_rep {
	struct fsb_entry entry;
	struct fsb_attr dir_attr;
	uint64_t fh;
};

/* Reply to UNLINK, RMDIR: the parent's post-op attributes. */
struct fsb_dir_rep {
	struct fsb_attr dir_attr;
};

struct fsb_io_req {             /* READ, WRITE */
	uint64_t fh;
	uint64_t offset;
	uint32_t size;               /* READ: bytes wanted (<= FSB_MAX_IO) */
	struct fsb_bytes data;       /* WRITE: the bytes (<= FSB_MAX_IO) */
};

struct fsb_read_rep {
	struct fsb_bytes data;
};

struct fsb_write_rep {
	uint32_t written;
	struct fsb_attr attr;
};

struct fsb_fh_req {             /* FLUSH, FSYNC, RELEASE */
	uint64_t fh;
	uint32_t flags;              /* FSYNC: enum fsb_fsync_flag */
};

struct fsb_fallocate_req {      /* FALLOCATE; reply: attr */
	uint64_t fh;
	uint64_t offset;
	uint64_t length;             /* > 0 */
	uint32_t mode;               /* enum fsb_falloc_flag */
};

struct fsb_rename_req {
	uint64_t olddir;
	struct fsb_str oldname;
	uint64_t newdir;
	struct fsb_str newname;
	uint32_t flags;              /* enum fsb_rename_flag */
};

struct fsb_rename_rep {
	struct fsb_attr olddir_attr;
	struct fsb_attr newdir_attr;
};

struct fsb_symlink_req {
	uint64_t parent;
	struct fsb_str name;
	struct fsb_str target;
};

struct fsb_readlink_rep {
	struct fsb_str target;
};

struct fsb_link_req {
	uint64_t node;
	uint64_t newparent;
	struct fsb_str newname;
};

/* EXPORTS reply: what a client may name in HELLO, and mount as NAME. */
#define FSB_EXPORTS_MAX 1024u
struct fsb_export_item {
	struct fsb_str name;         /* a folder name, <= FSB_NAME_MAX */
	struct fsb_str path;         /* <= FSB_PATH_MAX */
};

struct fsb_exports_rep {
	uint32_t count;              /* <= FSB_EXPORTS_MAX */
	struct fsb_export_item *items; /* decoded: malloc'd */
};

/*
 * RESUME: after a server restart, a new session adopts the node ids and
 * handle numbers the client still holds. Items are applied in order, so a
 * node's parent comes before it. Ids and handle numbers must be below
 * FSB_RESUME_ID_END: the server's own counters go on above every adopted
 * value, and must never wrap.
 */
#define FSB_RESUME_MAX 4096u            /* items per frame */
#define FSB_RESUME_ID_END (1ull << 63)

enum fsb_resume_kind {
	FSB_RESUME_NODE = 1,
	FSB_RESUME_HANDLE = 2,
};

/* "Node `id` is `name` in `parent`; I saw it as inode `ino` of `type`
 * and hold `nlookup` lookup references on it." */
struct fsb_resume_node {
	uint64_t id;
	uint64_t parent;             /* 1 or a node resumed before */
	uint64_t nlookup;            /* >= 1 */
	uint64_t ino;                /* attr.ino as the client last saw it */
	uint32_t type;               /* its attr.mode & FSB_S_IFMT */
	struct fsb_str name;         /* <= FSB_NAME_MAX */
};

/* "Handle `fh` is node `node` opened with `flags`." */
struct fsb_resume_handle {
	uint64_t fh;
	uint64_t node;
	uint32_t flags;              /* enum fsb_open_flag as opened */
};

struct fsb_resume_item {
	uint8_t kind;                /* enum fsb_resume_kind */
	union {
		struct fsb_resume_node node;
		struct fsb_resume_handle handle;
	} u;
};

struct fsb_resume_req {
	uint64_t gen;                /* the generation the ids carry */
	uint32_t count;              /* <= FSB_RESUME_MAX */
	struct fsb_resume_item *items; /* decoded: malloc'd */
};

/* One per request item, in order: 0 or an FSB_E* code, and for a node
 * resumed with status 0 its current attributes (zeros otherwise). */
struct fsb_resume_result {
	uint32_t status;
	struct fsb_attr attr;
};

struct fsb_resume_rep {
	uint32_t count;              /* the request's count */
	struct fsb_resume_result *items; /* decoded: malloc'd */
};

struct fsb_ping {               /* request and reply */
	uint64_t nonce;
};

struct fsb_event_push {
	uint32_t count;
	struct fsb_event *events;    /* decoded: malloc'd */
};

/* Error replies (status != 0) carry only an optional human-readable detail
 * ("export not found: C:\src"), possibly empty. */
struct fsb_error_rep {
	struct fsb_str detail;
};

/*
 * A whole frame, decoded or to be encoded. Which union member is live
 * follows from (op, flags, status):
 *   request            HELLO hello_req, LOOKUP/UNLINK/RMDIR name,
 *                      FORGET forget, GETATTR/READLINK/STATFS node,
 *                      SETATTR setattr, READDIRPLUS readdir,
 *                      OPEN open, CREATE/MKDIR/MKNOD create,
 *                      READ/WRITE io, FLUSH/FSYNC/RELEASE fh,
 *                      RENAME rename, SYMLINK symlink, LINK link, PING ping,
 *                      RESUME resume
 *   reply, status 0    HELLO hello_rep, LOOKUP entry, GETATTR/SETATTR attr,
 *                      READDIRPLUS readdir_rep, OPEN open_rep,
 *                      CREATE/MKDIR/MKNOD/SYMLINK/LINK entry_rep,
 *                      READ read_rep, WRITE write_rep,
 *                      FLUSH/FSYNC/RELEASE (empty), UNLINK/RMDIR dir_rep,
 *                      RENAME rename_rep, READLINK readlink_rep,
 *                      STATFS statfs, PING ping, EXPORTS exports_rep,
 *                      RESUME resume_rep
 *   reply, status != 0 error
 *   push (EVENT)       events
 */
struct fsb_msg {
	uint16_t op;
	uint16_t flags;
	uint32_t status;
	uint64_t id;
	struct fsb_cred cred;        /* valid when flags has FSB_F_CRED */
	union {
		struct fsb_hello_req hello_req;
		struct fsb_hello_rep hello_rep;
		struct fsb_node_req node;
		struct fsb_name_req name;
		struct fsb_forget_req forget;
		struct fsb_setattr_req setattr;
		struct fsb_readdir_req readdir;
		struct fsb_readdir_rep readdir_rep;
		struct fsb_open_req open;
		struct fsb_open_rep open_rep;
		struct fsb_create_req create;
		struct fsb_entry_rep entry_rep;
		struct fsb_dir_rep dir_rep;
		struct fsb_io_req io;
		struct fsb_read_rep read_rep;
		struct fsb_write_rep write_rep;
		struct fsb_fh_req fh;
		struct fsb_fallocate_req fallocate;
		struct fsb_rename_req rename;
		struct fsb_rename_rep rename_rep;
		struct fsb_symlink_req symlink;
		struct fsb_readlink_rep readlink_rep;
		struct fsb_link_req link;
		struct fsb_ping ping;
		struct fsb_event_push events;
		struct fsb_exports_rep exports_rep;
		struct fsb_resume_req resume;
		struct fsb_resume_rep resume_rep;
		struct fsb_error_rep error;
		struct fsb_entry entry;
		struct fsb_attr attr;
		struct fsb_statfs statfs;
	} u;
};

/* ---- output buffer ---------------------------------------------------- */

/* A growable byte buffer; one or more frames are appended to it. `err` is
 * sticky: after a failed append (allocation, FSB_MAX_FRAME) every further
 * append is a no-op and the encoder returns the error. */
struct fsb_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;                     /* 0 or -FSB_Exxx */
};

void fsb_wbuf_init(struct fsb_wbuf *wb);
void fsb_wbuf_release(struct fsb_wbuf *wb);  /* free data, keep struct */
void fsb_wbuf_reset(struct fsb_wbuf *wb);    /* len = 0, err = 0, keep data */

/* ---- framing and messages -------------------------------------------- */

/*
 * Inspect the start of a byte stream. Returns 0 and sets *frame_len when a
 * whole, checksum-valid frame of a known opcode is at buf; -FSB_EFRAME_SHORT
 * when more bytes are needed (*frame_len then holds the total needed, or
 * 8 if not even the length is known); any other negative code means the
 * stream is corrupt and the connection must be closed. Bad magic and bad
 * lengths are reported as soon as the first 8 bytes are there.
 */
int fsb_frame_check(const uint8_t *buf, size_t avail, uint32_t *frame_len);

/* Append one complete frame for `m` (header, checksum, payload). Returns 0
 * or a negative code; on error wb->len is back where it was. */
int fsb_msg_encode(struct fsb_wbuf *wb, const struct fsb_msg *m);

/*
 * Decode exactly one frame of `len` bytes (as found by fsb_frame_check;
 * this re-checks it). Strings and byte runs borrow from `frame`; arrays are
 * allocated. On success call fsb_msg_release() when done; on failure
 * nothing needs releasing. Rejects: short/oversized/bad-checksum frames,
 * unknown opcodes, REPLY+PUSH, pushes of non-EVENT ops, fields running past
 * the end, trailing bytes, strings with NUL bytes, names > FSB_NAME_MAX,
 * paths > FSB_PATH_MAX, tokens > FSB_TOKEN_MAX, I/O > FSB_MAX_IO,
 * nsec >= 1e9, unknown event kinds, event flags outside FSB_EVF_ALL or on
 * a kind they do not apply to, RESUME counts over FSB_RESUME_MAX,
 * unknown RESUME item kinds and types with bits outside FSB_S_IFMT.
 */
int fsb_msg_decode(const uint8_t *frame, size_t len, struct fsb_msg *m);
void fsb_msg_release(struct fsb_msg *m);

/*
 * The checksum of a connection's frames. fsb_frame_check, fsb_msg_encode
 * and fsb_msg_decode use FSB_CSUM_XXH3, which every HELLO and every frame
 * of a connection without FSB_CAP_NO_CSUM carries. With the capability in
 * force, every later frame has csum 0, written as 0 and checked to be 0
 * (anything else is -FSB_EFRAME_CSUM); every other check stays.
 */
enum fsb_csum {
	FSB_CSUM_XXH3 = 0,      /* csum = XXH3-64 of bytes [16, len) */
	FSB_CSUM_NONE = 1,      /* csum = 0 */
};

int fsb_frame_check_mode(const uint8_t *buf, size_t avail, uint32_t *frame_len,
                         enum fsb_csum mode);
int fsb_msg_encode_mode(struct fsb_wbuf *wb, const struct fsb_msg *m, enum fsb_csum mode);
int fsb_msg_decode_mode(const uint8_t *frame, size_t len, struct fsb_msg *m,
                        enum fsb_csum mode);
/* Set the checksum of an encoded frame of `len` (>= FSB_HDR_SIZE) bytes
 * for `mode`: a frame encoded for one connection, sent on another. */
void fsb_frame_seal(uint8_t *frame, size_t len, enum fsb_csum mode);

/*
 * A READ success reply whose data is written in place, without a copy:
 * fsb_read_rep_begin appends the header of reply `id` with room for
 * `size` (<= FSB_MAX_IO) data bytes and sets *data to where they go;
 * the caller fills `got` <= size of them and fsb_read_rep_finish, given
 * wb->len as it was before the begin, trims the frame to them and seals
 * it. The result is byte for byte what fsb_msg_encode makes of that
 * reply. Both return 0 or a negative code; a failed begin leaves wb->len
 * where it was.
 */
int fsb_read_rep_begin(struct fsb_wbuf *wb, uint64_t id, uint32_t size, uint8_t **data);
int fsb_read_rep_finish(struct fsb_wbuf *wb, size_t start, uint32_t got, enum fsb_csum mode);

/* Wire size of one READDIRPLUS entry with a name of `namelen` bytes, so a
 * server can stop filling at max_bytes. */
size_t fsb_dirent_wire_size(size_t namelen);
/* Wire size of one event with a path of `pathlen` bytes. */
size_t fsb_event_wire_size(size_t pathlen, uint8_t flags);

/* ---- names for logs ---------------------------------------------------- */

const char *fsb_op_name(unsigned op);        /* "LOOKUP", "?" if unknown */
/* Whether requests of `op` may carry FSB_F_CRED: CREATE, MKDIR, MKNOD,
 * SYMLINK, LINK, SETATTR, UNLINK, RMDIR, RENAME. */
int fsb_op_takes_cred(unsigned op);
const char *fsb_strerror(int code);          /* accepts code or -code */
const char *fsb_event_kind_name(unsigned kind);

/* ---- errno mapping (POSIX builds) ------------------------------------- */

/* errno -> protocol status (positive); unknown errno -> FSB_EIO. */
int fsb_status_from_errno(int err);
/* protocol status (positive or negative) -> errno (positive); frame codes
 * and unknown codes -> EPROTO / EIO. */
int fsb_status_to_errno(int status);

#endif
