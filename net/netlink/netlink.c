/*
 * trellis_netlink: netlink exchanges (rtnetlink, ctnetlink) off the Node.js main thread, in any
 * network namespace, as a Node-API addon (C, no node-gyp; built by
 * scripts/build-native). See README.md.
 *
 * The addon knows nothing of links, addresses or routes: the messages are
 * built and parsed in TypeScript (rtnetlink.ts). It does the three things
 * JavaScript cannot:
 *
 *   exchange(netns, request, timeoutMs[, protocol]) -> Promise<Buffer>
 *       On a libuv pool thread: (when netns is a path) enter that network
 *       namespace with setns(2), which moves only the calling thread
 *       (CLONE_NEWNET is per task), open a netlink socket of `protocol`
 *       (NETLINK_ROUTE, the default, or NETLINK_NETFILTER for ctnetlink:
 *       agent/policy's conntrack revocation), and at once
 *       setns back to the thread's own namespace. A netlink socket stays
 *       bound to the namespace it was created in (net/netlink/af_netlink.c:
 *       sock_net(sk) is fixed at socket()), so everything sent on it later
 *       acts there. Then send the request (one or more nlmsghdr's) and read
 *       until every request message is answered: NLMSG_ERROR (an error or,
 *       with NLM_F_ACK, the ack) for a plain request, NLMSG_DONE (or an
 *       error) for a dump. Resolves with every byte the kernel sent.
 *       The main thread never changes namespace, and never blocks.
 *       A NETLINK_NETFILTER socket is not closed after the exchange but
 *       kept, one per namespace, as transaction() keeps its own (below):
 *       revocation runs after every policy apply, and each close would make
 *       the next nf_tables transaction of the namespace wait.
 *
 *   writeSysctls(netns, paths, values) -> Promise<void>
 *       On a libuv pool thread: (when netns is a path) enter that namespace,
 *       write each value to its /proc/sys/net/... file, come back. Files
 *       under /proc/sys/net belong to the network namespace of the task that
 *       opens them (the sysctl tables are looked up in current->nsproxy->
 *       net_ns, net/sysctl_net.c net_ctl_header_lookup), not to the
 *       namespace of whoever mounted /proc: so the writer must be a thread
 *       inside the target namespace. Only paths under /proc/sys/net/.
 *
 *   chain(netnsA, netnsB, program, timeoutMs) -> Promise<Buffer>
 *       Dependent steps in two namespaces in one pass on one pool thread:
 *       the routed veth's configuration (agent/dataplane), where the pod
 *       side's addresses and routes need the pod interface's index and the
 *       host routes the host end's, each read by an earlier step. `program`
 *       is a list of stages (CHAIN PROGRAM below); each stage is either
 *       netlink requests sent on a socket of namespace A or B (one datagram,
 *       read until every request is answered, as exchange()) or sysctl
 *       writes from inside A or B (as writeSysctls()). A stage may keep the
 *       ifindex of its first RTM_NEWLINK answer in a slot, and a later stage
 *       has it written into its requests at the offsets it names, where
 *       they hold the slot's placeholder (CHAIN_PLACEHOLDER + slot: checked,
 *       so a wrong offset is refused rather than patched). The pass stops
 *       after the first stage the kernel refused a request of. Resolves with
 *       every stage's answers, each as u32 stage index, u32 length, answers;
 *       rejects when a step itself failed (a socket, a namespace, a sysctl
 *       file, a timeout). Each socket is opened once, on first use. One
 *       event-loop turn and one pool hand-off for what took five exchanges,
 *       each waiting for the main thread between them.
 *
 *   batch(netns, request, timeoutMs) -> Promise<Buffer>
 *       For many plain requests at once (bgp/fib: a FIB batch of thousands
 *       of routes). On a pool thread, one socket in netns with large buffers
 *       (SO_SNDBUFFORCE / SO_RCVBUFFORCE where allowed) and NETLINK_CAP_ACK.
 *       The messages are sent in as few datagrams as the socket's buffers
 *       allow; within a datagram only the last message is made to ask for an
 *       ack (the "fence"). The kernel handles a datagram's messages in order
 *       and answers every failed one even without NLM_F_ACK
 *       (af_netlink.c netlink_rcv_skb), so once the fence is answered every
 *       error of the datagram has arrived before it, each with its sequence
 *       number; a message without an answer succeeded. A datagram holds no
 *       more messages than the receive buffer can hold answers for, so even a
 *       datagram of failures loses none; should the kernel still drop one
 *       (ENOBUFS), the whole batch is rejected: its outcome is unknown.
 *       Resolves with every answer (errors and fence acks).
 *
 *   dump(netns, request, timeoutMs, maxBytes[, protocol]) -> Promise<Buffer>
 *       One dump request (NLM_F_DUMP) and every message of its answer up to
 *       NLMSG_DONE, bounded by maxBytes (a FIB of a million routes dumps
 *       about 60 MB, above exchange()'s 64 MiB bound once IPv6 is in it).
 *       The reply is handed to JavaScript without a copy.
 *
 *   transaction(netns, request, timeoutMs) -> Promise<Buffer>
 *       One nfnetlink batch (NFNL_MSG_BATCH_BEGIN ... END: agent/nft's set
 *       element changes, encoded by nftables.ts) sent as one datagram on a
 *       NETLINK_NETFILTER socket in netns, and every answer the kernel queued
 *       for it. The batch must be one datagram: nfnetlink takes one skb as
 *       one transaction (net/netfilter/nfnetlink.c nfnetlink_rcv). And it is
 *       handled synchronously, inside sendto(): netlink_unicast_kernel()
 *       calls nfnetlink_rcv() in the sender's context, which runs the batch,
 *       commits or aborts it and queues every answer (nfnl_err_deliver)
 *       before returning. So once sendto() has returned, the answers are all
 *       in the receive queue: they are read without waiting until it is
 *       empty. (Counting answers, as exchange() does, cannot work here:
 *       BATCH_BEGIN and BATCH_END are answered only by kernels since 6.10,
 *       and a batch refused before its messages are looked at answers once,
 *       for BEGIN.) NETLINK_CAP_ACK keeps errors small; should the kernel
 *       still drop an answer (ENOBUFS), the call fails: the outcome is unknown.
 *
 *       Unlike exchange(), the socket is kept, one per namespace (and
 *       transactions run one at a time): closing a NETLINK_NETFILTER socket
 *       runs nf_tables' NETLINK_URELEASE handler (nf_tables_api.c
 *       nft_rcv_nl_event), which takes the commit mutex and waits for the
 *       destruction of everything earlier transactions removed
 *       (nf_tables_trans_destroy_flush_work: a synchronize_rcu()), 10-20 ms
 *       after any element delete, and every other transaction of the
 *       namespace waits behind it. nft's own session keeps its socket too.
 *       A kept socket is used again only while its path still names the
 *       same namespace (device and inode), so a namespace deleted and made
 *       again under the same name gets a new one. A kept socket holds its
 *       namespace alive (sk_alloc takes a reference on the net) after
 *       `ip netns del`: at most MAX_NF_SOCKETS are kept (the least recently
 *       used one is closed for a new one), and releaseTransactions() closes
 *       one at once.
 *
 *   releaseTransactions(netns) -> Promise<void>
 *       Closes the sockets transaction() and NETLINK_NETFILTER exchanges
 *       keep for netns (on a pool thread: the close may wait for an RCU
 *       grace period, see above).
 *
 *   batch(), chain() and writeSysctls() speak NETLINK_ROUTE only (bgp/fib, the CNI path).
 *
 *   strerror(errno) -> string      the C library's text for an errno
 *   errnoName(errno) -> string     its symbolic name (EEXIST, ...)
 *
 * If a pool thread cannot return to its own namespace (setns back fails,
 * which needs the namespace file it already holds open to vanish: it cannot),
 * the process aborts: a libuv thread left in a pod's namespace would run
 * later unrelated file and socket work there.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_NETFILTER
#define NETLINK_NETFILTER 12
#endif

/* Bounds: a request is what one pod needs (a few KiB); a reply is bounded so a huge dump cannot eat memory. */
#define MAX_REQUEST (1u << 20)
#define MAX_REPLY (64u << 20)
#define MAX_PENDING 256
#define RECV_CHUNK (1u << 16)

