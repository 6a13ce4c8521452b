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

#endif
