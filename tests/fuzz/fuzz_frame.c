/*
 * fuzz_frame.c - libFuzzer target for the frame decoder.
 *
 * Whatever the bytes, fsb_frame_check and fsb_msg_decode must return a
 * verdict without crashing, leaking or reading outside the input. A frame
 * that decodes must be canonical: encoding the decoded message gives back
 * exactly the input bytes, which in turn decode again.
 *
 * A mutated frame almost never carries a valid XXH3 checksum, so on its own
 * the fuzzer would spend its time in the checksum verdict. Each input is
 * therefore also tried as a frame body with the header's len, magic and
 * checksum made right, which takes it to the op and body decoders.
 *
 * Every input is also decoded as a frame of a connection without
 * checksums (FSB_CAP_NO_CSUM), where the csum field must be 0 and every
 * other check stands alone: the fuzzer reaches the body decoders there
 * without help, and nothing may get past them that would not get past
 * them with a checksum.
 *
 * Seed mode: with FSB_FUZZ_WRITE_SEEDS=DIR in the environment the binary
 * writes one valid frame per message kind into DIR, each also without a
 * checksum, and exits, so `make fuzz` starts from frames that already
 * reach every body decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fsb_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void check_canonical_mode(const uint8_t *frame, size_t len,
                                 const struct fsb_msg *m, enum fsb_csum mode)
{
	struct fsb_wbuf wb;
	struct fsb_msg again;

	fsb_wbuf_init(&wb);
	if (fsb_msg_encode_mode(&wb, m, mode) != 0)
		abort();        /* decoded but cannot be sent back */
	if (wb.len != len || memcmp(wb.data, frame, len) != 0)
		abort();        /* two encodings of one message */
	if (fsb_msg_decode_mode(wb.data, wb.len, &again, mode) != 0)
		abort();
	fsb_msg_release(&again);
	fsb_wbuf_release(&wb);
}

static void check_canonical(const uint8_t *frame, size_t len, const struct fsb_msg *m)
{
	check_canonical_mode(frame, len, m, FSB_CSUM_XXH3);
}

