/*
 * hvaddr.c - "hvsock:VMID:PORT" addresses for the AF_HYPERV listener.
 *
 * A Linux guest (WSL 2 included) reaches the host with AF_VSOCK, CID 2,
 * port P. Hyper-V delivers that connection to the host socket bound to the
 * service GUID whose first 32 bits are P and whose rest is the fixed
 * "VSOCK template" 00000000-facb-11e6-bd58-64006a7986d3, on the VM id of
 * the guest (or a wildcard). So the user picks a port, exactly as with
 * vsock, and the GUID is derived here.
 */
#include <stdio.h>
#include <string.h>

#include "ws_win32_port.h"

#define HV_PORT_MAX 0x7FFFFFFFu

static const struct {
	const char *name;
	struct ws_guid guid;
} vm_names[] = {
	/* HV_GUID_WILDCARD: any partition (every VM, WSL's included). */
	{ "*", { 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 0 } } },
	{ "wildcard", { 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 0 } } },
	{ "any", { 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 0 } } },
	{ "children", { 0x90db8b89, 0x0d35, 0x4f79, { 0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd } } },
	{ "loopback", { 0xe0e16197, 0xdd56, 0x4a10, { 0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38 } } },
	{ "parent", { 0xa42e7cda, 0xd03f, 0x480c, { 0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78 } } },
	{ "silohost", { 0x36bd0c5c, 0x7276, 0x4223, { 0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68 } } },
};

#define NVM_NAMES (sizeof(vm_names) / sizeof(vm_names[0]))

static int fail(char *err, size_t errlen, const char *s, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "\"%s\": %s", s, why);
	return -FSB_EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 36 characters, 8-4-4-4-12 hex digits, optionally in braces. */
static int parse_guid(const char *s, size_t n, struct ws_guid *g)
{
	uint8_t b[16];
	size_t i, k = 0;
	int hi, lo;

	if (n == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		n -= 2;
	}
	if (n != 36)
		return -1;
	for (i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -1;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	/* The text is big-endian throughout; Data1-3 are integers. */
	g->d1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	g->d2 = (uint16_t)(b[4] << 8 | b[5]);
	g->d3 = (uint16_t)(b[6] << 8 | b[7]);
	memcpy(g->d4, b + 8, 8);
	return 0;
}

void ws_win32_hv_service_for_port(uint32_t port, struct ws_guid *out)
{
	static const uint8_t tail[8] = { 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 };

	out->d1 = port;
	out->d2 = 0xfacb;
	out->d3 = 0x11e6;
	memcpy(out->d4, tail, sizeof(tail));
}

int ws_win32_hvaddr_parse(const char *s, struct ws_hvaddr *out, char *err, size_t errlen)
{
	const char *vm, *colon, *p;
	unsigned long long v = 0;
	size_t vlen, i;

	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (strncmp(s, "hvsock:", 7))
		return fail(err, errlen, s, "not an hvsock address; expected hvsock:VMID:PORT");
	vm = s + 7;
	colon = strrchr(vm, ':');
	if (!colon)
		return fail(err, errlen, s, "missing port; expected hvsock:VMID:PORT");
	vlen = (size_t)(colon - vm);
	if (vlen == 0)
		return fail(err, errlen, s, "missing VM id; expected a GUID or one of *, wildcard, "
		            "children, loopback, parent, silohost");
	for (i = 0; i < NVM_NAMES; i++) {
		if (strlen(vm_names[i].name) == vlen && !strncmp(vm, vm_names[i].name, vlen)) {
			out->vmid = vm_names[i].guid;
			break;
		}
	}
	if (i == NVM_NAMES && parse_guid(vm, vlen, &out->vmid))
		return fail(err, errlen, s, "VM id is neither a GUID (xxxxxxxx-xxxx-xxxx-xxxx-"
		            "xxxxxxxxxxxx) nor one of *, wildcard, children, loopback, parent, silohost");
	p = colon + 1;
	if (!*p)
		return fail(err, errlen, s, "missing port after ':'; expected hvsock:VMID:PORT");
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return fail(err, errlen, s, "port is not a decimal number");
		v = v * 10 + (unsigned)(*p - '0');
		if (v > HV_PORT_MAX)
			return fail(err, errlen, s, "port is out of range (1-2147483647)");
	}
	if (v == 0)
		return fail(err, errlen, s, "port 0 cannot be reached from a guest; pick a port "
		            "from 1 to 2147483647");
	out->port = (uint32_t)v;
	ws_win32_hv_service_for_port(out->port, &out->service);
	return 0;
}

void ws_win32_guid_format(const struct ws_guid *g, char *buf, size_t len)
{
	snprintf(buf, len, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned)g->d1,
	         (unsigned)g->d2, (unsigned)g->d3, g->d4[0], g->d4[1], g->d4[2], g->d4[3],
	         g->d4[4], g->d4[5], g->d4[6], g->d4[7]);
}

int ws_win32_hvaddr_format(const struct ws_hvaddr *a, char *buf, size_t len)
{
	char g[40];
	size_t i;

	/* Skip "*": the first spelling of the wildcard is the word. */
	for (i = 1; i < NVM_NAMES; i++)
		if (!memcmp(&vm_names[i].guid, &a->vmid, sizeof(a->vmid)))
			return snprintf(buf, len, "hvsock:%s:%u", vm_names[i].name, (unsigned)a->port);
	ws_win32_guid_format(&a->vmid, g, sizeof(g));
	return snprintf(buf, len, "hvsock:%s:%u", g, (unsigned)a->port);
}
