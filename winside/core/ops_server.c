/*
 * ops_server.c - requests about the server rather than an export:
 * EXPORTS. Reply: exports_rep, or error. Reads the server's export table,
 * which does not change while it runs.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_ops.h"

static struct fsb_str str_of(const char *s)
{
	struct fsb_str r = { s, (uint32_t)(s ? strlen(s) : 0) };

	return r;
}

int ws__op_exports(struct ws_req *r)
{
	struct ws_server *srv = r->s->srv;
	struct fsb_export_item *items;
	size_t i, n = srv->nexports < FSB_EXPORTS_MAX ? srv->nexports : FSB_EXPORTS_MAX;

	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return -FSB_ENOMEM;
	/* Freed with the request, after the reply is encoded. */
	r->scratch = items;
	for (i = 0; i < n; i++) {
		items[i].name = str_of(srv->exports[i].name);
		items[i].path = str_of(srv->exports[i].path);
	}
	r->out.u.exports_rep.count = (uint32_t)n;
	r->out.u.exports_rep.items = items;
	return 0;
}
