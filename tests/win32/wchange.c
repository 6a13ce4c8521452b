/*
 * wchange.c - a Windows program that changes a folder the way Windows
 * programs do (CreateFileW, WriteFile, SetFileAttributesW, MoveFileExW,
 * CreateDirectoryW, DeleteFileW), one step at a time, so that winside's
 * ReadDirectoryChangesW watcher really sees Windows-side changes. Run
 * under Wine by tests/win32/wine_events.sh, which checks that each step
 * arrives at a protocol client as EVENT pushes.
 *
 *	wchange.exe DIR [STEP_MS]
 *
 * Prints one line per step ("step create a.txt") and exits 0, or prints
 * the failing call and its error and exits 1. DIR's parent takes a file
 * that is moved into DIR and back out (moves across the export's edge).
 */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include <windows.h>

static wchar_t dir[1024];
static DWORD step_ms = 300;

static const wchar_t *in_dir(const wchar_t *name)
{
	static wchar_t path[2][1200];
	static int k;

	k ^= 1;
	_snwprintf(path[k], 1200, L"%ls\\%ls", dir, name);
	path[k][1199] = 0;
	return path[k];
}

static int failed(const char *what)
{
	printf("FAILED %s: error %lu\n", what, (unsigned long)GetLastError());
	return 1;
}

static void step(const char *what)
{
	printf("step %s\n", what);
	fflush(stdout);
	Sleep(step_ms);
}

static int write_file(const wchar_t *name, DWORD disposition, const char *text, int append)
{
	HANDLE h = CreateFileW(in_dir(name), GENERIC_WRITE, FILE_SHARE_READ, NULL, disposition,
	                       FILE_ATTRIBUTE_NORMAL, NULL);
	DWORD n;
	int ok;

	if (h == INVALID_HANDLE_VALUE)
		return 0;
	if (append)
		SetFilePointer(h, 0, NULL, FILE_END);
	ok = WriteFile(h, text, (DWORD)strlen(text), &n, NULL) && n == strlen(text);
	CloseHandle(h);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: wchange DIR [STEP_MS]\n");
		return 2;
	}
	MultiByteToWideChar(CP_UTF8, 0, argv[1], -1, dir, 1024);
	if (argc > 2)
		step_ms = (DWORD)strtoul(argv[2], NULL, 10);
	/* Let the watcher settle before the first change. */
	Sleep(step_ms);

	if (!write_file(L"a.txt", CREATE_NEW, "hello", 0))
		return failed("CreateFileW a.txt");
	step("create a.txt");
	if (!write_file(L"a.txt", OPEN_EXISTING, " world", 1))
		return failed("WriteFile a.txt");
	step("modify a.txt");
	if (!SetFileAttributesW(in_dir(L"a.txt"), FILE_ATTRIBUTE_READONLY))
		return failed("SetFileAttributesW a.txt");
	step("attrib a.txt");
	if (!SetFileAttributesW(in_dir(L"a.txt"), FILE_ATTRIBUTE_NORMAL))
		return failed("SetFileAttributesW a.txt (normal)");
	step("attrib a.txt normal");
	if (!MoveFileExW(in_dir(L"a.txt"), in_dir(L"b.txt"), 0))
		return failed("MoveFileExW a.txt b.txt");
	step("rename a.txt b.txt");
	if (!CreateDirectoryW(in_dir(L"sub"), NULL))
		return failed("CreateDirectoryW sub");
	step("mkdir sub");
	if (!write_file(L"sub\\c.txt", CREATE_NEW, "deep", 0))
		return failed("CreateFileW sub\\c.txt");
	step("create sub/c.txt");
	if (!DeleteFileW(in_dir(L"b.txt")))
		return failed("DeleteFileW b.txt");
	step("delete b.txt");
	if (!write_file(L"..\\wchange-outside.txt", CREATE_ALWAYS, "out there", 0))
		return failed("CreateFileW ..\\wchange-outside.txt");
	if (!MoveFileExW(in_dir(L"..\\wchange-outside.txt"), in_dir(L"moved-in.txt"), 0))
		return failed("MoveFileExW ..\\wchange-outside.txt moved-in.txt");
	step("move in moved-in.txt");
	if (!MoveFileExW(in_dir(L"moved-in.txt"), in_dir(L"..\\wchange-outside.txt"), 0))
		return failed("MoveFileExW moved-in.txt ..\\wchange-outside.txt");
	step("move out moved-in.txt");
	printf("done\n");
	return 0;
}
