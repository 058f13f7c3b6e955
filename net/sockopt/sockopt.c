/*
 * trellis_sockopt: the few socket options Node.js cannot set, as a Node-API
 * addon (C, no node-gyp; built by scripts/build-native). See README.md.
 *
 *   TCP_MD5SIG                    RFC 2385 TCP MD5 signatures, one key per peer
 *   IP_TTL / IPV6_UNICAST_HOPS     the TTL we send with (GTSM: 255)
 *   IP_MINTTL / IPV6_MINHOPCOUNT   the lowest TTL we accept (RFC 5082 GTSM)
 *   IP_RECVTTL / IPV6_RECVHOPLIMIT + recvmsg: the TTL of a received datagram
 *                                  (BFD single-hop, RFC 5881 §5)
 *
 * A TCP socket that needs a key before its SYN is made here (socket(),
 * options, bind()) and handed to Node unconnected: net.Socket({ fd }) then
 * connect() runs Node's own non-blocking connect on it.
 *
 * Every function throws a JS Error whose `code` is the errno name (EINVAL,
 * ENOENT, ...) and whose `syscall` says which call failed; none of them
 * blocks.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif
#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73
#endif

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, text, error;
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value sc, no;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, error, "errno", no);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= want;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_number && napi_get_value_int32(env, v, out) == napi_ok;
}

static int get_str(napi_env env, napi_value v, char *buf, size_t len) {
  napi_valuetype t;
  size_t n;
  napi_typeof(env, v, &t);
  if (t != napi_string) return 0;
  return napi_get_value_string_utf8(env, v, buf, len, &n) == napi_ok && n < len - 1;
}

static napi_value make_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* A call whose only argument is a file descriptor. */
static int get_fd_arg(napi_env env, napi_callback_info info, int32_t *fd) {
  napi_value argv[1];
  return get_args(env, info, 1, argv) && get_int(env, argv[0], fd);
}

/* A Buffer argument's memory and length (the caller's: read or written in this call only). */
static int get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool isbuf = false;
  napi_is_buffer(env, v, &isbuf);
  return isbuf && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

/*
 * { address, port } of a socket address. `unmap`: an IPv4 peer of a
 * dual-stack socket (::ffff:a.b.c.d) is given as a.b.c.d.
 */
static napi_value endpoint(napi_env env, const struct sockaddr_storage *ss, bool unmap) {
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s->sin_addr, text, sizeof text);
    port = ntohs(s->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    if (unmap && IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], text, sizeof text);
    else inet_ntop(AF_INET6, &s->sin6_addr, text, sizeof text);
    port = ntohs(s->sin6_port);
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "address", v);
  napi_set_named_property(env, out, "port", make_int(env, port));
  return out;
}

/* The family of the socket behind fd (AF_INET or AF_INET6), or -1 with errno. */
static int sock_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  return ss.ss_family;
}

/*
 * Fill `ss` with `addr`:`port` in the socket's family. An IPv4 address on an
 * AF_INET6 socket becomes ::ffff:a.b.c.d (a dual-stack listener on "::" sees
 * IPv4 peers that way, and the kernel keys their MD5 on the IPv4 address).
 * Returns the length, 0 for a bad address, -1 for an IPv6 address on an
 * AF_INET socket.
 */
static socklen_t fill_addr(int family, const char *addr, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  struct in6_addr a6;
  if (family == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, addr, &a4) != 1) return inet_pton(AF_INET6, addr, &a6) == 1 ? (socklen_t)-1 : 0;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    s->sin_addr = a4;
    return sizeof *s;
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, addr, &a6) == 1) {
    s->sin6_addr = a6;
  } else if (inet_pton(AF_INET, addr, &a4) == 1) {
    s->sin6_addr.s6_addr[10] = 0xff;
    s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
  } else {
    return 0;
  }
  return sizeof *s;
}

/*
 * `addr`:`port` for fd's socket (fill_addr in the socket's family): its
 * length, or 0 with an error thrown (EAFNOSUPPORT naming `syscall` for an
 * address the socket cannot take).
 */
static socklen_t socket_addr(napi_env env, int fd, const char *addr, int port, struct sockaddr_storage *ss,
                             const char *syscall) {
  int fam = sock_family(fd);
  if (fam < 0) {
    throw_errno(env, "getsockname", errno);
    return 0;
  }
  socklen_t len = fill_addr(fam, addr, port, ss);
  if (len == 0 || len == (socklen_t)-1) {
    throw_errno(env, syscall, EAFNOSUPPORT);
    return 0;
  }
  return len;
}

/*
 * The (fd, address, port) arguments of bind() and sendTo(): the fd at
 * argv[0], the address and port at argv[at] and argv[at + 1] (port from
 * `min_port` to 65535), resolved by socket_addr() for `syscall`. The
 * sockaddr's length, or 0 with an error thrown (a TypeError with `usage`
 * for arguments of the wrong type).
 */
