/*
 * listen.c - winside.exe's listeners: TCP through Winsock, and AF_HYPERV
 * (hvsocket), which is how a WSL 2 distribution reaches the host with
 * AF_VSOCK. Addresses are written as on the POSIX side: tcp:HOST:PORT,
 * and hvsock:VMID:PORT (see hvaddr.c for the GUIDs behind it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <hvsocket.h>

#include "fsb_proto.h"
#include "ws_win32.h"

_Static_assert(sizeof(struct ws_guid) == sizeof(GUID), "ws_guid is a GUID");

static int sock_fail(char *err, size_t errlen, const char *addr, const char *what)
{
	int e = WSAGetLastError();

	snprintf(err, errlen, "%s: %s: %s (Winsock error %d)", addr, what,
	         fsb_strerror(ws_win32_status_from_error((uint32_t)e)), e);
	return -ws_win32_status_from_error((uint32_t)e);
}

static int addr_fail(char *err, size_t errlen, const char *addr, const char *why)
{
	snprintf(err, errlen, "\"%s\": %s", addr, why);
	return -FSB_EINVAL;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

static void tcp_name(const struct sockaddr *sa, socklen_t sl, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, sl, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "tcp:?");
		return;
	}
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "tcp:[%s]:%s" : "tcp:%s:%s", host, port);
}

static int listen_tcp(const char *addr, struct ws_win32_listener *l, char *err, size_t errlen)
{
	char host[256], port[8];
	const char *rest = addr + 4, *colon, *h;
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	BOOL one = TRUE;
	int rc;

	if (rest[0] == '[') {
		colon = strstr(rest, "]:");
		if (!colon)
			return addr_fail(err, errlen, addr, "expected tcp:[IPV6]:PORT");
		h = rest + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(rest, ':');
		if (!colon || colon == rest)
			return addr_fail(err, errlen, addr, "expected tcp:HOST:PORT (for example "
			                 "tcp:127.0.0.1:7000)");
		h = rest;
		hl = (size_t)(colon - rest);
	}
	if (hl == 0 || hl >= sizeof(host) || strlen(colon + 1) == 0 || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535)
		return addr_fail(err, errlen, addr, "expected tcp:HOST:PORT with PORT 0-65535");
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc || !ai)
		return addr_fail(err, errlen, addr, "cannot resolve the host");
	l->s = socket(ai->ai_family, SOCK_STREAM, IPPROTO_TCP);
	if (l->s == INVALID_SOCKET) {
		freeaddrinfo(ai);
		return sock_fail(err, errlen, addr, "socket");
	}
	/* Not SO_REUSEADDR, which on Windows lets another process steal
	 * the port: exclusive use, as Microsoft recommends for servers. */
	setsockopt(l->s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof(one));
	if (bind(l->s, ai->ai_addr, (int)ai->ai_addrlen) || listen(l->s, SOMAXCONN)) {
		freeaddrinfo(ai);
		return sock_fail(err, errlen, addr, "bind/listen");
	}
	freeaddrinfo(ai);
	if (getsockname(l->s, (struct sockaddr *)&ss, &sl))
		return sock_fail(err, errlen, addr, "getsockname");
	l->nonlocal = !is_loopback((struct sockaddr *)&ss);
	tcp_name((struct sockaddr *)&ss, sl, l->bound, sizeof(l->bound));
	return 0;
}

static int listen_hv(const char *addr, struct ws_win32_listener *l, char *err, size_t errlen)
{
	struct ws_hvaddr hv;
	SOCKADDR_HV sa;
	int rc;

	rc = ws_win32_hvaddr_parse(addr, &hv, err, errlen);
	if (rc)
		return rc;
	l->s = socket(AF_HYPERV, SOCK_STREAM, HV_PROTOCOL_RAW);
	if (l->s == INVALID_SOCKET)
		return sock_fail(err, errlen, addr, "AF_HYPERV socket (Hyper-V sockets need "
		                 "Windows 10 1709 or later with the Virtual Machine Platform)");
	memset(&sa, 0, sizeof(sa));
	sa.Family = AF_HYPERV;
	memcpy(&sa.VmId, &hv.vmid, sizeof(sa.VmId));
	memcpy(&sa.ServiceId, &hv.service, sizeof(sa.ServiceId));
	if (bind(l->s, (struct sockaddr *)&sa, sizeof(sa)) || listen(l->s, SOMAXCONN))
		return sock_fail(err, errlen, addr, "bind/listen");
	ws_win32_hvaddr_format(&hv, l->bound, sizeof(l->bound));
	return 0;
}

int ws_win32_listen(const char *addr, struct ws_win32_listener *l, char *err, size_t errlen)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->s = INVALID_SOCKET;
	if (!strncmp(addr, "tcp:", 4))
		rc = listen_tcp(addr, l, err, errlen);
	else if (!strncmp(addr, "hvsock:", 7))
		rc = listen_hv(addr, l, err, errlen);
	else
		rc = addr_fail(err, errlen, addr, "unknown address; winside.exe listens on "
		               "tcp:HOST:PORT or hvsock:VMID:PORT");
	if (!rc) {
		l->ev = WSACreateEvent();
		if (l->ev == WSA_INVALID_EVENT || WSAEventSelect(l->s, l->ev, FD_ACCEPT)) {
			l->ev = l->ev == WSA_INVALID_EVENT ? NULL : l->ev;
			rc = sock_fail(err, errlen, addr, "WSAEventSelect");
		}
	}
	if (rc)
		ws_win32_listener_close(l);
	return rc;
}

SOCKET ws_win32_accept(struct ws_win32_listener *l, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	WSANETWORKEVENTS ne;
	u_long blocking = 0;
	BOOL one = TRUE;
	SOCKET c;

	WSAEnumNetworkEvents(l->s, l->ev, &ne);
	memset(&ss, 0, sizeof(ss));
	c = accept(l->s, (struct sockaddr *)&ss, &sl);
	if (c == INVALID_SOCKET)
		return c;
	/* An accepted socket inherits the listener's event selection and
	 * with it non-blocking mode; the session threads want blocking I/O. */
	WSAEventSelect(c, NULL, 0);
	ioctlsocket(c, FIONBIO, &blocking);
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
		tcp_name((struct sockaddr *)&ss, sl, peer, peerlen);
	} else if (ss.ss_family == AF_HYPERV) {
		char g[40];

		ws_win32_guid_format((const struct ws_guid *)&((SOCKADDR_HV *)&ss)->VmId, g, sizeof(g));
		snprintf(peer, peerlen, "hvsock:%s", g);
	} else {
		snprintf(peer, peerlen, "%s", l->bound);
	}
	return c;
}

void ws_win32_listener_close(struct ws_win32_listener *l)
{
	if (l->s != INVALID_SOCKET)
		closesocket(l->s);
	if (l->ev)
		WSACloseEvent(l->ev);
	l->s = INVALID_SOCKET;
	l->ev = NULL;
}
