/*
 * Bootchain's native TFTP data pump: the octet-mode data loop of one read transfer, run on its
 * own thread so that a lockstep transfer (one ACK per block, as BIOS PXE ROMs fetch) costs a few
 * syscalls per block (sendmsg, recv; one pread per 64 KiB) and no trip through the JS event loop. JS
 * (tftp-server.ts) keeps admission, option negotiation, netascii, limits and logging; it hands
 * over the open file's fd, the negotiated blksize/window, the OACK packet (if any) and the
 * timeouts, and gets progress (bytes acknowledged) and one final callback through a
 * threadsafe function.
 *
 * The rules are the JS loop's: blocks are numbered from 1 and roll over past 65535; an ACK is
 * mapped into (acked, cursor) and anything else (duplicate, not yet sent) is ignored; after
 * `timeoutMs` without a new ACK the window from acked + 1 is sent again, up to `retries` times;
 * no new ACK for `idleMs`, or a transfer longer than `maxMs`, ends it; an ERROR from the
 * client ends it; ICMP port unreachable (ECONNREFUSED on the connected socket) ends it. Abort
 * is seen within POLL_MS and sends the client an ERROR with the reason.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 100
#define PROGRESS_MS 200
/* The file is read this much at a time (one pread per 64 KiB, not one per block). */
#define RB_BYTES 65536

typedef struct {
  int sock;
  int fd;
  int64_t size;
  uint32_t blksize, window, timeout_ms, retries, idle_ms, max_ms;
  uint8_t *oack;
  size_t oack_len;
  uint8_t *rb; /* the file read ahead: RB_BYTES + blksize from rb_off */
  int64_t rb_off, rb_len;
  atomic_int aborted;
  char abort_reason[256];
  pthread_mutex_t lock; /* guards abort_reason */
  atomic_llong sent;
  atomic_int refs; /* the thread and the JS handle */
  napi_threadsafe_function tsfn;
} pump_t;

typedef struct {
  int done;
  int64_t bytes;
  char err[300];
} msg_t;

