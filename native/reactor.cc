// The epoll thread. Lifetime, the part that must never hang or crash:
//
// The thread only ever touches its Loop (epoll fd, eventfd) and the thread-safe function (TSFN).
// The Loop belongs to the TSFN: the TSFN's finalizer, which the runtime runs on the JS thread
// before it frees the TSFN (on env/worker teardown, or after an abort), wakes the thread through
// the eventfd, joins it, closes the fds and deletes the Loop. So the thread is gone before the
// TSFN it posts to is freed, whether the TSFN is ref'd or not and whether the thread sits in
// epoll_wait or is posting. If the addon instance is destroyed first (Node destroys it after
// every TSFN, but other runtimes may not), ~Reactor joins the thread itself, aborts the TSFN and
// leaves the Loop to the finalizer. If the process simply exits, the blocked thread dies with it.
#include "reactor.h"

#include <errno.h>

#include <atomic>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace unix_socket {
namespace {

constexpr uint64_t kWakeUp = 0;                      // epoll data of the eventfd
constexpr uint64_t kWatched = uint64_t{1} << 32;     // epoll data of a watched fd: kWatched | token
constexpr int kMaxEvents = 256;
constexpr size_t kStackSize = 256 * 1024;

}  // namespace

struct Reactor::Loop {
  Reactor* owner = nullptr;  // cleared when the Reactor dies before the TSFN is finalized
  int epfd = -1;
  int wakefd = -1;
  napi_threadsafe_function tsfn = nullptr;
  pthread_t thread{};
  bool running = false;
  int redeliver_ms = 0;
  std::atomic<uint64_t> posted{0};     // batches posted by the thread
  std::atomic<uint64_t> delivered{0};  // batches that reached the JS thread

  ~Loop() {
    Join();
    if (epfd >= 0) close(epfd);
    if (wakefd >= 0) close(wakefd);
  }

  // Wakes the thread (the eventfd stays readable, so it cannot miss it) and waits for it.
  void Join() {
    if (!running) return;
    uint64_t one = 1;
    while (write(wakefd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    pthread_join(thread, nullptr);
    running = false;
  }

  int StartThread() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackSize);
    // Block every signal in the new thread: signals belong to the runtime's threads.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int error = pthread_create(&thread, &attr, Run, this);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    pthread_attr_destroy(&attr);
    if (error != 0) return -error;
    running = true;
    pthread_setname_np(thread, "unix-socket-io");
    return 0;
  }

  // Posts a batch without blocking (the queue is unlimited); CallJs frees it. False once the
  // TSFN is closing.
  bool Post(int32_t* batch) {
    posted.fetch_add(1, std::memory_order_relaxed);
    if (napi_call_threadsafe_function(tsfn, batch, napi_tsfn_nonblocking) == napi_ok) return true;
    free(batch);  // napi_closing: the TSFN is being torn down, post nothing more
    return false;
  }

  // One batch per wake-up: a heap array [count, token, events, token, events, ...].
  static void* Run(void* arg) {
    Loop* loop = static_cast<Loop*>(arg);
    epoll_event events[kMaxEvents];
    for (;;) {
      const bool waiting = loop->redeliver_ms > 0 && loop->delivered.load(std::memory_order_acquire) !=
                                                         loop->posted.load(std::memory_order_relaxed);
      int n = epoll_wait(loop->epfd, events, kMaxEvents, waiting ? loop->redeliver_ms : -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return nullptr;
      }
      if (n == 0) {
        // A batch is still queued for JS: an empty one wakes the runtime's loop again.
        auto* nudge = static_cast<int32_t*>(malloc(sizeof(int32_t)));
        if (nudge == nullptr) continue;  // try again after the next timeout
        nudge[0] = 0;
        if (!loop->Post(nudge)) return nullptr;
        continue;
      }
      int count = 0;
      for (int i = 0; i < n; i++) {
        if (events[i].data.u64 == kWakeUp) return nullptr;  // shutting down: no JS will run
        count++;
      }
      auto* batch = static_cast<int32_t*>(malloc(sizeof(int32_t) * (1 + 2 * count)));
      if (batch == nullptr) abort();  // the events would be lost and their fds never re-armed
      batch[0] = count;
      for (int i = 0; i < n; i++) {
        batch[1 + 2 * i] = static_cast<int32_t>(static_cast<uint32_t>(events[i].data.u64));
        batch[2 + 2 * i] = static_cast<int32_t>(events[i].events);
      }
      if (!loop->Post(batch)) return nullptr;
    }
  }

