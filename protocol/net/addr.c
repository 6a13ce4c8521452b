/*
 * addr.c - parse and format transport addresses (unix:, tcp:, vsock:).
 *
 * Parsing never touches the network: host names are checked for shape only
 * and resolved when listening or connecting, so a typo is reported with the
 * exact form the user should have typed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "fsb_net.h"

#define FORMS "unix:PATH, unix:@NAME, tcp:HOST:PORT, tcp:[IPV6]:PORT or vsock:CID:PORT"

/* sun_path is 108 bytes: a file path needs its NUL; an abstract name is
 * stored as '@' + NAME + NUL in fsb_addr.path, so the same limit applies. */
#define UNIX_PATH_MAXLEN (sizeof(((struct fsb_addr *)0)->path) - 1)
#define HOST_MAXLEN (sizeof(((struct fsb_addr *)0)->host) - 1)

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Strict unsigned decimal: no sign, no blanks, no base prefixes, so that
 * "tcp:h:0x50" or "tcp:h: 80" is an error rather than a surprise. */
static int parse_uint(const char *s, size_t n, unsigned long long max,
                      unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

static int parse_unix(const char *s, const char *rest, struct fsb_addr *out,
                      char *err, size_t errlen)
{
	size_t n = strlen(rest);

	if (n == 0)
		return fail(err, errlen, "\"%s\": missing socket path; expected unix:PATH or unix:@NAME", s);
	if (rest[0] == '@' && n == 1)
		return fail(err, errlen, "\"%s\": missing abstract socket name after '@'; expected unix:@NAME", s);
	if (n > UNIX_PATH_MAXLEN)
		return fail(err, errlen, "\"%s\": socket path is %zu bytes long; at most %zu fit in a Unix socket address",
		            s, n, (size_t)UNIX_PATH_MAXLEN);
	out->kind = FSB_ADDR_UNIX;
	memcpy(out->path, rest, n + 1);
	return 0;
}

static int host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int parse_tcp(const char *s, const char *rest, struct fsb_addr *out,
                     char *err, size_t errlen)
{
	const char *host, *port;
	size_t hlen, i;
	unsigned long long v;
	char v6[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;
	int rc;

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close)
			return fail(err, errlen, "\"%s\": missing ']' after the IPv6 address; expected tcp:[IPV6]:PORT", s);
		host = rest + 1;
		hlen = (size_t)(close - host);
		if (hlen == 0)
			return fail(err, errlen, "\"%s\": empty IPv6 address between '[' and ']'", s);
		if (close[1] == '\0')
			return fail(err, errlen, "\"%s\": missing port; expected tcp:[IPV6]:PORT", s);
		if (close[1] != ':')
			return fail(err, errlen, "\"%s\": expected ':PORT' after ']'", s);
		port = close + 2;
		if (hlen >= sizeof(v6))
			return fail(err, errlen, "\"%s\": \"%.*s\" is not an IPv6 address", s, (int)hlen, host);
		memcpy(v6, host, hlen);
		v6[hlen] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return fail(err, errlen, "\"%s\": \"%s\" is not an IPv6 address", s, v6);
	} else {
		const char *colon = strrchr(rest, ':');

		if (!colon)
			return fail(err, errlen, "\"%s\": missing port; expected tcp:HOST:PORT", s);
		host = rest;
		hlen = (size_t)(colon - rest);
		port = colon + 1;
		if (memchr(host, ':', hlen))
			return fail(err, errlen, "\"%s\": an IPv6 address needs brackets, as in tcp:[::1]:PORT", s);
		if (hlen == 0)
			return fail(err, errlen, "\"%s\": missing host; expected tcp:HOST:PORT (for example tcp:127.0.0.1:%s)",
			            s, *port ? port : "7000");
		for (i = 0; i < hlen; i++)
			if (!host_char_ok(host[i]))
				return fail(err, errlen, "\"%s\": host \"%.*s\" contains '%c', which no host name or IPv4 address has",
				            s, (int)hlen, host, host[i]);
	}
	if (hlen > HOST_MAXLEN)
		return fail(err, errlen, "\"%s\": host name is %zu bytes long; at most %zu are allowed",
		            s, hlen, (size_t)HOST_MAXLEN);
	if (*port == '\0')
		return fail(err, errlen, "\"%s\": missing port after ':'; expected tcp:HOST:PORT", s);
	rc = parse_uint(port, strlen(port), 65535, &v);
	if (rc == -2)
		return fail(err, errlen, "\"%s\": port %s is out of range (0-65535)", s, port);
	if (rc)
		return fail(err, errlen, "\"%s\": port \"%s\" is not a decimal number", s, port);
	out->kind = FSB_ADDR_TCP;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (uint16_t)v;
	return 0;
}

