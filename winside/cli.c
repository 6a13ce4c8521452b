/*
 * cli.c - see cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fsb_proto.h"

int ws_cli_command(int argc, char **argv, const char *usage, const char *backend)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("winside %s (fsbridge protocol %u, %s backend)\n", PACKAGE_VERSION,
		       FSB_PROTO_VERSION, backend);
		return 0;
	}
	if (strcmp(argv[1], "serve")) {
		fprintf(stderr, "winside: unknown command %s; see winside --help\n", argv[1]);
		return 2;
	}
	return -1;
}
