/*
 * codec_bench.c - encode+decode throughput of the wire codec.
 *
 * Each row encodes one message into a reused buffer, checks the frame,
 * decodes it and releases the result, as a connection does for every frame
 * it sends or receives; the row runs for about a second (or the seconds
 * given as the first argument) and prints a markdown table row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsb_proto.h"

struct workload {
	const char *name;
	struct fsb_msg msg;
};

struct result {
	size_t frame_bytes;
	unsigned long long frames;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_attr(struct fsb_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->size = 12345 + ino;
	a->blocks = 32;
	a->mode = FSB_S_IFREG | 0644;
	a->nlink = 1;
	a->uid = 1000;
	a->gid = 1000;
	a->blksize = 4096;
	a->atime.sec = 1700000000;
	a->mtime.sec = 1700000001;
	a->mtime.nsec = 123456789;
	a->ctime.sec = 1700000002;
}

static struct fsb_str str_of(const char *s)
{
	struct fsb_str r = { s, (uint32_t)strlen(s) };

	return r;
}

/* Returns 0, or -1 if an encode/decode failed (a bug, not a slow run). */
static int run(const struct fsb_msg *m, double budget, struct result *r)
{
	struct fsb_wbuf wb;
	struct fsb_msg out;
	uint32_t flen;
	unsigned long long n = 0;
	double start, t;
	int i, rc = 0;

	fsb_wbuf_init(&wb);
	if (fsb_msg_encode(&wb, m) != 0) {
		rc = -1;
		goto out;
	}
	r->frame_bytes = wb.len;
	start = now();
	do {
		/* Read the clock every 64 frames: small frames take well under
		 * a microsecond, and clock_gettime would dominate otherwise. */
		for (i = 0; i < 64; i++) {
			fsb_wbuf_reset(&wb);
			if (fsb_msg_encode(&wb, m) != 0 ||
			    fsb_frame_check(wb.data, wb.len, &flen) != 0 ||
			    fsb_msg_decode(wb.data, flen, &out) != 0) {
				rc = -1;
				goto out;
			}
			fsb_msg_release(&out);
		}
		n += 64;
		t = now() - start;
	} while (t < budget);
	r->frames = n;
	r->seconds = t;
out:
	fsb_wbuf_release(&wb);
	return rc;
}

int main(int argc, char **argv)
{
	enum { NDIRENT = 64, NEVENT = 16, WRITE_SIZE = 64 * 1024, READ_SIZE = 4096 };
	static uint8_t wdata[WRITE_SIZE], rdata[READ_SIZE];
	static char names[NDIRENT][40], paths[NEVENT][64];
	static struct fsb_dirent ents[NDIRENT];
	static struct fsb_event evs[NEVENT];
	static struct workload w[6];
	double budget = argc > 1 ? atof(argv[1]) : 1.0;
	struct result r;
	size_t i, nw = 0;
	int failed = 0;

	if (budget <= 0) {
		fprintf(stderr, "usage: %s [seconds per row]\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(wdata); i++)
		wdata[i] = (uint8_t)(i * 31);
	memcpy(rdata, wdata, sizeof(rdata));

	w[nw].name = "GETATTR request";
	w[nw].msg.op = FSB_OP_GETATTR;
	w[nw].msg.id = 1;
	w[nw].msg.u.node.node = 1234;
	nw++;

	w[nw].name = "LOOKUP reply";
	w[nw].msg.op = FSB_OP_LOOKUP;
	w[nw].msg.flags = FSB_F_REPLY;
	w[nw].msg.id = 2;
	w[nw].msg.u.entry.node = 5678;
	w[nw].msg.u.entry.gen = 1;
	fill_attr(&w[nw].msg.u.entry.attr, 5678);
	nw++;

	w[nw].name = "READ 4 KiB reply";
	w[nw].msg.op = FSB_OP_READ;
	w[nw].msg.flags = FSB_F_REPLY;
	w[nw].msg.id = 3;
	w[nw].msg.u.read_rep.data.ptr = rdata;
	w[nw].msg.u.read_rep.data.len = READ_SIZE;
	nw++;

	w[nw].name = "WRITE 64 KiB request";
	w[nw].msg.op = FSB_OP_WRITE;
	w[nw].msg.id = 4;
	w[nw].msg.u.io.fh = 9;
	w[nw].msg.u.io.offset = 1 << 20;
	w[nw].msg.u.io.size = WRITE_SIZE;
	w[nw].msg.u.io.data.ptr = wdata;
	w[nw].msg.u.io.data.len = WRITE_SIZE;
	nw++;

	/* Names of the length node_modules is full of. */
	for (i = 0; i < NDIRENT; i++) {
		snprintf(names[i], sizeof(names[i]), "module-%zu%s", i,
		         i % 4 ? ".js" : ".d.ts.map");
		ents[i].cookie = i + 1;
		ents[i].name = str_of(names[i]);
		ents[i].entry.node = 1000 + i;
		ents[i].entry.gen = 1;
		fill_attr(&ents[i].entry.attr, 1000 + i);
	}
	w[nw].name = "READDIRPLUS reply, 64 entries";
	w[nw].msg.op = FSB_OP_READDIRPLUS;
	w[nw].msg.flags = FSB_F_REPLY;
	w[nw].msg.id = 5;
	w[nw].msg.u.readdir_rep.eof = 1;
	w[nw].msg.u.readdir_rep.count = NDIRENT;
	w[nw].msg.u.readdir_rep.ents = ents;
	nw++;

	/* An editor save: modify/attrib with attributes, and a rename pair. */
	for (i = 0; i < NEVENT; i++) {
		snprintf(paths[i], sizeof(paths[i]), "src/components/Widget%zu.tsx", i);
		evs[i].kind = i % 2 ? FSB_EV_MODIFIED : FSB_EV_ATTRIB;
		evs[i].flags = FSB_EVF_ATTR;
		evs[i].seq = 100 + i;
		evs[i].path = str_of(paths[i]);
		fill_attr(&evs[i].attr, 2000 + i);
	}
	evs[4].kind = FSB_EV_RENAMED_FROM;
	evs[4].flags = 0;
	evs[4].cookie = 7;
	evs[5].kind = FSB_EV_RENAMED_TO;
	evs[5].cookie = 7;
	w[nw].name = "EVENT push, 16 events";
	w[nw].msg.op = FSB_OP_EVENT;
	w[nw].msg.flags = FSB_F_PUSH;
	w[nw].msg.u.events.count = NEVENT;
	w[nw].msg.u.events.events = evs;
	nw++;

	printf("| message | frame bytes | frames/s | MB/s | ns/frame |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (i = 0; i < nw; i++) {
		if (run(&w[i].msg, budget, &r) != 0) {
			fprintf(stderr, "%s: encode/decode failed\n", w[i].name);
			failed = 1;
			continue;
		}
		printf("| %s | %zu | %.0f | %.1f | %.0f |\n", w[i].name, r.frame_bytes,
		       r.frames / r.seconds,
		       r.frames * (double)r.frame_bytes / r.seconds / 1e6,
		       r.seconds * 1e9 / r.frames);
		fflush(stdout);
	}
	return failed;
}
