/*
 * The lab's echo workload (/bin/pod-echo in localhost/busybox:lab): on every
 * given port, a TCP and a UDP listener that answer with REPLY and a newline,
 * so `trellisctl lab matrix` can tell which pod answered on either protocol
 * (busybox's nc has no UDP listen mode). The stand-in kubelet's pod-echo.ts
 * does the same from outside a container.
 *   pod-echo REPLY PORT [PORT]...
 * TCP: the reply is written on accept and the connection closed. UDP: one
 * reply datagram to the sender of each datagram. Every socket is
 * non-blocking: poll can say a listener is ready and the connection be gone
 * (reset) by the time accept runs, and a blocking accept would then stall
 * every port; each ready socket is served until EAGAIN instead, at most
 * BURST at a time so one busy port cannot starve the others (poll is
 * level-triggered: the rest is served on the next round). Sockets are dual-stack
 * ([::] with IPV6_V6ONLY off; RFC 3493 §5.3), IPv4 only when the namespace
 * has no IPv6. As PID 1 a process gets no default SIGTERM action, so it
 * exits 0 on SIGTERM and SIGINT itself. Built statically by
 * scripts/build-lab-images; no libc at run time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 16
#define BURST 64

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

/* A bound non-blocking socket of `type` on `port`: [::] dual-stack, else 0.0.0.0. -1 on failure (errno set). */
static int listen_on(int type, int port) {
  int one = 1, zero = 0;
  int fd = socket(AF_INET6, type | SOCK_NONBLOCK, 0);
  if (fd >= 0) {
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port)};
    a6.sin6_addr = in6addr_any;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0 && (type != SOCK_STREAM || listen(fd, 64) == 0))
      return fd;
    close(fd);
  }
  fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a4.sin_addr.s_addr = htonl(INADDR_ANY);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
      bind(fd, (struct sockaddr *)&a4, sizeof a4) == 0 && (type != SOCK_STREAM || listen(fd, 64) == 0))
    return fd;
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

/*
 * One pending connection of listener `fd` answered and closed, 1 when another
 * may be pending; 0 when none is left (EAGAIN) or accept failed otherwise
 * (the next poll round retries).
 */
static int answer_tcp(int fd, const char *reply, size_t n) {
  int c = accept(fd, NULL, NULL);
  if (c < 0) return errno == ECONNABORTED || errno == EINTR;
  /* The reply fits any socket buffer: one write, no blocking on a slow reader. */
  (void)send(c, reply, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  close(c);
  return 1;
}

/* One pending datagram of `fd` answered; 0 when none is left (EAGAIN) or recvfrom failed otherwise. */
static int answer_udp(int fd, const char *reply, size_t n) {
  char buf[2048];
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  if (recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len) < 0) return errno == EINTR;
  /* A full send buffer drops the reply: the client's probe times out, as for any lost datagram. */
  (void)sendto(fd, reply, n, MSG_DONTWAIT, (struct sockaddr *)&peer, len);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc - 2 > MAX_PORTS) {
    fprintf(stderr, "usage: pod-echo REPLY PORT [PORT]... (1 to %d ports)\n", MAX_PORTS);
    return 2;
  }
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction ign = {.sa_handler = SIG_IGN};
  /* A client gone before the reply is written must not kill the server. */
  if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
      sigaction(SIGPIPE, &ign, NULL) < 0) {
    perror("pod-echo: sigaction");
    return 1;
  }
  char reply[512];
  int n = snprintf(reply, sizeof reply, "%s\n", argv[1]);
  if (n < 0 || (size_t)n >= sizeof reply) {
    fprintf(stderr, "pod-echo: REPLY is longer than %zu bytes\n", sizeof reply - 2);
    return 2;
  }
  struct pollfd fds[2 * MAX_PORTS];
  int nfds = 0;
  for (int i = 2; i < argc; i++) {
    char *end;
    long port = strtol(argv[i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0' || port < 1 || port > 65535) {
      fprintf(stderr, "pod-echo: '%s' is not a port (1-65535)\n", argv[i]);
      return 2;
    }
    for (int k = 0; k < 2; k++) {
      int type = k == 0 ? SOCK_STREAM : SOCK_DGRAM;
      int fd = listen_on(type, (int)port);
      if (fd < 0) {
        fprintf(stderr, "pod-echo: %s port %ld: %s\n", k == 0 ? "TCP" : "UDP", port, strerror(errno));
        return 1;
      }
      fds[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
  }
  printf("pod-echo: answering \"%s\" on %d ports (TCP and UDP)\n", argv[1], argc - 2);
  fflush(stdout);
  for (;;) {
    if (poll(fds, (nfds_t)nfds, -1) < 0) {
      if (errno == EINTR) continue;
      perror("pod-echo: poll");
      return 1;
    }
    for (int i = 0; i < nfds; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      int (*answer)(int, const char *, size_t) = i % 2 == 0 ? answer_tcp : answer_udp;
      for (int k = 0; k < BURST; k++)
        if (!answer(fds[i].fd, reply, (size_t)n)) break;
    }
  }
}
