/*
 * trellis: the exec'd CNI plugin. A static forwarding shim with no CNI logic:
 * read stdin (bounded), collect the CNI_* environment, send both to the
 * agent's unix socket (agentSocket in the stdin JSON, else the default), print
 * the agent's reply on stdout and exit with the agent's exit code.
 *
 * One exception to "no logic": VERSION is answered here, from the static list
 * below, without the agent (PROTOCOL.md "VERSION"). A runtime probes VERSION
 * before it has a pod to wire (libcni sends only {"cniVersion"} and
 * CNI_NETNS=dummy), possibly before the agent is up, and the answer never
 * depends on the agent's state.
 *
 * A second exception: stdin that is not one well-formed JSON object is answered
 * here with code 6 "failed to decode content" (CNI SPEC.md "Error"), naming
 * the first offending byte. Without this check the shim could not find
 * agentSocket in it and would blame an unreachable agent (code 11). The check
 * is a validating scan only (no values are built; fixed memory); the agent
 * still does the real parsing.
 *
 * When the agent cannot be reached (or hangs up, or times out) it prints a
 * spec-shaped error (CNI SPEC.md "Error"): code 11 "try again later", or
 * code 50 "plugin not available" for CNI_COMMAND=STATUS, naming the socket,
 * and exits 1. Nothing but the reply or that error is ever written to stdout.
 *
 * Framing: see PROTOCOL.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_STDIN (16u * 1024u * 1024u)
#define MAX_REPLY (16u * 1024u * 1024u)
#define MAX_ENV 64
#define DEFAULT_SOCKET "/var/run/trellis/cni.sock"
#define DEFAULT_TIMEOUT_MS 120000
#define MAGIC "TRL1"

extern char **environ;

/* The CNI spec versions Trellis speaks, oldest first. Must equal
   SUPPORTED_VERSIONS in cni/versions.ts: test/cni-spec/shim-version.test.ts asserts
   the shim's VERSION answer against that list. */