typedef struct {
  /* in */
  char *netns; /* NULL: the thread's own namespace */
  uint8_t *req;
  size_t req_len;
  int timeout_ms;
  size_t max_reply; /* bound of the reply: MAX_REPLY, or dump()'s maxBytes */
  int protocol;     /* NETLINK_ROUTE or NETLINK_NETFILTER */
  /* out */
  uint8_t *reply;
  size_t reply_len;
  size_t reply_cap;     /* batch(), transaction(): what is allocated for the reply */
  int err;              /* errno of the failed step, 0 on success */
  const char *syscall;  /* which step failed */
  napi_deferred deferred;
  napi_async_work work;
} exchange_t;

typedef struct {
  uint32_t seq;
  int dump;
  int done;
} pending_t;

/* Namespaces with a kept socket: the agent's own, and a test's or benchmark's few. */
#define MAX_NF_SOCKETS 8

/* A kept NETLINK_NETFILTER socket (transaction(), and exchanges on that protocol: see execute()). */
typedef struct {
  char *netns; /* NULL: the slot is free; "" for the thread's own namespace */
  dev_t dev;   /* the namespace file's identity when the socket was made */
  ino_t ino;
  int fd;
  uint64_t used; /* when last used (a counter): the least recently used slot is reused */
} nf_socket_t;

/* Kept sockets of one use, and the lock a user holds from lookup to the last answer read. */
typedef struct {
  nf_socket_t sockets[MAX_NF_SOCKETS];
  uint64_t clock;
  pthread_mutex_t lock;
  int transactions; /* 1: nf_tables batches (CAP_ACK, large buffers); 0: exchanges and dumps */
} nf_pool_t;

static int fail(exchange_t *x, const char *syscall, int err) {
  if (x->err == 0) {
    x->err = err;
    x->syscall = syscall;
  }
  return -1;
}

/*
 * Moves this thread into the network namespace at `path`. Returns the fd of
 * the thread's own namespace to come back to with leave_netns(), or -1 with
 * *err and *syscall set.
 */
static int enter_netns(const char *path, int *err, const char **syscall) {
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    *err = errno;
    *syscall = "open netns";
    return -1;
  }
  /* This thread's own namespace (not the process's: they are the same here, but be exact). */
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *err = errno;
    *syscall = "open /proc/thread-self/ns/net";
    close(target);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    /* EINVAL: the path is not a network namespace. */
    *err = errno;
    *syscall = "setns";
    close(self);
    close(target);
    return -1;
  }
  close(target);
  return self;
}

static void leave_netns(int self) {
  if (setns(self, CLONE_NEWNET) < 0) {
    fprintf(stderr, "trellis_netlink: cannot return a pool thread to its network namespace: %s; aborting\n",
            strerror(errno));
    abort();
  }
  close(self);
}

/* Opens the socket in x->netns (or here). Returns the fd, or -1 after fail(). */
static int open_socket(exchange_t *x) {
  int self = -1;
  if (x->netns != NULL) {
    int err = 0;
    const char *sc = NULL;
    self = enter_netns(x->netns, &err, &sc);
    if (self < 0) {
      fail(x, sc, err);
      return -1;
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, x->protocol);
  if (fd < 0) fail(x, "socket", errno);
  if (self >= 0) leave_netns(self);
  return fd;
}

static int collect_pending(exchange_t *x, pending_t *p, size_t *n) {
  size_t off = 0;
  *n = 0;
  while (off + sizeof(struct nlmsghdr) <= x->req_len) {
    struct nlmsghdr h;
    memcpy(&h, x->req + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > x->req_len || *n >= MAX_PENDING) return -1;
    p[*n].seq = h.nlmsg_seq;
    p[*n].dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    /* Without NLM_F_ACK a successful plain request gets no answer, and we could not know it is done. */
    if (!p[*n].dump && !(h.nlmsg_flags & NLM_F_ACK)) return -1;
    p[*n].done = 0;
    (*n)++;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return off >= x->req_len && *n > 0 ? 0 : -1;
}

/* Marks what the datagram `buf` completes; returns how many it completed. */
static size_t settle(pending_t *p, size_t n, const uint8_t *buf, size_t len) {
  size_t off = 0, done = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    struct nlmsghdr h;
    memcpy(&h, buf + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > len) break;
    if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE) {
      for (size_t i = 0; i < n; i++) {
        if (!p[i].done && p[i].seq == h.nlmsg_seq) {
          p[i].done = 1;
          done++;
          break;
        }
      }
    }
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return done;
}

/* Every socket: extended acks (the kernel's own words for an error, NLMSGERR_ATTR_MSG) and a receive timeout. */
static void socket_options(int fd, int timeout_ms) {
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* One request and its answers on `fd` (exchange(), dump()). Returns 0, or -1 after fail(). */
static int exchange_on(exchange_t *x, int fd, pending_t *pending, size_t npending) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent = sendto(fd, x->req, x->req_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  if (sent < 0 || (size_t)sent != x->req_len) return fail(x, "sendto", sent < 0 ? errno : EMSGSIZE);
  size_t cap = RECV_CHUNK * 2, remaining = npending;
  x->reply = malloc(cap);
  if (x->reply == NULL) return fail(x, "malloc", ENOMEM);
  while (remaining > 0) {
    if (cap - x->reply_len < RECV_CHUNK) {
      if (cap >= x->max_reply) return fail(x, "recv (reply larger than its bound)", E2BIG);
      uint8_t *grown = realloc(x->reply, cap * 2);
      if (grown == NULL) return fail(x, "realloc", ENOMEM);
      x->reply = grown;
      cap *= 2;
    }
    ssize_t got = recv(fd, x->reply + x->reply_len, RECV_CHUNK, MSG_TRUNC);
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(x, errno == EAGAIN ? "recv (timed out)" : "recv", errno == EAGAIN ? ETIMEDOUT : errno);
    }
    if ((size_t)got > RECV_CHUNK) return fail(x, "recv (datagram truncated)", EMSGSIZE);
    size_t settled = settle(pending, npending, x->reply + x->reply_len, (size_t)got);
    x->reply_len += (size_t)got;
    remaining -= settled < remaining ? settled : remaining;
  }
  return 0;
}

/* Strict checking lets a dump be filtered by the kernel (RTM_GETROUTE by table and protocol). */
static void strict_check(int fd) {
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
}

static int kept_socket(nf_pool_t *pool, exchange_t *x);
static void kept_socket_drop_fd(nf_pool_t *pool, int fd);
static nf_pool_t nf_exchanges;

static void execute(napi_env env, void *data) {
  (void)env;
  exchange_t *x = data;
  pending_t pending[MAX_PENDING];
  size_t npending = 0;
  if (collect_pending(x, pending, &npending) < 0) {
    fail(x, "request framing", EINVAL);
    return;
  }
  if (x->protocol == NETLINK_NETFILTER) {
    /* ctnetlink (policy revocation) on a kept socket: closing one would wait
     * for nf_tables' destroy work under its commit mutex (transaction() below). */
    pthread_mutex_lock(&nf_exchanges.lock);
    int fd = kept_socket(&nf_exchanges, x);
    if (fd >= 0) {
      socket_options(fd, x->timeout_ms);
      /* After a failure the socket may hold answers no one read: it is not used again. */
      if (exchange_on(x, fd, pending, npending) < 0) kept_socket_drop_fd(&nf_exchanges, fd);
    }
    pthread_mutex_unlock(&nf_exchanges.lock);
    return;
  }
  int fd = open_socket(x);
  if (fd < 0) return;
  socket_options(fd, x->timeout_ms);
  strict_check(fd);
  exchange_on(x, fd, pending, npending);
  close(fd);
}

static napi_value make_error(napi_env env, const char *syscall, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "netlink %s: %s", syscall, strerror(err));
  napi_value code, text, error, sc, no;
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, error, "errno", no);
  return error;
}

