/*
 * ws_win32_port.h - the parts of the Win32 backend that need no windows.h:
 * name mapping between Linux (UTF-8) and Windows (UTF-16) names, the one
 * table from Win32/NT error codes to protocol status codes, and hvsock
 * address parsing. Built for every host, so all of it is unit-tested
 * natively on Linux (tests/win32); the rest of winside/win32 is mingw only.
 */
#ifndef WS_WIN32_PORT_H
#define WS_WIN32_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

/* NTFS's limit for one component, in UTF-16 code units. */
#define WS_WIN32_NAME_MAX 255u

/*
 * Linux name (one validated component, UTF-8, not NUL-terminated) to the
 * UTF-16 name it has on Windows. Follows WSL drvfs: each character Windows
 * forbids in a name (0x01-0x1F, \ : * ? " < > |) and a trailing dot or
 * space becomes U+F000 + the character, so a Linux name "a:b" is the file
 * "a\uF03Ab" on Windows and a colon never reaches CreateFile as a stream
 * separator. Writes at most `cap` units (no NUL) and sets *outlen.
 * Returns 0 or:
 *   -FSB_EILSEQ        invalid UTF-8 (overlong forms, surrogates, > U+10FFFF,
 *                      truncated sequences), or a private-use character the
 *                      mapping itself produces (U+F001-U+F07F where it would
 *                      read back as a different name)
 *   -FSB_EINVAL        a reserved device name (CON, PRN, AUX, NUL, COM1-9,
 *                      LPT1-9, CONIN$, CONOUT$; any case, with or without an
 *                      extension), which Win32 would open as a device
 *   -FSB_ENAMETOOLONG  more than WS_WIN32_NAME_MAX units
 */
int ws_win32_name_to_utf16(const char *name, size_t len, uint16_t *out, size_t cap,
                           size_t *outlen);

/*
 * Windows name (UTF-16, as a directory holds it) back to its Linux name,
 * the exact inverse of ws_win32_name_to_utf16. Writes at most `cap` bytes
 * plus a NUL, sets *outlen (without the NUL). Returns 0, -FSB_EILSEQ for
 * an unpaired surrogate (NTFS stores any 16-bit sequence; such a name has
 * no UTF-8 form), or -FSB_ENAMETOOLONG when it needs more than `cap` or
 * FSB_NAME_MAX bytes.
 */
int ws_win32_name_from_utf16(const uint16_t *name, size_t len, char *out, size_t cap,
                             size_t *outlen);

/* 1 if the UTF-16 name is a reserved DOS device name, else 0. */
int ws_win32_name_reserved(const uint16_t *name, size_t len);

/*
 * The case rule of lookups: Windows opens "readme" for a request for
 * "README" (and "PROGRA~1" for "Program Files"). A lookup succeeds only
 * when the name the directory really holds is the requested one, code unit
 * for code unit. Returns 0 when they are equal, -FSB_ENOENT otherwise.
 */
int ws_win32_name_check_case(const uint16_t *want, size_t wantlen, const uint16_t *held,
                             size_t heldlen);

/* Win32 error (GetLastError) or NTSTATUS to a protocol status, positive;
 * unknown codes are FSB_EIO. */
int ws_win32_status_from_error(uint32_t err);
int ws_win32_status_from_ntstatus(uint32_t st);

/* A GUID in its usual memory layout (Data1-3 little-endian integers). */
struct ws_guid {
	uint32_t d1;
	uint16_t d2;
	uint16_t d3;
	uint8_t d4[8];
};

/*
 * hvsock:VMID:PORT, an AF_HYPERV listener. VMID is a GUID
 * (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, braces allowed) or one of the
 * names "*" / "wildcard" / "any", "children", "loopback", "parent",
 * "silohost" (the HV_GUID_* values). PORT is decimal, 0-0x7FFFFFFF; the
 * service GUID is the one Linux guests reach with AF_VSOCK on that port.
 */
struct ws_hvaddr {
	struct ws_guid vmid;
	struct ws_guid service;
	uint32_t port;
};

/* Parse "hvsock:VMID:PORT". 0, or -FSB_EINVAL with a sentence in err. */
int ws_win32_hvaddr_parse(const char *s, struct ws_hvaddr *out, char *err, size_t errlen);
/* The service GUID for an AF_VSOCK port: PORT in the first 32 bits of
 * 00000000-facb-11e6-bd58-64006a7986d3. */
void ws_win32_hv_service_for_port(uint32_t port, struct ws_guid *out);
/* "xxxxxxxx-xxxx-...", lower case; buf needs 37 bytes. */
void ws_win32_guid_format(const struct ws_guid *g, char *buf, size_t len);
/* Back to "hvsock:VMID:PORT" (named VMIDs keep their name). */
int ws_win32_hvaddr_format(const struct ws_hvaddr *a, char *buf, size_t len);

/*
 * Linux metadata on NTFS, as WSL's drvfs keeps it with its `metadata`
 * option: one extended attribute per value, so a file chmod'ed or chown'ed
 * through either looks the same through the other. Values little-endian:
 *   $LXUID  u32 uid
 *   $LXGID  u32 gid
 *   $LXMOD  u32 st_mode (type bits and permission bits)
 *   $LXDEV  u32 major, u32 minor (device nodes)
 * On the wire of NtSetEaFile/NtQueryEaFile (FILE_FULL_EA_INFORMATION):
 * per attribute u32 NextEntryOffset (to the next entry, a multiple of 4;
 * 0 on the last), u8 Flags (0), u8 EaNameLength, u16 EaValueLength, the
 * name and a NUL, the value; entries start 4-byte aligned. The list of
 * names NtQueryEaFile asks for (FILE_GET_EA_INFORMATION): u32
 * NextEntryOffset, u8 EaNameLength, the name and a NUL, 4-byte aligned.
 * NTFS answers a name the file lacks with an empty value.
 */
enum ws_lx_have {
	WS_LX_UID = 1u << 0,
	WS_LX_GID = 1u << 1,
	WS_LX_MODE = 1u << 2,
	WS_LX_DEV = 1u << 3,
};

struct ws_lxmeta {
	uint32_t have;          /* enum ws_lx_have: which values are set */
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	uint32_t dev_major;
	uint32_t dev_minor;
};

/* Room for every attribute in either buffer. */
#define WS_LX_EA_MAX 128u

/* The FILE_FULL_EA_INFORMATION chain holding the values m->have names.
 * Returns its length, or 0 when nothing is set or it does not fit. */
size_t ws_lxmeta_encode(const struct ws_lxmeta *m, uint8_t *buf, size_t cap);
/* The FILE_GET_EA_INFORMATION list asking for all four names. */
size_t ws_lxmeta_query_list(uint8_t *buf, size_t cap);
/* Read the values out of a chain NtQueryEaFile returned (other names,
 * empty values and values of the wrong size are skipped). 0, or
 * -FSB_EIO for a chain that runs past `len` or loops. */
int ws_lxmeta_decode(const uint8_t *buf, size_t len, struct ws_lxmeta *m);
/* Apply persisted values to synthesised attributes: owner, group,
 * permission bits (the type stays what Windows says), device numbers in
 * the Linux kernel's 32-bit encoding. */
void ws_lxmeta_apply(const struct ws_lxmeta *m, struct fsb_attr *a);

#endif
