/*
 * cli.c - see cli.h.
 */
#include <ctype.h>
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

static int name_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static int taken(const char *n, char (*prev)[WS_EXPORT_NAME_MAX], size_t nprev)
{
	size_t i;

	for (i = 0; i < nprev; i++)
		if (!strcmp(prev[i], n))
			return 1;
	return 0;
}

/* A name from the last component of dir. */
static void derive(const char *dir, char *out)
{
	size_t len = strlen(dir), start, n = 0, i;

	while (len > 1 && (dir[len - 1] == '/' || dir[len - 1] == '\\'))
		len--;
	/* A drive: "C:" or "C:\" is "c", as /mnt/c. */
	if (len == 2 && isalpha((unsigned char)dir[0]) && dir[1] == ':') {
		out[0] = (char)tolower((unsigned char)dir[0]);
		out[1] = '\0';
		return;
	}
	start = len;
	while (start > 0 && dir[start - 1] != '/' && dir[start - 1] != '\\')
		start--;
	for (i = start; i < len && n < WS_EXPORT_NAME_MAX - 4; i++)
		out[n++] = name_char(dir[i]) ? dir[i] : '_';
	out[n] = '\0';
	if (!n || out[0] == '.')
		snprintf(out, WS_EXPORT_NAME_MAX, "%s", n ? "export" : "root");
}

int ws_cli_export_arg(const char *arg, char name[WS_EXPORT_NAME_MAX], const char **dir,
                      char (*prev)[WS_EXPORT_NAME_MAX], size_t nprev)
{
	const char *eq = strchr(arg, '=');
	size_t i, nlen;

	/* "NAME=DIR" only when what precedes '=' is a name: a Windows or
	 * POSIX path may hold a '=' of its own after a separator. */
	nlen = eq ? (size_t)(eq - arg) : 0;
	for (i = 0; i < nlen; i++)
		if (!name_char(arg[i]))
			nlen = 0;
	if (eq && nlen && nlen < WS_EXPORT_NAME_MAX && arg[0] != '.') {
		memcpy(name, arg, nlen);
		name[nlen] = '\0';
		*dir = eq + 1;
		if (!**dir) {
			fprintf(stderr, "winside: --export %s: no folder after the name\n", arg);
			return -1;
		}
		if (taken(name, prev, nprev)) {
			fprintf(stderr, "winside: --export %s: the name %s is taken\n", arg, name);
			return -1;
		}
		return 0;
	}
	*dir = arg;
	derive(arg, name);
	if (taken(name, prev, nprev)) {
		/* Room for "-" and any unsigned in WS_EXPORT_NAME_MAX. */
		char base[WS_EXPORT_NAME_MAX - 11];
		size_t blen = strlen(name) < sizeof(base) ? strlen(name) : sizeof(base) - 1;
		unsigned k;

		memcpy(base, name, blen);
		base[blen] = '\0';
		for (k = 2; taken(name, prev, nprev); k++)
			snprintf(name, WS_EXPORT_NAME_MAX, "%s-%u", base, k);
	}
	return 0;
}