/* The input as a frame of a connection without checksums. */
static void decode_no_csum(const uint8_t *data, size_t size)
{
	struct fsb_msg m;
	uint32_t flen = 0;
	int rc;

	rc = fsb_frame_check_mode(data, size, &flen, FSB_CSUM_NONE);
	if (rc == 0 && flen > size)
		abort();
	rc = fsb_msg_decode_mode(data, size, &m, FSB_CSUM_NONE);
	if (rc == 0) {
		check_canonical_mode(data, size, &m, FSB_CSUM_NONE);
		fsb_msg_release(&m);
	} else if (rc > 0) {
		abort();
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void decode_sealed(const uint8_t *data, size_t size)
{
	struct fsb_msg m;
	uint64_t csum;
	uint8_t *f;
	int rc;

	f = malloc(size);
	if (!f)
		return;
	memcpy(f, data, size);
	put_le32(f, (uint32_t)size);
	put_le32(f + 4, FSB_MAGIC);
	csum = XXH3_64bits(f + 16, size - 16);
	put_le32(f + 8, (uint32_t)csum);
	put_le32(f + 12, (uint32_t)(csum >> 32));
	rc = fsb_msg_decode(f, size, &m);
	if (rc == 0) {
		check_canonical(f, size, &m);
		fsb_msg_release(&m);
	} else if (rc == -FSB_EFRAME_SHORT || rc == -FSB_EFRAME_MAGIC ||
	           rc == -FSB_EFRAME_CSUM || rc > 0) {
		abort();        /* the framing was made right */
	}
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsb_msg m;
	uint32_t flen = 0;
	int rc;

	rc = fsb_frame_check(data, size, &flen);
	if (rc == 0 && flen > size)
		abort();
	if (rc == -FSB_EFRAME_SHORT && size >= 8 && flen <= size)
		abort();

	/* The whole input as one frame: exercises decode's own re-checks,
	 * including the trailing-bytes verdict when the input is longer. */
	rc = fsb_msg_decode(data, size, &m);
	if (rc == 0) {
		check_canonical(data, size, &m);
		fsb_msg_release(&m);
	} else if (rc > 0) {
		abort();
	}

	/* Just the frame fsb_frame_check found, as a stream reader would. */
	if (fsb_frame_check(data, size, &flen) == 0 && flen < size &&
	    fsb_msg_decode(data, flen, &m) == 0) {
		check_canonical(data, flen, &m);
		fsb_msg_release(&m);
	}

	if (size >= FSB_HDR_SIZE && size <= FSB_MAX_FRAME)
		decode_sealed(data, size);
	decode_no_csum(data, size);
	return 0;
}

/* ---- seeds ------------------------------------------------------------ */

static struct fsb_str str_of(const char *s)
{
	struct fsb_str r = { s, (uint32_t)strlen(s) };

	return r;
}

static void seed_attr(struct fsb_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = 2;
	a->size = 4096;
	a->mode = FSB_S_IFREG | 0644;
	a->nlink = 1;
	a->blksize = 4096;
	a->mtime.sec = 1700000000;
	a->mtime.nsec = 5;
}

static void fill_body(struct fsb_msg *m)
{
	static uint8_t data[64];
	static struct fsb_forget_item items[2] = { { 2, 1 }, { 3, 5 } };
	static struct fsb_dirent ents[2];
	static struct fsb_event evs[6];
	int reply = m->flags & FSB_F_REPLY;

	switch (m->op) {
	case FSB_OP_HELLO:
		if (reply) {
			m->u.hello_rep.version = FSB_PROTO_VERSION;
			m->u.hello_rep.max_frame = FSB_MAX_FRAME;
			m->u.hello_rep.max_io = FSB_MAX_IO;
			m->u.hello_rep.root.node = 1;
			seed_attr(&m->u.hello_rep.root.attr);
			m->u.hello_rep.server = str_of("winside");
		} else {
			m->u.hello_req.version = FSB_PROTO_VERSION;
			m->u.hello_req.token = str_of("0123456789abcdef");
			m->u.hello_req.export_path = str_of("C:\\src");
		}
		break;
	case FSB_OP_LOOKUP:
	case FSB_OP_UNLINK:
	case FSB_OP_RMDIR:
		if (reply && m->op == FSB_OP_LOOKUP) {
			m->u.entry.node = 5;
			seed_attr(&m->u.entry.attr);
		} else if (reply) {
			seed_attr(&m->u.dir_rep.dir_attr);
		} else {
			m->u.name.parent = 1;
			m->u.name.name = str_of("name.txt");
		}
		break;
	case FSB_OP_FORGET:
		m->u.forget.count = 2;
		m->u.forget.items = items;
		break;
	case FSB_OP_GETATTR:
	case FSB_OP_SETATTR:
		if (reply)
			seed_attr(&m->u.attr);
		else if (m->op == FSB_OP_SETATTR)
			m->u.setattr.valid = FSB_SET_SIZE;
		break;
	case FSB_OP_READDIRPLUS:
		if (reply) {
			ents[0].cookie = 1;
			ents[0].name = str_of("a");
			seed_attr(&ents[0].entry.attr);
			ents[1].cookie = 2;
			ents[1].name = str_of("bb");
			seed_attr(&ents[1].entry.attr);
			m->u.readdir_rep.eof = 1;
			m->u.readdir_rep.count = 2;
			m->u.readdir_rep.ents = ents;
		} else {
			m->u.readdir.max_bytes = 4096;
		}
		break;
	case FSB_OP_OPEN:
		if (reply)
			seed_attr(&m->u.open_rep.attr);
		break;
	case FSB_OP_CREATE:
	case FSB_OP_MKDIR:
	case FSB_OP_MKNOD:
	case FSB_OP_SYMLINK:
	case FSB_OP_LINK:
		if (reply) {
			seed_attr(&m->u.entry_rep.entry.attr);
			seed_attr(&m->u.entry_rep.dir_attr);
		} else if (m->op == FSB_OP_SYMLINK) {
			m->u.symlink.name = str_of("l");
			m->u.symlink.target = str_of("../t");
		} else if (m->op == FSB_OP_LINK) {
			m->u.link.newname = str_of("h");
		} else {
			m->u.create.name = str_of("new");
			m->u.create.mode = 0644;
		}
		break;
	case FSB_OP_READ:
		if (reply) {
			m->u.read_rep.data.ptr = data;
			m->u.read_rep.data.len = sizeof(data);
		} else {
			m->u.io.size = 4096;
		}
		break;
	case FSB_OP_WRITE:
		if (reply) {
			m->u.write_rep.written = sizeof(data);
			seed_attr(&m->u.write_rep.attr);
		} else {
			m->u.io.data.ptr = data;
			m->u.io.data.len = sizeof(data);
		}
		break;
	case FSB_OP_RENAME:
		if (reply) {
			seed_attr(&m->u.rename_rep.olddir_attr);
			seed_attr(&m->u.rename_rep.newdir_attr);
		} else {
			m->u.rename.oldname = str_of("x");
			m->u.rename.newname = str_of("y");
		}
		break;
	case FSB_OP_READLINK:
		if (reply)
			m->u.readlink_rep.target = str_of("a/b");
		break;
	case FSB_OP_STATFS:
		if (reply)
			m->u.statfs.namemax = 255;
		break;
	case FSB_OP_PING:
		m->u.ping.nonce = 7;
		break;
	case FSB_OP_EXPORTS:
		if (reply) {
			static struct fsb_export_item items[2];

			items[0].name = str_of("c");
			items[0].path = str_of("C:\\");
			items[1].name = str_of("src");
			items[1].path = str_of("/srv/src");
			m->u.exports_rep.count = 2;
			m->u.exports_rep.items = items;
		}
		break;
	case FSB_OP_RESUME:
		if (reply) {
			static struct fsb_resume_result res[3];

			seed_attr(&res[0].attr);
			res[1].status = FSB_ESTALE;
			m->u.resume_rep.count = 3;
			m->u.resume_rep.items = res;
		} else {
			static struct fsb_resume_item its[3];

			its[0].kind = FSB_RESUME_NODE;
			its[0].u.node.id = 2;
			its[0].u.node.parent = 1;
			its[0].u.node.nlookup = 1;
			its[0].u.node.ino = 2;
			its[0].u.node.type = FSB_S_IFDIR;
			its[0].u.node.name = str_of("d");
			its[1] = its[0];
			its[1].u.node.id = 3;
			its[1].u.node.parent = 2;
			its[1].u.node.type = FSB_S_IFREG;
			its[1].u.node.name = str_of("f");
			its[2].kind = FSB_RESUME_HANDLE;
			its[2].u.handle.fh = 1;
			its[2].u.handle.node = 3;
			its[2].u.handle.flags = FSB_O_RDWR;
			m->u.resume.gen = 1;
			m->u.resume.count = 3;
			m->u.resume.items = its;
		}
		break;
	case FSB_OP_FALLOCATE:
		if (reply) {
			seed_attr(&m->u.attr);
		} else {
			m->u.fallocate.length = 4096;
			m->u.fallocate.mode = FSB_FALLOC_KEEP_SIZE;
		}
		break;
	case FSB_OP_EVENT:
		evs[0].kind = FSB_EV_CREATED;
		evs[0].flags = FSB_EVF_ATTR;
		evs[0].seq = 1;
		evs[0].path = str_of("d/f");
		seed_attr(&evs[0].attr);
		evs[1].kind = FSB_EV_RENAMED_FROM;
		evs[1].cookie = 9;
		evs[1].seq = 2;
		evs[1].path = str_of("d/f");
		evs[2].kind = FSB_EV_RENAMED_TO;
		evs[2].cookie = 9;
		evs[2].seq = 3;
		evs[2].path = str_of("d/g");
		/* The edge flags (FSB_CAP_EVENT_EDGES) on the kinds they go with. */
		evs[3].kind = FSB_EV_CREATED;
		evs[3].flags = FSB_EVF_OUTSIDE | FSB_EVF_DIR | FSB_EVF_ATTR;
		evs[3].seq = 4;
		evs[3].path = str_of("in");
		seed_attr(&evs[3].attr);
		evs[4].kind = FSB_EV_REMOVED;
		evs[4].flags = FSB_EVF_OUTSIDE;
		evs[4].seq = 5;
		evs[4].path = str_of("d/g");
		evs[5].kind = FSB_EV_ATTRIB;
		evs[5].flags = FSB_EVF_CLOSE_WRITE | FSB_EVF_ATTR;
		evs[5].seq = 6;
		evs[5].path = str_of("in");
		seed_attr(&evs[5].attr);
		m->u.events.count = 6;
		m->u.events.events = evs;
		break;
	default:
		break;
	}
}

static int write_seed_mode(const char *dir, const char *tag, const struct fsb_msg *m,
                           enum fsb_csum mode)
{
	struct fsb_wbuf wb;
	char path[4096];
	FILE *f;
	int rc = -1;

	fsb_wbuf_init(&wb);
	if (fsb_msg_encode_mode(&wb, m, mode) != 0) {
		fprintf(stderr, "seed %s %s: cannot encode\n", fsb_op_name(m->op), tag);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/seed-%s-%s%s", dir, fsb_op_name(m->op), tag,
	         mode == FSB_CSUM_NONE ? "-nocsum" : "");
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		goto out;
	}
	if (fwrite(wb.data, 1, wb.len, f) == wb.len)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
out:
	fsb_wbuf_release(&wb);
	return rc;
}

static int write_seed(const char *dir, const char *tag, const struct fsb_msg *m)
{
	return write_seed_mode(dir, tag, m, FSB_CSUM_XXH3) |
	       write_seed_mode(dir, tag, m, FSB_CSUM_NONE);
}

static int write_seeds(const char *dir)
{
	struct fsb_msg m;
	unsigned op;
	int rc = 0;

	for (op = 1; op < FSB_OP__COUNT; op++) {
		memset(&m, 0, sizeof(m));
		m.op = (uint16_t)op;
		if (op == FSB_OP_EVENT) {
			m.flags = FSB_F_PUSH;
			fill_body(&m);
			rc |= write_seed(dir, "push", &m);
			continue;
		}
		m.id = op;
		fill_body(&m);
		rc |= write_seed(dir, "req", &m);
		if (fsb_op_takes_cred(op)) {
			m.flags = FSB_F_CRED;
			m.cred.uid = 1234;
			m.cred.gid = 1234;
			rc |= write_seed(dir, "cred", &m);
		}
		if (op == FSB_OP_FORGET)
			continue;
		memset(&m, 0, sizeof(m));
		m.op = (uint16_t)op;
		m.flags = FSB_F_REPLY;
		m.id = op;
		fill_body(&m);
		rc |= write_seed(dir, "rep", &m);
		m.status = FSB_ENOENT;
		m.u.error.detail = str_of("no such file");
		rc |= write_seed(dir, "err", &m);
	}
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FSB_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if (dir)
		exit(write_seeds(dir) ? 1 : 0);
	return 0;
}