static void pump_unref(pump_t *p) {
  if (atomic_fetch_sub(&p->refs, 1) == 1) {
    if (p->sock >= 0) close(p->sock);
    pthread_mutex_destroy(&p->lock);
    free(p->oack);
    free(p->rb);
    free(p);
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post(pump_t *p, int done, int64_t bytes, const char *err) {
  msg_t *m = malloc(sizeof *m);
  if (!m) return;
  m->done = done;
  m->bytes = bytes;
  m->err[0] = 0;
  if (err) snprintf(m->err, sizeof m->err, "%s", err);
  napi_status s = napi_call_threadsafe_function(p->tsfn, m, done ? napi_tsfn_blocking : napi_tsfn_nonblocking);
  if (s != napi_ok) free(m);
}

static void send_error(pump_t *p, const char *text) {
  uint8_t b[300];
  size_t n = strlen(text);
  if (n > sizeof b - 5) n = sizeof b - 5;
  b[0] = 0, b[1] = 5, b[2] = 0, b[3] = 0;
  memcpy(b + 4, text, n);
  b[4 + n] = 0;
  (void)send(p->sock, b, n + 5, MSG_DONTWAIT);
}

/* Sends blocks cursor..last; 0, or an error text in err. */
static int send_blocks(pump_t *p, int64_t *cursor, int64_t last, char *err, size_t errlen) {
  for (; *cursor <= last; (*cursor)++) {
    int64_t n = *cursor;
    int64_t off = (n - 1) * (int64_t)p->blksize;
    int64_t want = p->size - off;
    if (want > p->blksize) want = p->blksize;
    if (want < 0) want = 0;
    uint8_t hdr[4] = {0, 3, (n >> 8) & 0xff, n & 0xff};
    if (want > 0 && (off < p->rb_off || off + want > p->rb_off + p->rb_len)) {
      /* Read ahead from this block: RB_BYTES + blksize, or to the end of the file. */
      int64_t cap = RB_BYTES + p->blksize, got = 0;
      if (cap > p->size - off) cap = p->size - off;
      p->rb_off = off;
      p->rb_len = 0;
      while (got < cap) {
        ssize_t r = pread(p->fd, p->rb + got, cap - got, off + got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          snprintf(err, errlen, "cannot read the file: %s", strerror(errno));
          return -1;
        }
        if (r == 0) break;
        got += r;
      }
      p->rb_len = got;
      if (got < want) {
        snprintf(err, errlen, "the file got shorter while being sent");
        return -1;
      }
    }
    struct iovec iov[2] = {{.iov_base = hdr, .iov_len = 4}, {.iov_base = p->rb + (off - p->rb_off), .iov_len = (size_t)want}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = want > 0 ? 2 : 1};
    for (;;) {
      ssize_t s = sendmsg(p->sock, &mh, 0);
      if (s >= 0) break;
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        snprintf(err, errlen, "the client is gone (its port is closed)");
        return -1;
      }
      if (errno == ENOBUFS || errno == EAGAIN) break; /* dropped: the resend timer covers it */
      snprintf(err, errlen, "socket error: %s", strerror(errno));
      return -1;
    }
  }
  return 0;
}

static void *run(void *arg) {
  pump_t *p = arg;
  char err[300] = "";
  const int64_t blocks = p->size / p->blksize + 1;
  int64_t acked = p->oack_len ? -1 : 0, cursor = 1;
  uint32_t tries = 0;
  const int64_t start = now_ms();
  int64_t last_progress = start, sent_at = start, reported_at = start, reported = -1;
  uint8_t in[1024];

#define SEND_WINDOW()                                                                        \
  do {                                                                                       \
    if (acked == -1) {                                                                       \
      (void)send(p->sock, p->oack, p->oack_len, 0);                                          \
    } else {                                                                                 \
      int64_t last_ = acked + p->window < blocks ? acked + p->window : blocks;               \
      if (send_blocks(p, &cursor, last_, err, sizeof err)) goto out;                         \
    }                                                                                        \
    sent_at = now_ms();                                                                      \
  } while (0)

  SEND_WINDOW();
  for (;;) {
    if (atomic_load(&p->aborted)) {
      pthread_mutex_lock(&p->lock);
      snprintf(err, sizeof err, "%s", p->abort_reason);
      pthread_mutex_unlock(&p->lock);
      send_error(p, err);
      goto out;
    }
    int64_t t = now_ms();
    if (t - start >= p->max_ms) {
      snprintf(err, sizeof err, "the transfer took longer than %u s", (unsigned)((p->max_ms + 500) / 1000));
      send_error(p, err);
      goto out;
    }
    if (reported != atomic_load(&p->sent) && t - reported_at >= PROGRESS_MS) {
      reported = atomic_load(&p->sent);
      reported_at = t;
      post(p, 0, reported, NULL);
    }
    int64_t wait = p->timeout_ms - (t - sent_at);
    if (wait <= 0) {
      if (t - last_progress >= p->idle_ms) {
        snprintf(err, sizeof err, "the client stopped answering (nothing for %u s)", (unsigned)((p->idle_ms + 500) / 1000));
        goto out;
      }
      if (++tries > p->retries) {
        snprintf(err, sizeof err, "the client stopped answering (after %u retries)", p->retries);
        goto out;
      }
      cursor = acked + 1;
      SEND_WINDOW();
      continue;
    }
    /* Lockstep: one blocking recv per ACK (the socket's SO_RCVTIMEO is POLL_MS, so abort and
     * the deadlines are looked at again within it); poll only for a wait shorter than that. */
    ssize_t r;
    if (wait >= POLL_MS) r = recv(p->sock, in, sizeof in, 0);
    else {
      struct pollfd pf = {.fd = p->sock, .events = POLLIN};
      if (poll(&pf, 1, (int)wait) <= 0) continue;
      r = recv(p->sock, in, sizeof in, MSG_DONTWAIT);
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      if (errno == ECONNREFUSED) snprintf(err, sizeof err, "the client is gone (its port is closed)");
      else snprintf(err, sizeof err, "socket error: %s", strerror(errno));
      goto out;
    }
    if (r < 4) continue;
    unsigned op = (in[0] << 8) | in[1];
    if (op == 5) {
      char text[200];
      size_t n = (size_t)r - 4 < sizeof text - 1 ? (size_t)r - 4 : sizeof text - 1;
      memcpy(text, in + 4, n);
      text[n] = 0;
      if (text[0]) snprintf(err, sizeof err, "the client ended the transfer: %s", text);
      else snprintf(err, sizeof err, "the client ended the transfer: error %u", (in[2] << 8) | in[3]);
      goto out;
    }
    if (op != 4) continue;
    unsigned n16 = (in[2] << 8) | in[3];
    if (acked == -1) {
      if (n16 != 0) continue;
      acked = 0;
    } else {
      /* Map the 16-bit number to the block in flight: within (acked, acked + window]. */
      int64_t n = acked - (acked & 0xffff) + n16;
      if (n < acked) n += 0x10000;
      if (n <= acked || n >= cursor) continue; /* a duplicate, or an ACK of a block not sent */
      int64_t hi = n * (int64_t)p->blksize < p->size ? n * (int64_t)p->blksize : p->size;
      int64_t lo = acked * (int64_t)p->blksize < p->size ? acked * (int64_t)p->blksize : p->size;
      atomic_fetch_add(&p->sent, hi - lo);
      acked = n;
    }
    tries = 0;
    last_progress = now_ms();
    if (acked >= blocks) break;
    cursor = acked + 1;
    SEND_WINDOW();
  }
out:
  /* The port is closed now, not when the JS handle is collected (the fd is not used again). */
  close(p->sock);
  p->sock = -1;
  post(p, 1, atomic_load(&p->sent), err[0] ? err : NULL);
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
  pump_unref(p);
  return NULL;
}

/* JS thread: progress(bytes) or done(err|null, bytes). */
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  msg_t *m = data;
  if (env && cb) {
    napi_value undef, argv[2], fn;
    napi_get_undefined(env, &undef);
    napi_value global;
    napi_get_global(env, &global);
    if (m->err[0]) napi_create_string_utf8(env, m->err, NAPI_AUTO_LENGTH, &argv[0]);
    else napi_get_null(env, &argv[0]);
    napi_create_int64(env, m->bytes, &argv[1]);
    napi_value done;
    napi_get_boolean(env, m->done, &done);
    napi_value args[3] = {done, argv[0], argv[1]};
    fn = cb;
    napi_call_function(env, undef, fn, 3, args, NULL);
  }
  free(m);
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "tftp_pump: " #call " failed");     \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static uint32_t get_u32(napi_env env, napi_value o, const char *k, uint32_t def) {
  napi_value v;
  bool has = false;
  uint32_t out = def;
  if (napi_has_named_property(env, o, k, &has) != napi_ok || !has) return def;
  napi_get_named_property(env, o, k, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) napi_get_value_uint32(env, v, &out);
  return out;
}

