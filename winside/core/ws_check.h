/*
 * ws_check.h - the checks every client string passes (check.c): names
 * before a backend sees them, strings before a log line shows them, the
 * token before anything is served. Depends on the protocol alone.
 */
#ifndef WS_CHECK_H
#define WS_CHECK_H

#include <stddef.h>

#include "fsb_proto.h"

/* Validate one name component from the wire and copy it NUL-terminated
 * into out[FSB_NAME_MAX + 1]. 0, or -FSB_EINVAL / -FSB_ENAMETOOLONG with
 * the reason in why. */
int ws__name_check(struct fsb_str name, char *out, char *why, size_t whylen);
/* Copy a client string for a log line or error detail: control bytes and
 * backslashes escaped as \xNN (a name must not forge log lines), cut
 * with "..." to fit len. */
void ws__printable(struct fsb_str s, char *out, size_t len);
/* Compare a presented token with ours in time independent of where they
 * differ. 1 if equal. */
int ws__token_equal(const char *want, size_t wantlen, const char *got, size_t gotlen);

#endif
