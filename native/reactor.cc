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
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <unordered_map>

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


// Event-loop mode (Node.js only): one libuv poll handle per watched descriptor on the realm's
// own loop. libuv is looked up in the process at Start (Node exports it) and never linked, so
// the same binary loads where there is no libuv. Handles are unref'd: liveness stays with the
// thread-safe function's ref, as in thread mode.
//
// One-shot like EPOLLONESHOT, without a syscall per event in the usual case: a handle whose
// callback re-arms it with the same interest (a reader that drained to EAGAIN and waits again)
// simply stays started; one nobody re-armed is stopped when its callback returns, so nothing is
// read unless someone waits. (libuv's uv_poll_start stops first, i.e. EPOLL_CTL_DEL + ADD, so
// it is only called when the interest changes.)
struct Reactor::Polls {
  struct Api {
    decltype(&uv_poll_init) poll_init = nullptr;
    decltype(&uv_poll_start) poll_start = nullptr;
    decltype(&uv_poll_stop) poll_stop = nullptr;
    decltype(&uv_close) close = nullptr;
    decltype(&uv_unref) unref = nullptr;

    bool Load() {
      poll_init = reinterpret_cast<decltype(poll_init)>(dlsym(RTLD_DEFAULT, "uv_poll_init"));
      poll_start = reinterpret_cast<decltype(poll_start)>(dlsym(RTLD_DEFAULT, "uv_poll_start"));
      poll_stop = reinterpret_cast<decltype(poll_stop)>(dlsym(RTLD_DEFAULT, "uv_poll_stop"));
      close = reinterpret_cast<decltype(close)>(dlsym(RTLD_DEFAULT, "uv_close"));
      unref = reinterpret_cast<decltype(unref)>(dlsym(RTLD_DEFAULT, "uv_unref"));
      return poll_init && poll_start && poll_stop && close && unref;
    }
  };

  struct Poll {
    uv_poll_t handle;
    Polls* owner = nullptr;
    int32_t token = 0;
    int interest = 0;      // libuv events the handle polls for while started
    bool started = false;
    bool firing = false;   // inside its callback
    bool rearmed = false;  // armed again during its callback
    bool closing = false;
  };

  Api uv;
  uv_loop_t* loop = nullptr;
  napi_env env = nullptr;
  napi_ref callback = nullptr;
  std::unordered_map<int, Poll*> by_fd;

  ~Polls() {
    for (auto& entry : by_fd) Close(entry.second);
    by_fd.clear();
    if (callback != nullptr) napi_delete_reference(env, callback);
  }

  void Close(Poll* poll) {
    poll->closing = true;
    poll->started = false;
    uv.close(reinterpret_cast<uv_handle_t*>(&poll->handle),
             [](uv_handle_t* handle) { delete static_cast<Poll*>(handle->data); });
  }

  int Watch(int fd, int32_t token, uint32_t events) {
    const int interest = ((events & EPOLLIN) != 0 ? UV_READABLE : 0) | ((events & EPOLLOUT) != 0 ? UV_WRITABLE : 0);
    Poll* poll;
    auto found = by_fd.find(fd);
    if (found != by_fd.end()) {
      poll = found->second;
    } else {
      poll = new Poll();
      poll->owner = this;
      int result = uv.poll_init(loop, &poll->handle, fd);
      if (result != 0) {
        delete poll;
        return result;  // libuv errors are -errno on Unix
      }
      poll->handle.data = poll;
      uv.unref(reinterpret_cast<uv_handle_t*>(&poll->handle));
      by_fd.emplace(fd, poll);
    }
    poll->token = token;
    if (poll->firing) poll->rearmed = true;
    if (poll->started && poll->interest == interest) return 0;
    int result = uv.poll_start(&poll->handle, interest, OnPoll);
    poll->started = result == 0;
    poll->interest = interest;
    return result;
  }