/* Rejects with the failed step, or resolves with a copy of the reply. */
static void settle_reply(napi_env env, napi_deferred deferred, int err, const char *syscall, const uint8_t *reply,
                         size_t len) {
  if (err != 0) {
    napi_reject_deferred(env, deferred, make_error(env, syscall, err));
    return;
  }
  napi_value buf;
  void *copy;
  if (napi_create_buffer_copy(env, len, len > 0 ? reply : (const uint8_t *)"", &copy, &buf) == napi_ok)
    napi_resolve_deferred(env, deferred, buf);
  else
    napi_reject_deferred(env, deferred, make_error(env, "reply buffer", ENOMEM));
}

/* ---- batch ---- */

/* Bounds of batch(): a FIB batch is a few hundred KiB; its answers are errors and one ack per datagram. */
#define MAX_BATCH_REQUEST (64u << 20)
#define BATCH_SNDBUF (4 << 20)
#define BATCH_RCVBUF (8 << 20)
/*
 * What one answer may occupy in the receive buffer (skb truesize): an error
 * with NETLINK_CAP_ACK is the nlmsgerr and the extended-ack TLVs (under 512
 * octets of data) plus the sk_buff and its shared info. Twice that, to be safe.
 */
#define ANSWER_TRUESIZE 2048
#define BATCH_RECV_VEC 64
/* An answer to a plain request is one small message (CAP_ACK): a datagram of at most a few hundred octets. */
#define BATCH_RECV_SIZE 8192u


/* Grows the reply so that `more` octets fit. */
static int reply_reserve(uint8_t **buf, size_t len, size_t *cap, size_t more, size_t max) {
  if (*cap - len >= more) return 0;
  size_t want = *cap == 0 ? (1u << 16) : *cap;
  while (want - len < more) want *= 2;
  if (want > max) return -1;
  uint8_t *grown = realloc(*buf, want);
  if (grown == NULL) return -1;
  *buf = grown;
  *cap = want;
  return 0;
}

/* setsockopt FORCE (needs CAP_NET_ADMIN, which installing routes needs too), else the plain one; returns what the kernel granted. */
static int grow_buffer(int fd, int force, int plain, int size) {
  if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof size) < 0) setsockopt(fd, SOL_SOCKET, plain, &size, sizeof size);
  int got = 0;
  socklen_t l = sizeof got;
  getsockopt(fd, SOL_SOCKET, plain, &got, &l);
  return got;
}

/* Reads until the message with sequence `fence` is answered, appending every answer to the reply. */
static int batch_drain(exchange_t *x, int fd, uint32_t fence) {
  for (;;) {
    if (reply_reserve(&x->reply, x->reply_len, &x->reply_cap, (size_t)BATCH_RECV_VEC * BATCH_RECV_SIZE, MAX_REPLY) < 0)
      return fail(x, "recv (answers larger than 64 MiB)", E2BIG);
    struct mmsghdr msgs[BATCH_RECV_VEC];
    struct iovec iov[BATCH_RECV_VEC];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH_RECV_VEC; i++) {
      iov[i].iov_base = x->reply + x->reply_len + (size_t)i * BATCH_RECV_SIZE;
      iov[i].iov_len = BATCH_RECV_SIZE;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    /* The first datagram waits (SO_RCVTIMEO); the rest of the vector takes only what is queued already. */
    int got = recvmmsg(fd, msgs, BATCH_RECV_VEC, MSG_WAITFORONE, NULL);
    if (got < 0) {
      if (errno == EINTR) continue;
      /* ENOBUFS: the kernel dropped an answer; the batch's outcome is unknown. */
      return fail(x, errno == EAGAIN ? "recv (timed out)" : "recv", errno == EAGAIN ? ETIMEDOUT : errno);
    }
    int fenced = 0;
    for (int i = 0; i < got; i++) {
      const uint8_t *d = iov[i].iov_base;
      size_t n = msgs[i].msg_len;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || n > BATCH_RECV_SIZE)
        return fail(x, "recv (datagram truncated)", EMSGSIZE);
      /* Compact: datagram i goes right after what is kept so far. */
      if (x->reply + x->reply_len != d) memmove(x->reply + x->reply_len, d, n);
      size_t off = 0;
      while (off + sizeof(struct nlmsghdr) <= n) {
        struct nlmsghdr h;
        memcpy(&h, x->reply + x->reply_len + off, sizeof h);
        if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > n) break;
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_seq == fence) fenced = 1;
        off += NLMSG_ALIGN(h.nlmsg_len);
      }
      x->reply_len += n;
    }
    if (fenced) return 0;
  }
}

