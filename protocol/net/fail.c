/* fail.c - the error-sentence helper of libfsbnet; its own object so that a
 * program using only the token file does not pull in the socket layer. */
#include <stdarg.h>
#include <stdio.h>

#include "net_internal.h"

int fsb__net_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