  int Unwatch(int fd) {
    auto found = by_fd.find(fd);
    if (found == by_fd.end()) return -ENOENT;
    Poll* poll = found->second;
    by_fd.erase(found);
    Close(poll);  // freed by libuv's close callback, after any callback of its still running
    return 0;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Poll* poll = static_cast<Poll*>(handle->data);
    uint32_t bits = 0;
    if (status < 0) {
      bits |= EPOLLERR;
      poll->started = false;  // libuv stops a handle that reports an error
    }
    if ((events & UV_READABLE) != 0) bits |= EPOLLIN;
    if ((events & UV_WRITABLE) != 0) bits |= EPOLLOUT;
    if ((events & UV_DISCONNECT) != 0) bits |= EPOLLRDHUP;
    poll->firing = true;
    poll->rearmed = false;
    poll->owner->Call(poll->token, bits);
    poll->firing = false;
    if (!poll->closing && !poll->rearmed && poll->started) {
      poll->owner->uv.poll_stop(handle);
      poll->started = false;
    }
  }

  // Runs the JS callback as a callback from native code: microtasks and ticks run after it.
  // (napi_make_callback wants an object as receiver: the global object.)
  void Call(int32_t token, uint32_t bits) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn, receiver, argv[2], error;
    if (napi_get_reference_value(env, callback, &fn) == napi_ok && fn != nullptr &&
        napi_get_global(env, &receiver) == napi_ok && napi_create_int32(env, token, &argv[0]) == napi_ok &&
        napi_create_int32(env, static_cast<int32_t>(bits), &argv[1]) == napi_ok &&
        napi_make_callback(env, nullptr, receiver, fn, 2, argv, nullptr) == napi_pending_exception &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      napi_fatal_exception(env, error);  // as in thread mode: a throwing callback is uncaught
    }
    napi_close_handle_scope(env, scope);
  }
};

int Reactor::Start(napi_env env, napi_value on_events, int redeliver_ms, bool event_loop) {
  if (started_) return -EALREADY;
  if (!event_loop) return StartThread(env, on_events, redeliver_ms);
  auto* polls = new Polls();
  polls->env = env;
  if (!polls->uv.Load() || napi_get_uv_event_loop(env, &polls->loop) != napi_ok || polls->loop == nullptr) {
    delete polls;
    return -ENOSYS;
  }
  // The thread-safe function only carries ref/unref here: no thread ever posts to it.
  Loop* loop = new Loop();
  napi_value name;
  if (napi_create_reference(env, on_events, 1, &polls->callback) != napi_ok ||
      napi_create_string_utf8(env, "unix-socket-reactor", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, on_events, nullptr, name, 0, 1, loop, Finalize, loop,
                                      Loop::CallJs, &loop->tsfn) != napi_ok) {
    delete loop;
    delete polls;
    return -ENOMEM;
  }
  napi_unref_threadsafe_function(env, loop->tsfn);
  loop->owner = this;
  loop_ = loop;
  polls_ = polls;
  started_ = true;
  return 0;
}

int Reactor::StartThread(napi_env env, napi_value on_events, int redeliver_ms) {
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
  delete polls_;  // closes its handles
  polls_ = nullptr;
  if (loop_ == nullptr) return;
  loop_->Join();  // the thread never touches the TSFN again
  loop_->owner = nullptr;
  napi_release_threadsafe_function(loop_->tsfn, napi_tsfn_abort);  // Finalize frees the Loop
}

// A stale fd number must never re-register or remove the reactor's own eventfd: shutdown
// would then never wake the thread, and joining it would hang.
bool Reactor::Owns(int fd) const { return fd == loop_->epfd || fd == loop_->wakefd; }

int Reactor::Watch(int fd, int32_t token, uint32_t events, bool added) {
  if (loop_ == nullptr) return -EBADF;
  if (Owns(fd)) return -EINVAL;
  if (polls_ != nullptr) return polls_->Watch(fd, token, events);
  epoll_event event = {};
  event.events = events | EPOLLONESHOT;
  event.data.u64 = kWatched | static_cast<uint32_t>(token);
  // The caller says which is likely; the other is the fallback (one syscall in the usual case).
  const int first = added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(loop_->epfd, first, fd, &event) == 0) return 0;
  if (errno != (added ? ENOENT : EEXIST)) return -errno;
  return epoll_ctl(loop_->epfd, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) == 0 ? 0 : -errno;
}

int Reactor::Unwatch(int fd) {
  if (loop_ == nullptr) return -EBADF;
  if (Owns(fd)) return -EINVAL;
  if (polls_ != nullptr) return polls_->Unwatch(fd);
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