static void batch_execute(napi_env env, void *data) {
  (void)env;
  exchange_t *x = data;
  int fd = open_socket(x);
  if (fd < 0) return;
  socket_options(fd, x->timeout_ms);
  int one = 1;
  /* An error echoes only the failed message's header, not the whole message: answers stay small. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int sndbuf = grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, BATCH_SNDBUF);
  int rcvbuf = grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, BATCH_RCVBUF);
  /* netlink_sendmsg refuses a datagram above sk_sndbuf - 32. */
  size_t max_bytes = sndbuf > 4096 ? (size_t)sndbuf - 64 : 4000;
  size_t max_msgs = rcvbuf > ANSWER_TRUESIZE ? (size_t)rcvbuf / ANSWER_TRUESIZE : 1;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  size_t off = 0;
  while (off < x->req_len) {
    /* One datagram: whole messages from `off`, within both bounds. */
    size_t end = off, count = 0, last = off;
    while (end + sizeof(struct nlmsghdr) <= x->req_len && count < max_msgs) {
      struct nlmsghdr h;
      memcpy(&h, x->req + end, sizeof h);
      if (h.nlmsg_len < sizeof h || end + h.nlmsg_len > x->req_len || (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP) {
        fail(x, "request framing", EINVAL);
        close(fd);
        return;
      }
      size_t next = end + NLMSG_ALIGN(h.nlmsg_len);
      if (next - off > max_bytes && count > 0) break;
      last = end;
      end = next > x->req_len ? x->req_len : next;
      count++;
    }
    if (count == 0) {
      fail(x, "request framing", EINVAL);
      break;
    }
    struct nlmsghdr fence;
    memcpy(&fence, x->req + last, sizeof fence);
    fence.nlmsg_flags |= NLM_F_ACK;
    memcpy(x->req + last, &fence, sizeof fence);
    ssize_t sent = sendto(fd, x->req + off, end - off, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (sent < 0 || (size_t)sent != end - off) {
      fail(x, "sendto", sent < 0 ? errno : EMSGSIZE);
      break;
    }
    if (batch_drain(x, fd, fence.nlmsg_seq) < 0) break;
    off = end;
  }
  close(fd);
}

/* ---- transaction: one nfnetlink batch, answered before sendto() returns ---- */

/* A transaction and its answers (one small message per element message, CAP_ACK): a few thousand at most. */
#define TRANSACTION_BUF (2 << 20)
#define TRANSACTION_RECV_SIZE 65536u

/* The two pools of kept NETLINK_NETFILTER sockets: nf_tables transactions, and ctnetlink's exchanges and dumps. */
static nf_pool_t nf_transactions = {.lock = PTHREAD_MUTEX_INITIALIZER, .transactions = 1};
static nf_pool_t nf_exchanges = {.lock = PTHREAD_MUTEX_INITIALIZER, .transactions = 0};

/* The identity of the namespace at `path` (NULL: this thread's own). */
static int netns_identity(const char *path, dev_t *dev, ino_t *ino) {
  struct stat st;
  if (stat(path != NULL ? path : "/proc/thread-self/ns/net", &st) < 0) return -1;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

static void kept_socket_drop(nf_socket_t *s) {
  if (s->netns == NULL) return;
  close(s->fd);
  free(s->netns);
  s->netns = NULL;
}

static void kept_socket_drop_fd(nf_pool_t *pool, int fd) {
  for (int i = 0; i < MAX_NF_SOCKETS; i++)
    if (pool->sockets[i].netns != NULL && pool->sockets[i].fd == fd) kept_socket_drop(&pool->sockets[i]);
}

/*
 * The pool's kept socket for x->netns (the caller holds pool->lock), made
 * when there is none (or its path names another namespace now); -1 after
 * fail().
 */
static int kept_socket(nf_pool_t *pool, exchange_t *x) {
  const char *key = x->netns != NULL ? x->netns : "";
  dev_t dev;
  ino_t ino;
  if (netns_identity(x->netns, &dev, &ino) < 0) return fail(x, "open netns", errno);
  nf_socket_t *slot = NULL;
  for (int i = 0; i < MAX_NF_SOCKETS; i++) {
    nf_socket_t *s = &pool->sockets[i];
    if (s->netns != NULL && strcmp(s->netns, key) == 0) {
      if (s->dev == dev && s->ino == ino) {
        s->used = ++pool->clock;
        return s->fd;
      }
      kept_socket_drop(s);
    }
    if (slot == NULL || (slot->netns != NULL && (s->netns == NULL || s->used < slot->used))) slot = s;
  }
  kept_socket_drop(slot);
  char *copy = strdup(key);
  if (copy == NULL) return fail(x, "malloc", ENOMEM);
  int fd = open_socket(x);
  if (fd < 0) {
    free(copy);
    return -1;
  }
  socket_options(fd, x->timeout_ms);
  if (pool->transactions) {
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    /* The batch is one datagram, which netlink_sendmsg refuses above sk_sndbuf - 32. */
    grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, TRANSACTION_BUF);
    grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, TRANSACTION_BUF);
  } else {
    strict_check(fd);
  }
  *slot = (nf_socket_t){.netns = copy, .dev = dev, .ino = ino, .fd = fd, .used = ++pool->clock};
  return fd;
}

static void transaction_execute(napi_env env, void *data) {
  (void)env;
  exchange_t *x = data;
  pthread_mutex_lock(&nf_transactions.lock);
  int fd = kept_socket(&nf_transactions, x);
  if (fd < 0) {
    pthread_mutex_unlock(&nf_transactions.lock);
    return;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  int ok = 1;
  ssize_t sent = sendto(fd, x->req, x->req_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  if (sent < 0 || (size_t)sent != x->req_len) {
    fail(x, "sendto", sent < 0 ? errno : EMSGSIZE);
    ok = 0;
  }
  while (ok) {
    if (reply_reserve(&x->reply, x->reply_len, &x->reply_cap, TRANSACTION_RECV_SIZE, MAX_REPLY) < 0) {
      fail(x, "recv (answers larger than 64 MiB)", E2BIG);
      ok = 0;
      break;
    }
    ssize_t got = recv(fd, x->reply + x->reply_len, TRANSACTION_RECV_SIZE, MSG_DONTWAIT | MSG_TRUNC);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break; /* every queued answer read */
      fail(x, "recv", errno);
      ok = 0;
      break;
    }
    if ((size_t)got > TRANSACTION_RECV_SIZE) {
      fail(x, "recv (datagram truncated)", EMSGSIZE);
      ok = 0;
      break;
    }
    x->reply_len += (size_t)got;
  }
  /* After a failure the socket may hold answers no one read: it is not used again. */
  if (!ok) kept_socket_drop_fd(&nf_transactions, fd);
  pthread_mutex_unlock(&nf_transactions.lock);
}

static void release_execute(napi_env env, void *data) {
  (void)env;
  exchange_t *x = data;
  const char *key = x->netns != NULL ? x->netns : "";
  nf_pool_t *pools[] = {&nf_transactions, &nf_exchanges};
  for (size_t p = 0; p < sizeof pools / sizeof pools[0]; p++) {
    pthread_mutex_lock(&pools[p]->lock);
    for (int i = 0; i < MAX_NF_SOCKETS; i++)
      if (pools[p]->sockets[i].netns != NULL && strcmp(pools[p]->sockets[i].netns, key) == 0)
        kept_socket_drop(&pools[p]->sockets[i]);
    pthread_mutex_unlock(&pools[p]->lock);
  }
}

/* ---- dump: execute() with the caller's bound, and the reply handed over without a copy ---- */

static void free_reply(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void exchange_free(void *data) {
  exchange_t *x = data;
  free(x->netns);
  free(x->req);
  free(x->reply);
  free(x);
}

static void dump_complete(napi_env env, napi_status status, void *data) {
  exchange_t *x = data;
  if (status != napi_ok) fail(x, "async work", ECANCELED);
  napi_value buf;
  /* The reply becomes the Buffer's memory (no copy of tens of MB), trimmed to size and freed with it. */
  uint8_t *fit = x->err == 0 && x->reply_len > 0 ? realloc(x->reply, x->reply_len) : NULL;
  if (fit != NULL && napi_create_external_buffer(env, x->reply_len, fit, free_reply, NULL, &buf) == napi_ok) {
    napi_resolve_deferred(env, x->deferred, buf);
    x->reply = NULL;
  } else {
    if (fit != NULL) x->reply = fit;
    settle_reply(env, x->deferred, x->err, x->syscall, x->reply, x->reply_len);
  }
  napi_delete_async_work(env, x->work);
  exchange_free(x);
}

static void complete(napi_env env, napi_status status, void *data) {
  exchange_t *x = data;
  if (status != napi_ok) fail(x, "async work", ECANCELED);
  settle_reply(env, x->deferred, x->err, x->syscall, x->reply, x->reply_len);
  napi_delete_async_work(env, x->work);
  exchange_free(x);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* N-API's reason for the last failed call, read at once (the next call overwrites it). */
static const char *napi_reason(napi_env env, napi_status st) {
  const napi_extended_error_info *info = NULL;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL)
    return info->error_message;
  return st == napi_generic_failure ? "generic failure" : "refused";
}

/*
 * Queues `exec` on the libuv pool (then `done` on the main thread) and
 * returns the promise `done` settles. Should N-API refuse to create or queue
 * the work (no memory; an environment being torn down), `done` never runs:
 * then the promise is rejected here, with the step and N-API's reason, and
 * `release` frees `data` (the request would otherwise leak, its promise
 * pending for ever). When not even the promise can be made, the call throws.
 */
static napi_value queue(napi_env env, const char *what, napi_async_execute_callback exec,
                        napi_async_complete_callback done, void *data, void (*release)(void *),
                        napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, name;
  napi_status st = napi_create_promise(env, deferred, &promise);
  if (st != napi_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: cannot create its promise (%s)", what, napi_reason(env, st));
    release(data);
    napi_throw_error(env, "ERR_TRELLIS_NETLINK_QUEUE", msg);
    return NULL;
  }
  const char *step = "napi_create_async_work";
  st = napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok) st = napi_create_async_work(env, NULL, name, exec, done, data, work);
  if (st == napi_ok) {
    step = "napi_queue_async_work";
    st = napi_queue_async_work(env, *work);
    if (st == napi_ok) return promise;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s failed (%s)", what, step, napi_reason(env, st));
  /* Created but not queued: the work is ours to delete. */
  if (strcmp(step, "napi_queue_async_work") == 0) napi_delete_async_work(env, *work);
  napi_value code, text, error;
  napi_create_string_utf8(env, "ERR_TRELLIS_NETLINK_QUEUE", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_reject_deferred(env, *deferred, error);
  release(data);
  return promise;
}

/* ---- writeSysctls ---- */

typedef struct {
  char *netns;
  size_t n;
  char **paths;
  char **values;
  int err;
  const char *syscall;
  size_t failed; /* index of the path that failed */
  napi_deferred deferred;
  napi_async_work work;
} sysctls_t;

/* Writes `value` to the sysctl file `path` as this thread sees it. Returns 0, or -1 with *err and *syscall set. */
static int write_sysctl(const char *path, const char *value, int *err, const char **syscall) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    *syscall = "open";
    return -1;
  }
  size_t len = strlen(value);
  ssize_t w = write(fd, value, len);
  int rc = 0;
  if (w < 0 || (size_t)w != len) {
    *err = w < 0 ? errno : EIO;
    *syscall = "write";
    rc = -1;
  }
  close(fd);
  return rc;
}

static void sysctls_execute(napi_env env, void *data) {
  (void)env;
  sysctls_t *x = data;
  int self = -1;
  if (x->netns != NULL) {
    self = enter_netns(x->netns, &x->err, &x->syscall);
    if (self < 0) {
      x->failed = (size_t)-1;
      return;
    }
  }
  for (size_t i = 0; i < x->n && x->err == 0; i++) {
    if (write_sysctl(x->paths[i], x->values[i], &x->err, &x->syscall) < 0) x->failed = i;
  }
  if (self >= 0) leave_netns(self);
}

static void sysctls_free(void *data) {
  sysctls_t *x = data;
  for (size_t i = 0; i < x->n; i++) {
    if (x->paths) free(x->paths[i]);
    if (x->values) free(x->values[i]);
  }
  free(x->paths);
  free(x->values);
  free(x->netns);
  free(x);
}

static void sysctls_complete(napi_env env, napi_status status, void *data) {
  sysctls_t *x = data;
  if (status != napi_ok && x->err == 0) {
    x->err = ECANCELED;
    x->syscall = "async work";
  }
  if (x->err != 0) {
    char what[4200];
    if (x->failed < x->n)
      snprintf(what, sizeof what, "%s %s", x->syscall, x->paths[x->failed]);
    else
      snprintf(what, sizeof what, "%s %s", x->syscall, x->netns ? x->netns : "");
    napi_reject_deferred(env, x->deferred, make_error(env, what, x->err));
  } else {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, x->deferred, undef);
  }
  napi_delete_async_work(env, x->work);
  sysctls_free(x);
}

/* A JS string as a malloc'd C string of at most `max` bytes, or NULL. */
static char *dup_string(napi_env env, napi_value v, size_t max) {
  napi_valuetype t;
  size_t n = 0;
  napi_typeof(env, v, &t);
  if (t != napi_string) return NULL;
  napi_get_value_string_utf8(env, v, NULL, 0, &n);
  if (n == 0 || n > max) return NULL;
  char *s = malloc(n + 1);
  if (s != NULL) napi_get_value_string_utf8(env, v, s, n + 1, &n);
  return s;
}

/* netns argument: a path (malloc'd into *out) or null (*out = NULL). Returns 0, or -1 when it is neither. */
static int netns_arg(napi_env env, napi_value v, char **out) {
  napi_valuetype t;
  *out = NULL;
  napi_typeof(env, v, &t);
  if (t == napi_null) return 0;
  if (t != napi_string) return -1;
  *out = dup_string(env, v, 4096);
  return *out == NULL ? -1 : 0;
}

/* A copy of a Buffer argument of at least one nlmsghdr and at most max octets, or NULL. */
static uint8_t *buffer_arg(napi_env env, napi_value v, size_t max, size_t *len) {
  bool isbuf = false;
  napi_is_buffer(env, v, &isbuf);
  if (!isbuf) return NULL;
  void *data;
  napi_get_buffer_info(env, v, &data, len);
  if (*len < sizeof(struct nlmsghdr) || *len > max) return NULL;
  uint8_t *copy = malloc(*len);
  if (copy != NULL) memcpy(copy, data, *len);
  return copy;
}

static int positive_int_arg(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_number && napi_get_value_int64(env, v, out) == napi_ok && *out > 0;
}

/* An exchange from (netns, request) arguments, the request copied; NULL when they are not what they must be (or no memory). */
static exchange_t *new_exchange(napi_env env, napi_value netns, napi_value request, size_t max_request, int timeout) {
  exchange_t *x = calloc(1, sizeof *x);
  if (x == NULL) return NULL;
  if (netns_arg(env, netns, &x->netns) < 0 || (x->req = buffer_arg(env, request, max_request, &x->req_len)) == NULL) {
    free(x->netns);
    free(x);
    return NULL;
  }
  x->timeout_ms = timeout;
  x->max_reply = MAX_REPLY;
  x->protocol = NETLINK_ROUTE;
  return x;
}

/*
 * The first `total` arguments of a call into argv (N-API fills those not
 * given with undefined); false when fewer than `required` were given.
 */
static bool get_args(napi_env env, napi_callback_info info, size_t required, size_t total, napi_value *argv) {
  size_t argc = total;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= required;
}

/* The optional protocol argument: NETLINK_ROUTE when undefined; -1 unless NETLINK_ROUTE or NETLINK_NETFILTER. */
static int protocol_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  int32_t p = -1;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return NETLINK_ROUTE;
  if (t != napi_number || napi_get_value_int32(env, v, &p) != napi_ok) return -1;
  return p == NETLINK_ROUTE || p == NETLINK_NETFILTER ? p : -1;
}