  // On the JS thread. `env` is null when the runtime drains the queue at teardown.
  static void CallJs(napi_env env, napi_value callback, void* context, void* data) {
    auto* batch = static_cast<int32_t*>(data);
    // The Loop is alive while batches reach JS (env set); at teardown (env null) it may not be.
    if (env != nullptr) static_cast<Loop*>(context)->delivered.fetch_add(1, std::memory_order_release);
    if (env != nullptr && callback != nullptr && batch[0] > 0) {
      size_t length = 2 * static_cast<size_t>(batch[0]);
      void* bytes;
      napi_value buffer, array, receiver;
      if (napi_create_arraybuffer(env, length * sizeof(int32_t), &bytes, &buffer) == napi_ok &&
          napi_create_typedarray(env, napi_int32_array, length, buffer, 0, &array) == napi_ok &&
          napi_get_undefined(env, &receiver) == napi_ok) {
        memcpy(bytes, batch + 1, length * sizeof(int32_t));
        // A throwing callback must not go unnoticed: Node-API 8 modules only get a warning
        // (DEP0168) for an exception left pending here, so raise it as uncaught ourselves.
        napi_value error;
        if (napi_call_function(env, receiver, callback, 1, &array, nullptr) ==
                napi_pending_exception &&
            napi_get_and_clear_last_exception(env, &error) == napi_ok) {
          napi_fatal_exception(env, error);
        }
      }
    }
    free(batch);
  }
};

int Reactor::Start(napi_env env, napi_value on_events, int redeliver_ms) {
  if (started_) return -EALREADY;
  Loop* loop = new Loop();
  loop->redeliver_ms = redeliver_ms > 0 ? redeliver_ms : 0;
  epoll_event wake = {};
  wake.events = EPOLLIN;
  wake.data.u64 = kWakeUp;
  if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
      (loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
      epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &wake) < 0) {
    int error = -errno;
    delete loop;
    return error;
  }
  napi_value name;
  if (napi_create_string_utf8(env, "unix-socket-reactor", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, on_events, nullptr, name, 0, 1, loop, Finalize, loop,
                                      Loop::CallJs, &loop->tsfn) != napi_ok) {
    delete loop;
    return -ENOMEM;
  }
  napi_unref_threadsafe_function(env, loop->tsfn);
  // From here on the Loop belongs to the TSFN: only Finalize deletes it.
  int error = loop->StartThread();
  if (error != 0) {
    napi_release_threadsafe_function(loop->tsfn, napi_tsfn_abort);
    return error;
  }
  loop->owner = this;
  loop_ = loop;
  started_ = true;
  return 0;
}

void Reactor::Finalize(napi_env, void* data, void*) {
  Loop* loop = static_cast<Loop*>(data);
  if (loop->owner != nullptr) loop->owner->loop_ = nullptr;
  delete loop;  // joins the thread before the runtime frees the TSFN
}

Reactor::~Reactor() {
  if (loop_ == nullptr) return;
  loop_->Join();  // the thread never touches the TSFN again
  loop_->owner = nullptr;
  napi_release_threadsafe_function(loop_->tsfn, napi_tsfn_abort);  // Finalize frees the Loop
}

// A stale fd number must never re-register or remove the reactor's own eventfd: shutdown
// would then never wake the thread, and joining it would hang.
bool Reactor::Owns(int fd) const { return fd == loop_->epfd || fd == loop_->wakefd; }

int Reactor::Watch(int fd, int32_t token, uint32_t events, bool added) const {
  if (loop_ == nullptr) return -EBADF;
  if (Owns(fd)) return -EINVAL;
  epoll_event event = {};
  event.events = events | EPOLLONESHOT;
  event.data.u64 = kWatched | static_cast<uint32_t>(token);
  // The caller says which is likely; the other is the fallback (one syscall in the usual case).
  const int first = added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(loop_->epfd, first, fd, &event) == 0) return 0;
  if (errno != (added ? ENOENT : EEXIST)) return -errno;
  return epoll_ctl(loop_->epfd, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) == 0 ? 0 : -errno;
}

int Reactor::Unwatch(int fd) const {
  if (loop_ == nullptr) return -EBADF;
  if (Owns(fd)) return -EINVAL;
  epoll_event unused = {};
  return epoll_ctl(loop_->epfd, EPOLL_CTL_DEL, fd, &unused) == 0 ? 0 : -errno;
}

void Reactor::Ref(napi_env env) const {
  if (loop_ != nullptr) napi_ref_threadsafe_function(env, loop_->tsfn);
}

void Reactor::Unref(napi_env env) const {
  if (loop_ != nullptr) napi_unref_threadsafe_function(env, loop_->tsfn);
}

}  // namespace unix_socket