static socklen_t endpoint_args(napi_env env, napi_value *argv, size_t at, int min_port, const char *usage,
                               const char *syscall, int32_t *fd, struct sockaddr_storage *ss) {
  int32_t port;
  char addr[64];
  if (!get_int(env, argv[0], fd) || !get_str(env, argv[at], addr, sizeof addr) ||
      !get_int(env, argv[at + 1], &port) || port < min_port || port > 65535) {
    throw_type(env, usage);
    return 0;
  }
  return socket_addr(env, *fd, addr, port, ss, syscall);
}

/* A non-blocking, close-on-exec socket of `type` in the family of the call's argument (4 | 6). */
static napi_value new_socket(napi_env env, napi_callback_info info, int type, const char *usage) {
  napi_value argv[1];
  int32_t fam;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fam) || (fam != 4 && fam != 6))
    return throw_type(env, usage);
  int fd = socket(fam == 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (fam == 6 && type == SOCK_DGRAM) {
    int off = 0; /* dual stack: an IPv6 UDP socket also takes IPv4 (as ::ffff:a.b.c.d) */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  return make_int(env, fd);
}

/* tcpSocket(family: 4 | 6) -> fd: a non-blocking, close-on-exec TCP socket. */
static napi_value tcp_socket(napi_env env, napi_callback_info info) {
  return new_socket(env, info, SOCK_STREAM, "tcpSocket(family: 4 | 6)");
}

/* udpSocket(family: 4 | 6) -> fd: a non-blocking, close-on-exec UDP socket. */
static napi_value udp_socket(napi_env env, napi_callback_info info) {
  return new_socket(env, info, SOCK_DGRAM, "udpSocket(family: 4 | 6)");
}

/* bind(fd, address, port): address in the socket's family ("0.0.0.0", "::", a peer-side local address). */
static napi_value bind_fd(napi_env env, napi_callback_info info) {
  static const char *usage = "bind(fd: number, address: string, port: number)";
  napi_value argv[3];
  int32_t fd;
  struct sockaddr_storage ss;
  if (!get_args(env, info, 3, argv)) return throw_type(env, usage);
  socklen_t len = endpoint_args(env, argv, 1, 0, usage, "bind", &fd, &ss);
  if (len == 0) return NULL;
  int one = 1, type = 0;
  socklen_t tlen = sizeof type;
  /* TCP only: a restarted speaker rebinds its port despite TIME_WAIT. Never UDP, where it would let two binds share a port. */
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return throw_errno(env, "bind", errno);
  return NULL;
}

/* closeFd(fd): for a socket never handed to Node. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!get_fd_arg(env, info, &fd)) return throw_type(env, "closeFd(fd: number)");
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/*
 * setMd5Key(fd, peer, key): RFC 2385 key for segments to and from `peer` on
 * this socket (TCP_MD5SIG, struct tcp_md5sig). On a listening socket the
 * keys are per peer and copied to each accepted connection. An empty key
 * removes the peer's key (ENOENT when there was none).
 */
static napi_value set_md5_key(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  char addr[64];
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &fd) || !get_str(env, argv[1], addr, sizeof addr))
    return throw_type(env, "setMd5Key(fd: number, peer: string, key: Buffer)");
  void *data;
  size_t keylen;
  if (!get_buffer(env, argv[2], &data, &keylen)) return throw_type(env, "setMd5Key: key must be a Buffer");
  if (keylen > TCP_MD5SIG_MAXKEYLEN) return throw_errno(env, "setsockopt(TCP_MD5SIG)", EMSGSIZE);
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  if (socket_addr(env, fd, addr, 0, (struct sockaddr_storage *)&sig.tcpm_addr, "setsockopt(TCP_MD5SIG)") == 0) return NULL;
  sig.tcpm_keylen = (uint16_t)keylen;
  if (keylen) memcpy(sig.tcpm_key, data, keylen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0)
    return throw_errno(env, "setsockopt(TCP_MD5SIG)", errno);
  return NULL;
}

/*
 * Set an IPv4 option and, on an AF_INET6 socket, its IPv6 twin too: a
 * dual-stack socket carries IPv4 peers as ::ffff:a.b.c.d, and their packets
 * follow the IPv4 option (the kernel reaches ip_setsockopt from an IPv6
 * socket for SOL_IP).
 */
static napi_value set_dual(napi_env env, int fd, int v4opt, const char *v4name, int v6opt, const char *v6name,
                           int v) {
  int fam = sock_family(fd);
  if (fam < 0) return throw_errno(env, "getsockname", errno);
  if (fam == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, v6opt, &v, sizeof v) < 0) return throw_errno(env, v6name, errno);
  if (setsockopt(fd, IPPROTO_IP, v4opt, &v, sizeof v) < 0) return throw_errno(env, v4name, errno);
  return NULL;
}