/*
 * exchange() and batch(): (netns, request, timeoutMs[, protocol]) checked,
 * the request copied, `exec` queued on the pool. batch() takes no protocol
 * (`with_protocol` 0): a fourth argument there is refused, not ignored.
 */
static napi_value queue_exchange(napi_env env, napi_callback_info info, const char *usage, size_t max_request,
                                 const char *what, napi_async_execute_callback exec, int with_protocol) {
  napi_value argv[4];
  int64_t timeout = 0;
  if (!get_args(env, info, 3, 4, argv) || !positive_int_arg(env, argv[2], &timeout) || timeout > 3600000)
    return throw_type(env, usage);
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  int protocol = protocol_arg(env, argv[3]);
  if (protocol < 0 || (!with_protocol && t != napi_undefined)) return throw_type(env, usage);
  exchange_t *x = new_exchange(env, argv[0], argv[1], max_request, (int)timeout);
  if (x == NULL) return throw_type(env, usage);
  x->protocol = protocol;
  return queue(env, what, exec, complete, x, exchange_free, &x->deferred, &x->work);
}

/* exchange(netns: string | null, request: Buffer, timeoutMs: number, protocol?: number) -> Promise<Buffer> */
static napi_value exchange(napi_env env, napi_callback_info info) {
  return queue_exchange(env, info,
                        "exchange(netns: string | null, request: Buffer (at most 1 MiB), timeoutMs: number, "
                        "protocol?: 0 (NETLINK_ROUTE) | 12 (NETLINK_NETFILTER))",
                        MAX_REQUEST, "trellis_netlink.exchange", execute, 1);
}

