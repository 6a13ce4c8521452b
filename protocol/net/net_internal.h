/* net_internal.h - helpers shared by the files of libfsbnet, not exported. */
#ifndef FSB_NET_INTERNAL_H
#define FSB_NET_INTERNAL_H

#include <stddef.h>

/* Format a sentence into err (when err/errlen allow) and return rc, so an
 * error path is one statement: `return fsb__net_fail(-errno, err, ...)`. */
__attribute__((format(printf, 4, 5)))
int fsb__net_fail(int rc, char *err, size_t errlen, const char *fmt, ...);

#endif