/* set_dual() with the value of the call's (fd, value) arguments, which must lie in lo..hi. */
static napi_value set_both(napi_env env, napi_callback_info info, const char *what, int v4opt, int v6opt, int lo,
                           int hi) {
  napi_value argv[2];
  int32_t fd, v;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &v) || v < lo || v > hi)
    return throw_type(env, what);
  return set_dual(env, fd, v4opt, "setsockopt(IPPROTO_IP)", v6opt, "setsockopt(IPPROTO_IPV6)", v);
}

/* setTtl(fd, ttl 1..255, or -1 for the system default): IP_TTL (+ IPV6_UNICAST_HOPS). */
static napi_value set_ttl(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t v = 0;
  if (get_args(env, info, 2, argv) && get_int(env, argv[1], &v) && v == 0)
    return throw_type(env, "setTtl(fd: number, ttl: 1..255 | -1)");
  return set_both(env, info, "setTtl(fd: number, ttl: 1..255 | -1)", IP_TTL, IPV6_UNICAST_HOPS, -1, 255);
}

/* setMinTtl(fd, ttl 0..255): IP_MINTTL (+ IPV6_MINHOPCOUNT); 0 turns the check off. */
static napi_value set_min_ttl(napi_env env, napi_callback_info info) {
  return set_both(env, info, "setMinTtl(fd: number, ttl: 0..255)", IP_MINTTL, IPV6_MINHOPCOUNT, 0, 255);
}

/* getSockInt(fd, "ttl" | "minttl" | "hops" | "minhops") -> the option's value (for tests and status). */
static napi_value get_sock_int(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  char name[16];
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_str(env, argv[1], name, sizeof name))
    return throw_type(env, "getSockInt(fd: number, name: string)");
  int level, opt;
  if (!strcmp(name, "ttl")) level = IPPROTO_IP, opt = IP_TTL;
  else if (!strcmp(name, "minttl")) level = IPPROTO_IP, opt = IP_MINTTL;
  else if (!strcmp(name, "hops")) level = IPPROTO_IPV6, opt = IPV6_UNICAST_HOPS;
  else if (!strcmp(name, "minhops")) level = IPPROTO_IPV6, opt = IPV6_MINHOPCOUNT;
  else return throw_type(env, "getSockInt: name must be ttl, minttl, hops or minhops");
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) return throw_errno(env, "getsockopt", errno);
  return make_int(env, v);
}

/*
 * saveSyn(fd): on a listener, keep each connection's SYN (TCP_SAVE_SYN), so
 * that synTtl() can tell the TTL the connection arrived with (GTSM per peer
 * on a listener shared by every peer).
 */
static napi_value save_syn(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!get_fd_arg(env, info, &fd)) return throw_type(env, "saveSyn(fd: number)");
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_SAVE_SYN, &one, sizeof one) < 0)
    return throw_errno(env, "setsockopt(TCP_SAVE_SYN)", errno);
  return NULL;
}

/*
 * synTtl(fd) -> the TTL / hop limit of the SYN of an accepted connection
 * (TCP_SAVED_SYN: its IP header), or -1 when none was saved. The kernel
 * hands the saved SYN out once.
 */
static napi_value syn_ttl(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!get_fd_arg(env, info, &fd)) return throw_type(env, "synTtl(fd: number)");
  unsigned char buf[512];
  socklen_t len = sizeof buf;
  if (getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, buf, &len) < 0 || len < 1) return make_int(env, -1);
  int version = buf[0] >> 4;
  if (version == 4 && len >= 20) return make_int(env, buf[8]);  /* IPv4 TTL */
  if (version == 6 && len >= 40) return make_int(env, buf[7]);  /* IPv6 Hop Limit */
  return make_int(env, -1);
}

/* setRecvTtl(fd): ask for the TTL / hop limit of each datagram (IP_RECVTTL, IPV6_RECVHOPLIMIT). */
static napi_value set_recv_ttl(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!get_fd_arg(env, info, &fd)) return throw_type(env, "setRecvTtl(fd: number)");
  return set_dual(env, fd, IP_RECVTTL, "setsockopt(IP_RECVTTL)", IPV6_RECVHOPLIMIT, "setsockopt(IPV6_RECVHOPLIMIT)", 1);
}

/*
 * recvFrom(fd, buf) -> null when nothing is waiting (EAGAIN), else
 * { length, address, port, ttl } with ttl -1 when the kernel gave none.
 * The datagram is written into buf (truncated to its size: `length` is the
 * datagram's real size, so length > buf.length means truncated).
 */