/* batch(netns: string | null, request: Buffer, timeoutMs: number) -> Promise<Buffer> */
static napi_value batch(napi_env env, napi_callback_info info) {
  return queue_exchange(env, info,
                        "batch(netns: string | null, request: Buffer (plain requests, at most 64 MiB), timeoutMs: number)",
                        MAX_BATCH_REQUEST, "trellis_netlink.batch", batch_execute, 0);
}

/* transaction(netns: string | null, request: Buffer, timeoutMs: number) -> Promise<Buffer>: NETLINK_NETFILTER, one datagram */
static napi_value transaction(napi_env env, napi_callback_info info) {
  static const char *usage =
      "transaction(netns: string | null, request: Buffer (one nfnetlink batch, at most 1 MiB), timeoutMs: number)";
  napi_value argv[3];
  int64_t timeout = 0;
  if (!get_args(env, info, 3, 3, argv) || !positive_int_arg(env, argv[2], &timeout) || timeout > 3600000)
    return throw_type(env, usage);
  exchange_t *x = new_exchange(env, argv[0], argv[1], MAX_REQUEST, (int)timeout);
  if (x == NULL) return throw_type(env, usage);
  x->protocol = NETLINK_NETFILTER;
  return queue(env, "trellis_netlink.transaction", transaction_execute, complete, x, exchange_free, &x->deferred,
               &x->work);
}

/* releaseTransactions(netns: string | null) -> Promise<void> (resolves with an empty Buffer) */
static napi_value release_transactions(napi_env env, napi_callback_info info) {
  static const char *usage = "releaseTransactions(netns: string | null)";
  napi_value argv[1];
  if (!get_args(env, info, 1, 1, argv)) return throw_type(env, usage);
  exchange_t *x = calloc(1, sizeof *x);
  if (x == NULL) return throw_type(env, "out of memory");
  if (netns_arg(env, argv[0], &x->netns) < 0) {
    free(x);
    return throw_type(env, usage);
  }
  return queue(env, "trellis_netlink.releaseTransactions", release_execute, complete, x, exchange_free, &x->deferred,
               &x->work);
}

