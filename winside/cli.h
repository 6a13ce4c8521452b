/*
 * cli.h - the part of the winside command line that every platform's
 * main() shares: help, version, and picking the one command, "serve".
 */
#ifndef WS_CLI_H
#define WS_CLI_H

/*
 * Handle `winside`, `winside --help`, `winside --version` and unknown
 * commands. Returns -1 when argv[1] is "serve" and the caller should go
 * on with argv + 1, else the exit status (help and version printed, or an
 * error said).
 */
int ws_cli_command(int argc, char **argv, const char *usage, const char *backend);

#define WS_EXPORT_NAME_MAX 64

/*
 * One --export argument, "DIR" or "NAME=DIR", split: *dir points into arg,
 * name is the given NAME or one made from DIR's last component ("C:\" is
 * "c", "C:\Users\me\src" is "src", "/" is "root"), unique among the
 * `nprev` names already taken (a "-2", "-3" suffix). A name is what
 * `fsbridge automount` mounts the export as: letters, digits, '.', '_'
 * and '-', not starting with '.'. Returns 0, or -1 after saying why.
 */
int ws_cli_export_arg(const char *arg, char name[WS_EXPORT_NAME_MAX], const char **dir,
                      char (*prev)[WS_EXPORT_NAME_MAX], size_t nprev);

#endif
