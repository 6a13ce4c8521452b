/*
 * codec_int.h - what codec.c (frames) takes from bodies.c (message
 * bodies): the per-opcode table; and the few helpers bodies.c shares
 * with resume.c.
 *
 * One table row per opcode gives the request and reply codecs and the log
 * name. A missing reply codec means the op is never answered (FORGET,
 * EVENT), which is how the decoder rejects a reply to them without a
 * separate list; EVENT is the one op that travels as a push.
 */
#ifndef FSB_CODEC_INT_H
#define FSB_CODEC_INT_H

#include "cursor.h"

typedef void fsb__enc_fn(struct fsb__wcur *w, const struct fsb_msg *m);
typedef void fsb__dec_fn(struct fsb__cursor *c, struct fsb_msg *m);

/* For the one push-only op (EVENT) the request slots hold the push body:
 * both are the frame a side sends unasked, and the flags tell which. */
struct fsb__op_codec {
	fsb__enc_fn *enc_req;
	fsb__dec_fn *dec_req;
	fsb__enc_fn *enc_rep;   /* success reply; error replies are generic */
	fsb__dec_fn *dec_rep;
	const char *name;
	int cred;               /* requests may carry FSB_F_CRED */
};

extern const struct fsb__op_codec fsb__op_table[FSB_OP__COUNT];

/* Pieces of bodies.c that the other body files share. */
void fsb__put_attr(struct fsb__wcur *w, const struct fsb_attr *a);
void fsb__get_attr(struct fsb__cursor *c, struct fsb_attr *a);

/* resume.c: RESUME request and reply. */
fsb__enc_fn fsb__enc_resume_req;
fsb__dec_fn fsb__dec_resume_req;
fsb__enc_fn fsb__enc_resume_rep;
fsb__dec_fn fsb__dec_resume_rep;

#endif