/* dump(netns: string | null, request: Buffer, timeoutMs: number, maxBytes: number, protocol?: number) -> Promise<Buffer> */
static napi_value dump(napi_env env, napi_callback_info info) {
  static const char *usage =
      "dump(netns: string | null, request: Buffer (one NLM_F_DUMP request), timeoutMs: number, maxBytes: number, "
      "protocol?: 0 (NETLINK_ROUTE) | 12 (NETLINK_NETFILTER))";
  napi_value argv[5];
  int64_t timeout = 0, max = 0;
  if (!get_args(env, info, 4, 5, argv) || !positive_int_arg(env, argv[2], &timeout) || timeout > 3600000 ||
      !positive_int_arg(env, argv[3], &max) || max > (int64_t)4 << 30)
    return throw_type(env, usage);
  int protocol = protocol_arg(env, argv[4]);
  if (protocol < 0) return throw_type(env, usage);
  exchange_t *x = new_exchange(env, argv[0], argv[1], MAX_REQUEST, (int)timeout);
  if (x == NULL) return throw_type(env, usage);
  struct nlmsghdr h;
  memcpy(&h, x->req, sizeof h);
  if ((h.nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP || NLMSG_ALIGN(h.nlmsg_len) < x->req_len || h.nlmsg_len > x->req_len) {
    exchange_free(x);
    return throw_type(env, usage);
  }
  x->max_reply = (size_t)max;
  x->protocol = protocol;
  return queue(env, "trellis_netlink.dump", execute, dump_complete, x, exchange_free, &x->deferred, &x->work);
}

/* writeSysctls(netns: string | null, paths: string[], values: string[]) -> Promise<void> */
static napi_value write_sysctls(napi_env env, napi_callback_info info) {
  static const char *usage =
      "writeSysctls(netns: string | null, paths: string[] (under /proc/sys/net/), values: string[])";
  napi_value argv[3];
  if (!get_args(env, info, 3, 3, argv)) return throw_type(env, usage);
  bool a1 = false, a2 = false;
  napi_is_array(env, argv[1], &a1);
  napi_is_array(env, argv[2], &a2);
  uint32_t n1 = 0, n2 = 0;
  if (a1) napi_get_array_length(env, argv[1], &n1);
  if (a2) napi_get_array_length(env, argv[2], &n2);
  if (!a1 || !a2 || n1 != n2 || n1 == 0 || n1 > 64) return throw_type(env, usage);
  sysctls_t *x = calloc(1, sizeof *x);
  if (x == NULL) return throw_type(env, "out of memory");
  if (netns_arg(env, argv[0], &x->netns) < 0) {
    sysctls_free(x);
    return throw_type(env, usage);
  }
  x->paths = calloc(n1, sizeof(char *));
  x->values = calloc(n1, sizeof(char *));
  if (x->paths == NULL || x->values == NULL) {
    sysctls_free(x);
    return throw_type(env, "out of memory");
  }
  x->n = n1;
  for (uint32_t i = 0; i < n1; i++) {
    napi_value p, v;
    napi_get_element(env, argv[1], i, &p);
    napi_get_element(env, argv[2], i, &v);
    x->paths[i] = dup_string(env, p, 4096);
    x->values[i] = dup_string(env, v, 4096);
    /* Only network sysctls, and no way out of /proc/sys/net/ by "..". */
    if (x->paths[i] == NULL || x->values[i] == NULL || strncmp(x->paths[i], "/proc/sys/net/", 14) != 0 ||
        strstr(x->paths[i], "..") != NULL) {
      sysctls_free(x);
      return throw_type(env, usage);
    }
  }
  return queue(env, "trellis_netlink.writeSysctls", sysctls_execute, sysctls_complete, x, sysctls_free, &x->deferred,
               &x->work);
}

/* ---- chain ---- */

/*
 * CHAIN PROGRAM (little-endian; built by netlink.ts chain()): stages back
 * to back, each
 *   u8  ns        0: netnsA, 1: netnsB
 *   u8  kind      0: netlink requests, 1: sysctl writes
 *   u8  capture   CHAIN_NO_SLOT, or the slot that keeps the ifindex of the
 *                 stage's first RTM_NEWLINK answer (netlink stages only)
 *   u8  npatch    how many patches follow
 *   u32 length    of the payload
 *   npatch x { u8 slot, u8 zero[3], u32 offset }: the slot's ifindex is
 *                 written at `offset` of the payload, which must hold the
 *                 slot's placeholder there (u32)
 *   payload       netlink: one or more nlmsghdr's, each plain with NLM_F_ACK
 *                 or a get (exchange()'s framing; no dumps); sysctl: "path\0
 *                 value\0" pairs, each path under /proc/sys/net/ and
 *                 without ".."
 * The whole program is checked before it is queued: a slot is used only
 * after a stage captured it.
 */
#define CHAIN_MAX_PROGRAM (1u << 20)
#define CHAIN_MAX_STAGES 16
#define CHAIN_SLOTS 8
#define CHAIN_NO_SLOT 0xff
#define CHAIN_MAX_PATCHES 16
#define CHAIN_MAX_SYSCTLS 64
#define CHAIN_PLACEHOLDER 0x7fffff00u
#define CHAIN_STAGE_HEADER 8
#define CHAIN_PATCH_SIZE 8
#define RTM_NEWLINK_TYPE 16

typedef struct {
  uint8_t ns, kind, capture, npatch;
  uint32_t len;
  const uint8_t *patches; /* npatch x CHAIN_PATCH_SIZE */
  const uint8_t *payload;
} chain_stage_t;

typedef struct {
  char *netns[2]; /* NULL: the thread's own namespace */
  uint8_t *prog;
  size_t prog_len;
  int timeout_ms;
  uint8_t *reply;
  size_t reply_len;
  size_t reply_cap;
  int err;
  const char *syscall;
  char where[600]; /* the sysctl file or stage a failure names */
  napi_deferred deferred;
  napi_async_work work;
} chain_t;

/* Reads the stage at *off of the program and moves *off past it; -1 when it does not fit. */
static int chain_stage_at(const uint8_t *prog, size_t len, size_t *off, chain_stage_t *st) {
  if (len - *off < CHAIN_STAGE_HEADER) return -1;
  const uint8_t *h = prog + *off;
  st->ns = h[0];
  st->kind = h[1];
  st->capture = h[2];
  st->npatch = h[3];
  memcpy(&st->len, h + 4, 4);
  size_t need = CHAIN_STAGE_HEADER + (size_t)st->npatch * CHAIN_PATCH_SIZE;
  if (len - *off < need || len - *off - need < st->len) return -1;
  st->patches = h + CHAIN_STAGE_HEADER;
  st->payload = st->patches + (size_t)st->npatch * CHAIN_PATCH_SIZE;
  *off += need + st->len;
  return 0;
}

/* A netlink payload exchange() would take (framing, NLM_F_ACK or dump, count): checked with its own parser. */
static int chain_netlink_ok(const uint8_t *payload, uint32_t len) {
  exchange_t x = {.req = (uint8_t *)payload, .req_len = len};
  pending_t pending[MAX_PENDING];
  size_t n = 0;
  if (collect_pending(&x, pending, &n) < 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (pending[i].dump) return 0; /* a socket runs one dump at a time; the chain has no use for one */
  return 1;
}

/* "path\0value\0" pairs under /proc/sys/net/, at most CHAIN_MAX_SYSCTLS. */
static int chain_sysctls_ok(const uint8_t *payload, uint32_t len) {
  size_t off = 0, pairs = 0;
  while (off < len) {
    const char *path = (const char *)payload + off;
    const uint8_t *nul = memchr(payload + off, 0, len - off);
    if (nul == NULL) return 0;
    size_t plen = (size_t)(nul - (payload + off));
    if (plen == 0 || plen > 4096 || strncmp(path, "/proc/sys/net/", 14) != 0 || strstr(path, "..") != NULL) return 0;
    off += plen + 1;
    const uint8_t *vnul = off < len ? memchr(payload + off, 0, len - off) : NULL;
    if (vnul == NULL || vnul == payload + off || (size_t)(vnul - (payload + off)) > 4096) return 0;
    off = (size_t)(vnul - payload) + 1;
    if (++pairs > CHAIN_MAX_SYSCTLS) return 0;
  }
  return pairs > 0;
}

/* The whole program, before it is queued: NULL when it is well formed, else what is wrong. */
static const char *chain_check(const uint8_t *prog, size_t len) {
  size_t off = 0, stages = 0;
  int captured[CHAIN_SLOTS] = {0};
  while (off < len) {
    chain_stage_t st;
    if (chain_stage_at(prog, len, &off, &st) < 0) return "a stage runs past the end of the program";
    if (++stages > CHAIN_MAX_STAGES) return "more than 16 stages";
    if (st.ns > 1) return "a stage's namespace is neither 0 nor 1";
    if (st.kind > 1) return "a stage's kind is neither 0 (netlink) nor 1 (sysctl)";
    if (st.npatch > CHAIN_MAX_PATCHES) return "more than 16 patches in a stage";
    if (st.kind == 1 && (st.capture != CHAIN_NO_SLOT || st.npatch != 0))
      return "a sysctl stage neither captures nor patches";
    if (st.capture != CHAIN_NO_SLOT && st.capture >= CHAIN_SLOTS) return "a capture slot is not below 8";
    for (uint8_t i = 0; i < st.npatch; i++) {
      const uint8_t *p = st.patches + (size_t)i * CHAIN_PATCH_SIZE;
      uint32_t at, want;
      memcpy(&at, p + 4, 4);
      if (p[0] >= CHAIN_SLOTS || !captured[p[0]]) return "a patch uses a slot no earlier stage captured";
      if (at > st.len || st.len - at < 4) return "a patch offset runs past its stage";
      memcpy(&want, st.payload + at, 4);
      if (want != CHAIN_PLACEHOLDER + p[0]) return "a patch offset does not hold its slot's placeholder";
    }
    if (st.kind == 0 && !chain_netlink_ok(st.payload, st.len))
      return "a netlink stage is not whole acked requests (or holds a dump)";
    if (st.kind == 1 && !chain_sysctls_ok(st.payload, st.len))
      return "a sysctl stage is not path/value pairs under /proc/sys/net/";
    if (st.capture != CHAIN_NO_SLOT) captured[st.capture] = 1;
  }
  return stages > 0 ? NULL : "an empty program";
}

static int chain_fail(chain_t *c, const char *syscall, int err) {
  if (c->err == 0) {
    c->err = err;
    c->syscall = syscall;
  }
  return -1;
}

/* Appends one stage's answers (u32 index, u32 length, bytes). */
static int chain_append(chain_t *c, uint32_t index, const uint8_t *bytes, size_t len) {
  if (reply_reserve(&c->reply, c->reply_len, &c->reply_cap, 8 + len, MAX_REPLY) < 0)
    return chain_fail(c, "reply buffer", ENOMEM);
  uint32_t l32 = (uint32_t)len;
  memcpy(c->reply + c->reply_len, &index, 4);
  memcpy(c->reply + c->reply_len + 4, &l32, 4);
  if (len > 0) memcpy(c->reply + c->reply_len + 8, bytes, len);
  c->reply_len += 8 + len;
  return 0;
}

/* A sysctl stage from inside its namespace. Returns 0, or -1 with the file named in c->where. */
static int chain_sysctls(chain_t *c, const chain_stage_t *st) {
  int self = -1, err = 0;
  const char *sc = NULL;
  const char *netns = c->netns[st->ns];
  if (netns != NULL) {
    self = enter_netns(netns, &err, &sc);
    if (self < 0) {
      snprintf(c->where, sizeof c->where, " %s", netns);
      return chain_fail(c, sc, err);
    }
  }
  int rc = 0;
  size_t off = 0;
  while (off < st->len) {
    const char *path = (const char *)st->payload + off;
    const char *value = path + strlen(path) + 1;
    off = (size_t)((const uint8_t *)value - st->payload) + strlen(value) + 1;
    if (write_sysctl(path, value, &err, &sc) < 0) {
      snprintf(c->where, sizeof c->where, " %s", path);
      rc = chain_fail(c, sc, err);
      break;
    }
  }
  if (self >= 0) leave_netns(self);
  return rc;
}

/*
 * A netlink stage on the socket of its namespace (opened on first use):
 * the payload with its patches applied, sent and answered as exchange().
 * Returns 1 when every request was done, 0 when the kernel refused one (the
 * answers are kept: the caller reads why), -1 when the exchange failed.
 */
static int chain_netlink(chain_t *c, const chain_stage_t *st, uint32_t index, int fds[2], uint32_t slots[]) {
  if (fds[st->ns] < 0) {
    exchange_t o = {.netns = c->netns[st->ns], .protocol = NETLINK_ROUTE};
    fds[st->ns] = open_socket(&o);
    if (fds[st->ns] < 0) return chain_fail(c, o.syscall, o.err);
    socket_options(fds[st->ns], c->timeout_ms);
  }
  exchange_t x = {.req_len = st->len, .timeout_ms = c->timeout_ms, .max_reply = MAX_REPLY};
  x.req = malloc(st->len);
  if (x.req == NULL) return chain_fail(c, "malloc", ENOMEM);
  memcpy(x.req, st->payload, st->len);
  for (uint8_t i = 0; i < st->npatch; i++) {
    const uint8_t *p = st->patches + (size_t)i * CHAIN_PATCH_SIZE;
    uint32_t at;
    memcpy(&at, p + 4, 4);
    memcpy(x.req + at, &slots[p[0]], 4);
  }
  pending_t pending[MAX_PENDING];
  size_t npending = 0;
  int rc = collect_pending(&x, pending, &npending) < 0 ? chain_fail(c, "request framing", EINVAL) : 0;
  if (rc == 0 && exchange_on(&x, fds[st->ns], pending, npending) < 0) rc = chain_fail(c, x.syscall, x.err);
  if (rc == 0) rc = chain_append(c, index, x.reply, x.reply_len);
  int refused = 0, found = 0;
  for (size_t off = 0; rc == 0 && off + sizeof(struct nlmsghdr) <= x.reply_len;) {
    struct nlmsghdr h;
    memcpy(&h, x.reply + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > x.reply_len) break;
    if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= sizeof h + 4) {
      int32_t e;
      memcpy(&e, x.reply + off + sizeof h, 4);
      if (e != 0) refused = 1;
    } else if (h.nlmsg_type == RTM_NEWLINK_TYPE && !found && st->capture != CHAIN_NO_SLOT &&
               h.nlmsg_len >= sizeof h + 8) {
      int32_t ifindex; /* struct ifinfomsg: family, pad, type (u16), index (s32) */
      memcpy(&ifindex, x.reply + off + sizeof h + 4, 4);
      slots[st->capture] = (uint32_t)ifindex;
      found = 1;
    }
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  free(x.req);
  free(x.reply);
  if (rc < 0) return rc;
  if (refused) return 0;
  if (st->capture != CHAIN_NO_SLOT && !found) {
    snprintf(c->where, sizeof c->where, " (stage %u answered no link to take the index of)", index);
    return chain_fail(c, "capture", EPROTO);
  }
  return 1;
}

static void chain_execute(napi_env env, void *data) {
  (void)env;
  chain_t *c = data;
  int fds[2] = {-1, -1};
  uint32_t slots[CHAIN_SLOTS] = {0};
  size_t off = 0;
  for (uint32_t index = 0; off < c->prog_len; index++) {
    chain_stage_t st;
    chain_stage_at(c->prog, c->prog_len, &off, &st); /* checked before queueing */
    if (st.kind == 1) {
      if (chain_sysctls(c, &st) < 0 || chain_append(c, index, NULL, 0) < 0) break;
    } else if (chain_netlink(c, &st, index, fds, slots) <= 0) {
      break;
    }
  }
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0) close(fds[i]);
}

static void chain_free(void *data) {
  chain_t *c = data;
  free(c->netns[0]);
  free(c->netns[1]);
  free(c->prog);
  free(c->reply);
  free(c);
}

static void chain_complete(napi_env env, napi_status status, void *data) {
  chain_t *c = data;
  if (status != napi_ok) chain_fail(c, "async work", ECANCELED);
  if (c->err != 0) {
    char what[700];
    snprintf(what, sizeof what, "%s%s", c->syscall, c->where);
    napi_reject_deferred(env, c->deferred, make_error(env, what, c->err));
  } else {
    settle_reply(env, c->deferred, 0, NULL, c->reply, c->reply_len);
  }
  napi_delete_async_work(env, c->work);
  chain_free(c);
}

/* chain(netnsA: string | null, netnsB: string | null, program: Buffer, timeoutMs: number) -> Promise<Buffer> */
static napi_value chain(napi_env env, napi_callback_info info) {
  static const char *usage = "chain(netnsA: string | null, netnsB: string | null, program: Buffer (at most 1 MiB), "
                             "timeoutMs: number)";
  napi_value argv[4];
  int64_t timeout = 0;
  if (!get_args(env, info, 4, 4, argv) || !positive_int_arg(env, argv[3], &timeout) || timeout > 3600000)
    return throw_type(env, usage);
  bool isbuf = false;
  napi_is_buffer(env, argv[2], &isbuf);
  void *bytes = NULL;
  size_t len = 0;
  if (!isbuf || napi_get_buffer_info(env, argv[2], &bytes, &len) != napi_ok || len == 0 || len > CHAIN_MAX_PROGRAM)
    return throw_type(env, usage);
  const char *bad = chain_check(bytes, len);
  if (bad != NULL) {
    char msg[300];
    snprintf(msg, sizeof msg, "chain: %s", bad);
    return throw_type(env, msg);
  }
  chain_t *c = calloc(1, sizeof *c);
  if (c == NULL) return throw_type(env, "out of memory");
  if (netns_arg(env, argv[0], &c->netns[0]) < 0 || netns_arg(env, argv[1], &c->netns[1]) < 0 ||
      (c->prog = malloc(len)) == NULL) {
    chain_free(c);
    return throw_type(env, usage);
  }
  memcpy(c->prog, bytes, len);
  c->prog_len = len;
  c->timeout_ms = (int)timeout;
  return queue(env, "trellis_netlink.chain", chain_execute, chain_complete, c, chain_free, &c->deferred, &c->work);
}

static int get_errno_arg(napi_env env, napi_callback_info info, int32_t *out) {
  napi_value argv[1];
  napi_valuetype t;
  if (!get_args(env, info, 1, 1, argv)) return 0;
  napi_typeof(env, argv[0], &t);
  return t == napi_number && napi_get_value_int32(env, argv[0], out) == napi_ok;
}

/* strerror(errno) -> string */
static napi_value str_error(napi_env env, napi_callback_info info) {
  int32_t e;
  if (!get_errno_arg(env, info, &e)) return throw_type(env, "strerror(errno: number)");
  napi_value r;
  napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &r);
  return r;
}

/* errnoName(errno) -> string ("EEXIST"; "E<n>" when the C library has no name) */
static napi_value errno_name(napi_env env, napi_callback_info info) {
  int32_t e;
  if (!get_errno_arg(env, info, &e)) return throw_type(env, "errnoName(errno: number)");
  const char *name = strerrorname_np(e);
  char fallback[32];
  if (name == NULL) {
    snprintf(fallback, sizeof fallback, "E%d", e);
    name = fallback;
  }
  napi_value r;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"exchange", NULL, exchange, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeSysctls", NULL, write_sysctls, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batch", NULL, batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"chain", NULL, chain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dump", NULL, dump, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transaction", NULL, transaction, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseTransactions", NULL, release_transactions, NULL, NULL, NULL, napi_enumerable, NULL},
      {"strerror", NULL, str_error, NULL, NULL, NULL, napi_enumerable, NULL},
      {"errnoName", NULL, errno_name, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