static const struct {
	const char *name;
	uint32_t cid;
} cid_names[] = {
	{ "any", VMADDR_CID_ANY },
	{ "local", VMADDR_CID_LOCAL },
	{ "host", VMADDR_CID_HOST },
};

static int parse_vsock(const char *s, const char *rest, struct fsb_addr *out,
                       char *err, size_t errlen)
{
	const char *colon = strchr(rest, ':');
	const char *port;
	size_t clen, i;
	unsigned long long v;
	int rc;

	if (!colon)
		return fail(err, errlen, "\"%s\": missing port; expected vsock:CID:PORT", s);
	clen = (size_t)(colon - rest);
	port = colon + 1;
	if (clen == 0)
		return fail(err, errlen, "\"%s\": missing CID; expected vsock:CID:PORT where CID is a number, any, host or local", s);
	out->cid = 0;
	for (i = 0; i < sizeof(cid_names) / sizeof(cid_names[0]); i++) {
		if (strlen(cid_names[i].name) == clen && !strncmp(rest, cid_names[i].name, clen)) {
			out->cid = cid_names[i].cid;
			break;
		}
	}
	if (i == sizeof(cid_names) / sizeof(cid_names[0])) {
		rc = parse_uint(rest, clen, UINT32_MAX, &v);
		if (rc == -2)
			return fail(err, errlen, "\"%s\": CID %.*s is out of range (0-4294967295)", s, (int)clen, rest);
		if (rc)
			return fail(err, errlen, "\"%s\": CID \"%.*s\" is neither a number nor one of any, host, local",
			            s, (int)clen, rest);
		out->cid = (uint32_t)v;
	}
	if (*port == '\0')
		return fail(err, errlen, "\"%s\": missing port after ':'; expected vsock:CID:PORT", s);
	if (!strcmp(port, "any")) {
		out->vport = VMADDR_PORT_ANY;
	} else {
		rc = parse_uint(port, strlen(port), UINT32_MAX, &v);
		if (rc == -2)
			return fail(err, errlen, "\"%s\": port %s is out of range (0-4294967295)", s, port);
		if (rc)
			return fail(err, errlen, "\"%s\": port \"%s\" is not a decimal number", s, port);
		out->vport = (uint32_t)v;
	}
	out->kind = FSB_ADDR_VSOCK;
	return 0;
}

int fsb_addr_parse(const char *s, struct fsb_addr *out, char *err, size_t errlen)
{
	const char *colon;
	size_t slen;

	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return fail(err, errlen, "empty address; valid forms are " FORMS);
	colon = strchr(s, ':');
	if (!colon)
		return fail(err, errlen, "\"%s\" has no scheme; valid forms are " FORMS, s);
	slen = (size_t)(colon - s);
	if (slen == 4 && !strncmp(s, "unix", 4))
		return parse_unix(s, colon + 1, out, err, errlen);
	if (slen == 3 && !strncmp(s, "tcp", 3))
		return parse_tcp(s, colon + 1, out, err, errlen);
	if (slen == 5 && !strncmp(s, "vsock", 5))
		return parse_vsock(s, colon + 1, out, err, errlen);
	return fail(err, errlen, "\"%s\": unknown scheme \"%.*s\"; valid forms are " FORMS,
	            s, (int)slen, s);
}

int fsb_addr_format(const struct fsb_addr *a, char *buf, size_t len)
{
	char cid[16], port[16];

	switch (a->kind) {
	case FSB_ADDR_UNIX:
		return snprintf(buf, len, "unix:%s", a->path);
	case FSB_ADDR_TCP:
		if (strchr(a->host, ':'))
			return snprintf(buf, len, "tcp:[%s]:%u", a->host, (unsigned)a->port);
		return snprintf(buf, len, "tcp:%s:%u", a->host, (unsigned)a->port);
	case FSB_ADDR_VSOCK:
		if (a->cid == VMADDR_CID_ANY)
			snprintf(cid, sizeof(cid), "any");
		else
			snprintf(cid, sizeof(cid), "%u", (unsigned)a->cid);
		if (a->vport == VMADDR_PORT_ANY)
			snprintf(port, sizeof(port), "any");
		else
			snprintf(port, sizeof(port), "%u", (unsigned)a->vport);
		return snprintf(buf, len, "vsock:%s:%s", cid, port);
	}
	return snprintf(buf, len, "invalid-address");
}
