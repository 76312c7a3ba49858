// The readiness reactor, in one of two modes chosen by the caller at Start:
// - thread (every runtime): ONE epoll thread per addon instance (per JS realm), EPOLLONESHOT,
//   whose events reach JS as batches through a Node-API thread-safe function;
// - event loop (Node.js only, on the Node adapter's request): a libuv poll handle per
//   descriptor on the realm's own loop, so a readiness event costs no thread hop. Bun aborts on
//   uv_poll_init and Deno has no libuv loop, so libuv is resolved at run time (dlsym), only
//   when asked for, and the addon links against no libuv symbol.
#ifndef UNIX_SOCKET_REACTOR_H_
#define UNIX_SOCKET_REACTOR_H_

#include <node_api.h>

#include <cstdint>

namespace unix_socket {

// Owned by the addon instance; every method runs on that instance's JS thread.
class Reactor {
 public:
  Reactor() = default;
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  ~Reactor();

  // Starts the thread; `on_events` receives Int32Array [token, events, ...]. → 0 or -errno
  // (-EALREADY on a second call).
  // `redeliver_ms` > 0: while a posted batch has not reached JS for that long, post an empty
  // one, whose wake-up lets the runtime run both (for runtimes whose thread-safe function can
  // miss a wake-up; 0 for none).
  // `event_loop`: use the runtime's libuv loop instead of a thread (see above); `on_events` then
  // receives (token, events) per event. -ENOSYS when libuv cannot be found.
  int Start(napi_env env, napi_value on_events, int redeliver_ms, bool event_loop);
  // Arms with EPOLLONESHOT: EPOLL_CTL_MOD when `added` (ADD if it was not registered after
  // all), else EPOLL_CTL_ADD (MOD if it was). → 0 or -errno
  // (-EBADF before Start, -EINVAL for the reactor's own epoll fd or eventfd).
  int Watch(int fd, int32_t token, uint32_t events, bool added);
  // EPOLL_CTL_DEL. → 0 or -errno (as Watch).
  int Unwatch(int fd);
  // Thread-safe function ref/unref: keep the process alive, or not.
  void Ref(napi_env env) const;
  void Unref(napi_env env) const;

 private:
  struct Loop;
  struct Polls;
  int StartThread(napi_env env, napi_value on_events, int redeliver_ms);
  static void Finalize(napi_env env, void* data, void* hint);
  bool Owns(int fd) const;

  Loop* loop_ = nullptr;  // null before Start and once the thread-safe function is finalized
  Polls* polls_ = nullptr;  // event-loop mode only
  bool started_ = false;
};

}  // namespace unix_socket

#endif  // UNIX_SOCKET_REACTOR_H_