static int get_str(napi_env env, napi_value o, const char *k, char *buf, size_t len) {
  napi_value v;
  bool has = false;
  buf[0] = 0;
  if (napi_has_named_property(env, o, k, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, o, k, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return 0;
  size_t n;
  napi_get_value_string_utf8(env, v, buf, len, &n);
  return 1;
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  pump_unref(data);
}

static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  pump_t *p;
  CHECK(napi_unwrap(env, self, (void **)&p));
  char reason[256] = "aborted";
  if (argc >= 1) {
    size_t n;
    napi_valuetype t;
    napi_typeof(env, argv[0], &t);
    if (t == napi_string) napi_get_value_string_utf8(env, argv[0], reason, sizeof reason, &n);
  }
  pthread_mutex_lock(&p->lock);
  if (!atomic_load(&p->aborted)) snprintf(p->abort_reason, sizeof p->abort_reason, "%s", reason);
  pthread_mutex_unlock(&p->lock);
  atomic_store(&p->aborted, 1);
  return NULL;
}

static napi_value js_sent(napi_env env, napi_callback_info info) {
  napi_value self, out;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  pump_t *p;
  CHECK(napi_unwrap(env, self, (void **)&p));
  CHECK(napi_create_int64(env, atomic_load(&p->sent), &out));
  return out;
}

/*
 * start({ local?, peer, port, fd, size, blksize, window, timeoutMs, retries, idleMs, maxMs,
 * oack?: Buffer }, callback(done, err, bytes)) -> { abort(reason), sent() }. The socket is made
 * here, bound to `local` (or any address) on a free port and connected to peer:port, as the JS
 * path's; a failure to do that throws.
 */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "start(options, callback)");
    return NULL;
  }
  napi_value o = argv[0];
  char local[64], peer[64];
  get_str(env, o, "local", local, sizeof local);
  if (!get_str(env, o, "peer", peer, sizeof peer)) {
    napi_throw_type_error(env, NULL, "peer (an IPv4 address) is needed");
    return NULL;
  }
  napi_value sv;
  double size = 0;
  CHECK(napi_get_named_property(env, o, "size", &sv));
  CHECK(napi_get_value_double(env, sv, &size));
  pump_t *p = calloc(1, sizeof *p);
  if (!p) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  p->sock = -1;
  p->fd = (int)get_u32(env, o, "fd", (uint32_t)-1);
  p->size = (int64_t)size;
  p->blksize = get_u32(env, o, "blksize", 512);
  p->window = get_u32(env, o, "window", 1);
  p->timeout_ms = get_u32(env, o, "timeoutMs", 1000);
  p->retries = get_u32(env, o, "retries", 5);
  p->idle_ms = get_u32(env, o, "idleMs", 10000);
  p->max_ms = get_u32(env, o, "maxMs", 600000);
  uint32_t port = get_u32(env, o, "port", 0);
  pthread_mutex_init(&p->lock, NULL);
  atomic_init(&p->refs, 1);
  const char *bad = NULL;
  struct sockaddr_in la = {.sin_family = AF_INET}, pa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (p->blksize < 8 || p->blksize > 65464 || p->window < 1 || p->fd == -1 || size < 0 || port == 0 || port > 65535) bad = "bad options";
  else if (inet_pton(AF_INET, peer, &pa.sin_addr) != 1) bad = "peer is not an IPv4 address";
  else if (local[0] && inet_pton(AF_INET, local, &la.sin_addr) != 1) bad = "local is not an IPv4 address";
  if (!bad) {
    p->rb = malloc(RB_BYTES + p->blksize);
    if (!p->rb) bad = "out of memory";
  }
  bool isbuf = false;
  napi_value ov;
  bool has = false;
  if (!bad && napi_has_named_property(env, o, "oack", &has) == napi_ok && has) {
    napi_get_named_property(env, o, "oack", &ov);
    napi_is_buffer(env, ov, &isbuf);
    if (isbuf) {
      void *d;
      size_t n;
      napi_get_buffer_info(env, ov, &d, &n);
      if (n > 0) {
        p->oack = malloc(n);
        if (p->oack) memcpy(p->oack, d, n), p->oack_len = n;
        else bad = "out of memory";
      }
    }
  }
  char err[200];
  if (!bad) {
    p->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = POLL_MS * 1000};
    if (p->sock < 0 || setsockopt(p->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) || bind(p->sock, (struct sockaddr *)&la, sizeof la) || connect(p->sock, (struct sockaddr *)&pa, sizeof pa)) {
      snprintf(err, sizeof err, "socket: %s", strerror(errno));
      bad = err;
    }
  }
  if (bad) {
    pump_unref(p);
    napi_throw_error(env, NULL, bad);
    return NULL;
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "tftp_pump", NAPI_AUTO_LENGTH, &name));
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 64, 1, NULL, NULL, NULL, call_js, &p->tsfn) != napi_ok) {
    pump_unref(p);
    napi_throw_error(env, NULL, "tftp_pump: no threadsafe function");
    return NULL;
  }
  napi_value handle, fa, fs;
  CHECK(napi_create_object(env, &handle));
  CHECK(napi_create_function(env, "abort", NAPI_AUTO_LENGTH, js_abort, NULL, &fa));
  CHECK(napi_create_function(env, "sent", NAPI_AUTO_LENGTH, js_sent, NULL, &fs));
  CHECK(napi_set_named_property(env, handle, "abort", fa));
  CHECK(napi_set_named_property(env, handle, "sent", fs));
  atomic_store(&p->refs, 2); /* the handle's and the thread's */
  CHECK(napi_wrap(env, handle, p, handle_finalize, NULL, NULL));
  /* The socket's local port, for tests and logs. */
  struct sockaddr_in bound;
  socklen_t bl = sizeof bound;
  napi_value lp;
  if (getsockname(p->sock, (struct sockaddr *)&bound, &bl) == 0 && napi_create_uint32(env, ntohs(bound.sin_port), &lp) == napi_ok) napi_set_named_property(env, handle, "localPort", lp);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t th;
  int e = pthread_create(&th, &attr, run, p);
  pthread_attr_destroy(&attr);
  if (e) {
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
    atomic_fetch_sub(&p->refs, 1); /* no thread: the handle's finalizer frees it */
    napi_throw_error(env, NULL, "tftp_pump: cannot start a thread");
    return NULL;
  }
  return handle;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  CHECK(napi_create_function(env, "start", NAPI_AUTO_LENGTH, js_start, NULL, &f));
  CHECK(napi_set_named_property(env, exports, "start", f));
  napi_value v;
  CHECK(napi_create_uint32(env, 1, &v));
  CHECK(napi_set_named_property(env, exports, "version", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