static napi_value recv_from(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd))
    return throw_type(env, "recvFrom(fd: number, buf: Buffer)");
  void *data;
  size_t cap;
  if (!get_buffer(env, argv[1], &data, &cap)) return throw_type(env, "recvFrom: buf must be a Buffer");
  struct sockaddr_storage from;
  char cbuf[CMSG_SPACE(sizeof(int)) * 4];
  struct iovec iov = {.iov_base = data, .iov_len = cap};
  struct msghdr msg = {.msg_name = &from,
                       .msg_namelen = sizeof from,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return throw_errno(env, "recvmsg", errno);
  }
  int ttl = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
      memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
  }
  napi_value out = endpoint(env, &from, true);
  napi_set_named_property(env, out, "length", make_int(env, (int32_t)n));
  napi_set_named_property(env, out, "ttl", make_int(env, ttl));
  return out;
}

/* sendTo(fd, buf, address, port) -> bytes sent, or -1 when the socket buffer is full (EAGAIN). */
static napi_value send_to(napi_env env, napi_callback_info info) {
  static const char *usage = "sendTo(fd: number, buf: Buffer, address: string, port: number)";
  napi_value argv[4];
  int32_t fd;
  void *data;
  size_t len;
  if (!get_args(env, info, 4, argv)) return throw_type(env, usage);
  if (!get_buffer(env, argv[1], &data, &len)) return throw_type(env, "sendTo: buf must be a Buffer");
  struct sockaddr_storage ss;
  socklen_t slen = endpoint_args(env, argv, 2, 1, usage, "sendto", &fd, &ss);
  if (slen == 0) return NULL;
  ssize_t n = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, slen);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int(env, -1);
    return throw_errno(env, "sendto", errno);
  }
  return make_int(env, (int32_t)n);
}

/* sockName(fd) -> { address, port }: where the socket is bound. */
static napi_value sock_name(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!get_fd_arg(env, info, &fd)) return throw_type(env, "sockName(fd: number)");
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, "getsockname", errno);
  return endpoint(env, &ss, false);
}

/*
 * watch(fd, callback) -> handle: call callback() on the main thread each time
 * fd is readable (a libuv poll on Node's own loop), until unwatch(handle).
 * The callback runs as a normal macrotask: promises and nextTicks it queues
 * run right after it, and what it throws is an uncaught exception.
 */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int stopped;
} watch_t;

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  watch_t *w = h->data;
  if (w->stopped) return;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, recv, result;
  napi_get_reference_value(w->env, w->cb, &cb);
  napi_get_global(w->env, &recv);
  /* napi_make_callback runs the nextTick and microtask queues afterwards, as for any I/O callback. */
  if (napi_make_callback(w->env, w->ctx, recv, cb, 0, NULL, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(w->env, &err);
    napi_fatal_exception(w->env, err);
  }
  napi_close_handle_scope(w->env, scope);
}

static void on_closed(uv_handle_t *h) { free(h->data); }

/* Drops the callback and the async context of a watch whose poll is not running, and frees it once libuv has closed the poll. */
static void watch_release(napi_env env, watch_t *w) {
  napi_delete_reference(env, w->cb);
  napi_async_destroy(env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static napi_value watch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  napi_valuetype t = napi_undefined;
  if (get_args(env, info, 2, argv)) napi_typeof(env, argv[1], &t);
  if (t != napi_function || !get_int(env, argv[0], &fd)) return throw_type(env, "watch(fd: number, callback: () => void)");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "napi_get_uv_event_loop", EINVAL);
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "calloc", ENOMEM);
  w->env = env;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return throw_errno(env, "uv_poll_init", -rc);
  }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "trellis_sockopt.watch", NAPI_AUTO_LENGTH, &name);
  napi_value resource;
  napi_create_object(env, &resource);
  napi_async_init(env, resource, name, &w->ctx);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    watch_release(env, w);
    return throw_errno(env, "uv_poll_start", -rc);
  }
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

/* unwatch(handle): stop and free a watch (a second call is a no-op). Close the fd after this. */
static napi_value unwatch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  if (get_args(env, info, 1, argv)) napi_typeof(env, argv[0], &t);
  if (t != napi_external) return throw_type(env, "unwatch(handle)");
  watch_t *w;
  napi_get_value_external(env, argv[0], (void **)&w);
  if (!w || w->stopped) return NULL;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  watch_release(env, w);
  return NULL;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("tcpSocket", tcp_socket), FN("udpSocket", udp_socket),     FN("bind", bind_fd),
      FN("closeFd", close_fd),     FN("setMd5Key", set_md5_key),    FN("setTtl", set_ttl),
      FN("setMinTtl", set_min_ttl), FN("getSockInt", get_sock_int), FN("setRecvTtl", set_recv_ttl),
      FN("recvFrom", recv_from),   FN("sendTo", send_to),       FN("sockName", sock_name),
      FN("saveSyn", save_syn),     FN("synTtl", syn_ttl),
      FN("watch", watch_fd),       FN("unwatch", unwatch_fd),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