static const char *const SUPPORTED_VERSIONS[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
#define NSUPPORTED (sizeof SUPPORTED_VERSIONS / sizeof SUPPORTED_VERSIONS[0])

static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char cni_version[32] = "1.1.0";

/* Write all of buf to fd, retrying on EINTR and short writes. */
static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Read exactly len bytes; 0 on success, -1 on error or early EOF. */
static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      errno = ECONNRESET;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void put_u32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *b) {
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Print a JSON string literal (the parts of msg that need escaping escaped). */
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* The agent is unreachable: spec error on stdout, exit 1. */
static int fail(int code, const char *what, int err) {
  char msg[512];
  if (err != 0)
    snprintf(msg, sizeof msg, "trellis agent at %s: %s: %s", socket_path, what, strerror(err));
  else
    snprintf(msg, sizeof msg, "trellis agent at %s: %s", socket_path, what);
  printf("{\"cniVersion\":");
  json_string(stdout, cni_version);
  printf(",\"code\":%d,\"msg\":", code);
  json_string(stdout, msg);
  printf(",\"details\":\"the CNI plugin forwards every request to the trellis-node agent; is it running?\"}\n");
  fflush(stdout);
  return 1;
}

/*
 * CNI SPEC.md "VERSION": only CNI_COMMAND is required and stdin carries only
 * cniVersion. Answer with the requested version when we speak it (else our
 * newest) and the supported list; exit 0.
 */
static int answer_version(void) {
  const char *v = SUPPORTED_VERSIONS[NSUPPORTED - 1];
  for (size_t i = 0; i < NSUPPORTED; i++)
    if (strcmp(cni_version, SUPPORTED_VERSIONS[i]) == 0) v = SUPPORTED_VERSIONS[i];
  printf("{\"cniVersion\":\"%s\",\"supportedVersions\":[", v);
  for (size_t i = 0; i < NSUPPORTED; i++) printf("%s\"%s\"", i == 0 ? "" : ",", SUPPORTED_VERSIONS[i]);
  printf("]}\n");
  return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * JSON well-formedness (RFC 8259 grammar), top level an object. Iterative over
 * a fixed bit stack (1 = object, 0 = array), so memory is bounded whatever the
 * input; deeper nesting than MAX_DEPTH is refused (the agent refuses far less
 * deep configs anyway). On failure bad_at is the 0-based offset of the first
 * offending byte (n for a premature end) and bad_what says what was wrong.
 */
#define MAX_DEPTH 4096
#define STR_(x) #x
#define STR(x) STR_(x)
static unsigned char nest[MAX_DEPTH / 8];
static size_t bad_at;
static const char *bad_what, *bad_hint;

static int bad(size_t at, const char *what, const char *hint) {
  bad_at = at;
  bad_what = what;
  bad_hint = hint;
  return -1;
}

static size_t skip_ws(const unsigned char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_hex(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

/* A string starting at s[*i] == '"'; on success *i is just past its end. */
static int scan_string(const unsigned char *s, size_t n, size_t *i) {
  size_t j = *i + 1;
  for (;;) {
    if (j >= n) return bad(n, "unexpected end of input", "in a string");
    unsigned char c = s[j];
    if (c == '"') break;
    if (c < 0x20) return bad(j, "control character", "in a string");
    if (c != '\\') { j++; continue; }
    if (++j >= n) return bad(n, "unexpected end of input", "in a string");
    if (s[j] == 'u') {
      for (int k = 1; k <= 4; k++)
        if (j + k >= n || !is_hex(s[j + k])) return bad(j + k < n ? j + k : n, "invalid character", "in a \\u escape");
      j += 5;
    } else if (strchr("\"\\/bfnrt", s[j]) != NULL && s[j] != '\0') {
      j++;
    } else {
      return bad(j, "invalid escape", "in a string");
    }
  }
  *i = j + 1;
  return 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? starting at s[*i]. */
static int scan_number(const unsigned char *s, size_t n, size_t *i) {
  size_t j = *i;
  if (j < n && s[j] == '-') j++;
  if (j < n && s[j] == '0') j++;
  else if (j < n && is_digit(s[j]))
    while (j < n && is_digit(s[j])) j++;
  else return bad(j, "invalid character", "in a number");
  if (j < n && s[j] == '.') {
    if (++j >= n || !is_digit(s[j])) return bad(j, "invalid character", "in a number");
    while (j < n && is_digit(s[j])) j++;
  }
  if (j < n && (s[j] == 'e' || s[j] == 'E')) {
    if (++j < n && (s[j] == '+' || s[j] == '-')) j++;
    if (j >= n || !is_digit(s[j])) return bad(j, "invalid character", "in a number");
    while (j < n && is_digit(s[j])) j++;
  }
  *i = j;
  return 0;
}

static int check_json_object(const unsigned char *s, size_t n) {
  enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, COMMA_OR_CLOSE } st = VALUE;
  size_t depth = 0, i = skip_ws(s, n, 0);
  if (n == 0) return bad(0, "stdin is empty", "");
  if (i >= n) return bad(n, "unexpected end of input", "");
  if (s[i] != '{') return bad(i, "unexpected character", "(the network config must be an object)");
  for (;;) {
    i = skip_ws(s, n, i);
    if (depth == 0 && st == COMMA_OR_CLOSE) return i == n ? 0 : bad(i, "unexpected character", "after the object");
    if (i >= n) return bad(n, "unexpected end of input", "");
    unsigned char c = s[i];
    int in_object = depth > 0 && ((nest[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1);
    switch (st) {
      case VALUE_OR_CLOSE:
        if (c == ']') goto close;
        /* fall through */
      case VALUE:
        if (c == '{' || c == '[') {
          if (depth == MAX_DEPTH) return bad(i, "nesting deeper than " STR(MAX_DEPTH) " levels", "");
          if (c == '{') nest[depth / 8] |= (unsigned char)(1u << (depth % 8));
          else nest[depth / 8] &= (unsigned char)~(1u << (depth % 8));
          depth++;
          i++;
          st = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
          continue;
        }
        if (c == '"') {
          if (scan_string(s, n, &i) != 0) return -1;
        } else if (c == '-' || is_digit(c)) {
          if (scan_number(s, n, &i) != 0) return -1;
        } else if (n - i >= 4 && (memcmp(s + i, "true", 4) == 0 || memcmp(s + i, "null", 4) == 0)) {
          i += 4;
        } else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
          i += 5;
        } else {
          return bad(i, "unexpected character", "");
        }
        st = COMMA_OR_CLOSE;
        continue;
      case KEY_OR_CLOSE:
        if (c == '}') goto close;
        /* fall through */
      case KEY:
        if (c != '"') return bad(i, "unexpected character", "(expected a key)");
        if (scan_string(s, n, &i) != 0) return -1;
        st = COLON;
        continue;
      case COLON:
        if (c != ':') return bad(i, "unexpected character", "(expected ':')");
        i++;
        st = VALUE;
        continue;
      case COMMA_OR_CLOSE:
        if (c == ',') {
          i++;
          st = in_object ? KEY : VALUE;
          continue;
        }
        if (c == (in_object ? '}' : ']')) goto close;
        return bad(i, "unexpected character", "");
    }
  close:
    depth--;
    i++;
    st = COMMA_OR_CLOSE;
  }
}

/* Stdin is not a JSON object: code 6 (SPEC.md "Error": failed to decode content), exit 1. */
static int decode_failure(const unsigned char *s, size_t n) {
  char msg[256], shown[16] = "";
  if (bad_at < n) {
    unsigned char c = s[bad_at];
    if (c > 0x20 && c < 0x7f) snprintf(shown, sizeof shown, " '%c'", c);
    else snprintf(shown, sizeof shown, " 0x%02x", c);
  }
  if (n == 0)
    snprintf(msg, sizeof msg, "failed to decode network config: stdin is not a JSON object: %s", bad_what);
  else
    snprintf(msg, sizeof msg, "failed to decode network config: stdin is not a JSON object: %s%s at byte %zu%s%s",
             bad_what, shown, bad_at, bad_hint[0] != '\0' ? " " : "", bad_hint);
  printf("{\"cniVersion\":");
  json_string(stdout, cni_version);
  printf(",\"code\":6,\"msg\":");
  json_string(stdout, msg);
  printf(",\"details\":\"the network configuration on stdin must be one JSON object (byte offsets count from 0)\"}\n");
  fflush(stdout);
  return 1;
}

/*
 * Minimal JSON scan: find the string value of a top-level key. Tracks string
 * state and nesting depth only; handles the simple escapes. Returns 1 and
 * copies the value (truncated to cap-1) when found.
 */
static int scan_key(const char *js, size_t n, const char *key, char *out, size_t cap) {
  size_t klen = strlen(key);
  int depth = 0;
  size_t i = 0;
  while (i < n) {
    char c = js[i];
    if (c == '{' || c == '[') { depth++; i++; continue; }
    if (c == '}' || c == ']') { depth--; i++; continue; }
    if (c != '"') { i++; continue; }
    /* a string: find its end */
    size_t start = ++i;
    while (i < n && js[i] != '"') i += (js[i] == '\\') ? 2 : 1;
    if (i >= n) return 0;
    size_t end = i++;
    if (depth != 1 || end - start != klen || memcmp(js + start, key, klen) != 0) continue;
    size_t j = i;
    while (j < n && (js[j] == ' ' || js[j] == '\t' || js[j] == '\n' || js[j] == '\r')) j++;
    if (j >= n || js[j] != ':') continue; /* it was a value, not a key */
    j++;
    while (j < n && (js[j] == ' ' || js[j] == '\t' || js[j] == '\n' || js[j] == '\r')) j++;
    if (j >= n || js[j] != '"') return 0; /* not a string value */
    j++;
    size_t o = 0;
    while (j < n && js[j] != '"') {
      char ch = js[j++];
      if (ch == '\\' && j < n) {
        char e = js[j++];
        if (e == 'u' && j + 4 <= n) {
          /* \u00XX: ASCII only (socket paths and versions are ASCII). */
          unsigned v = 0;
          for (int k = 0; k < 4; k++) {
            char h = js[j + k];
            v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : 0);
          }
          j += 4;
          ch = v < 0x80 ? (char)v : '?';
        } else {
          ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'r' ? '\r' : e;
        }
      }
      if (o + 1 < cap) out[o++] = ch;
    }
    out[o] = '\0';
    return 1;
  }
  return 0;
}

int main(void) {
  /* A peer that hangs up must give EPIPE, not kill us without an answer. */
  signal(SIGPIPE, SIG_IGN);
  const char *cmd = getenv("CNI_COMMAND");
  int is_status = cmd != NULL && strcmp(cmd, "STATUS") == 0;
  int unreachable = is_status ? 50 : 11;

  /* 1. stdin, bounded. */
  size_t cap = 65536, len = 0;
  char *in = malloc(cap);
  if (in == NULL) return fail(unreachable, "out of memory", 0);
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_STDIN) {
        snprintf(socket_path, sizeof socket_path, "%s", DEFAULT_SOCKET);
        printf("{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"stdin exceeds %u bytes\"}\n", MAX_STDIN);
        return 1;
      }
      cap *= 2;
      char *bigger = realloc(in, cap);
      if (bigger == NULL) return fail(unreachable, "out of memory", 0);
      in = bigger;
    }
    ssize_t n = read(0, in + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* no stdin (e.g. closed): send what we have; the agent judges */
    }
    if (n == 0) break;
    len += (size_t)n;
  }

  /* Keys are read only from a well-formed object: in anything else, a key
     found by the scan would be a guess. */
  int is_object = check_json_object((const unsigned char *)in, len) == 0;
  if (!is_object || !scan_key(in, len, "agentSocket", socket_path, sizeof socket_path) || socket_path[0] == '\0')
    snprintf(socket_path, sizeof socket_path, "%s", DEFAULT_SOCKET);
  char v[sizeof cni_version];
  if (is_object && scan_key(in, len, "cniVersion", v, sizeof v) && v[0] != '\0') memcpy(cni_version, v, sizeof v);
  /* VERSION needs no config (libcni may send next to nothing): answer it first. */
  if (cmd != NULL && strcmp(cmd, "VERSION") == 0) return answer_version();
  if (!is_object) return decode_failure((const unsigned char *)in, len);

  /* 2. the CNI_* environment. */
  const char *envs[MAX_ENV];
  size_t nenv = 0, envbytes = 0;
  for (char **e = environ; *e != NULL && nenv < MAX_ENV; e++) {
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    envs[nenv++] = *e;
    envbytes += 4 + strlen(*e);
  }

  /* 3. the request frame. */
  size_t total = 4 + 4 + envbytes + 4 + len;
  unsigned char *req = malloc(total);
  if (req == NULL) return fail(unreachable, "out of memory", 0);
  size_t o = 0;
  memcpy(req, MAGIC, 4);
  o += 4;
  put_u32(req + o, (uint32_t)nenv);
  o += 4;
  for (size_t i = 0; i < nenv; i++) {
    size_t l = strlen(envs[i]);
    put_u32(req + o, (uint32_t)l);
    o += 4;
    memcpy(req + o, envs[i], l);
    o += l;
  }
  put_u32(req + o, (uint32_t)len);
  o += 4;
  memcpy(req + o, in, len);
  o += len;

  /* 4. connect, send, await the reply (with a timeout). */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(unreachable, "socket", errno);
  long timeout_ms = DEFAULT_TIMEOUT_MS;
  const char *t = getenv("TRELLIS_SHIM_TIMEOUT_MS");
  if (t != NULL && atol(t) > 0) timeout_ms = atol(t);
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, socket_path, strlen(socket_path));
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return fail(unreachable, "cannot connect", errno);
  /* If sending fails the agent may still have answered (e.g. a request too
     large): read the reply anyway and only then give up. */
  int send_err = write_all(fd, req, o) != 0 ? errno : 0;

  unsigned char head[12];
  if (read_full(fd, head, sizeof head) != 0) {
    int err = errno;
    if (send_err != 0) return fail(unreachable, "cannot send the request", send_err);
    if (err == EAGAIN || err == EWOULDBLOCK) return fail(unreachable, "no reply before the timeout", 0);
    return fail(unreachable, "connection closed before a reply", err == ECONNRESET ? 0 : err);
  }
  if (memcmp(head, MAGIC, 4) != 0) return fail(unreachable, "malformed reply (bad magic)", 0);
  uint32_t code = get_u32(head + 4), outlen = get_u32(head + 8);
  if (outlen > MAX_REPLY) return fail(unreachable, "malformed reply (too long)", 0);
  char *out = malloc(outlen + 1);
  if (out == NULL) return fail(unreachable, "out of memory", 0);
  if (read_full(fd, out, outlen) != 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return fail(unreachable, "no reply before the timeout", 0);
    return fail(unreachable, "connection closed in the middle of a reply", err == ECONNRESET ? 0 : err);
  }
  close(fd);
  if (write_all(1, out, outlen) != 0) return 1;
  return code > 255 ? 1 : (int)code;
}
