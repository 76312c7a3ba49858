// The readiness reactor: ONE epoll thread per addon instance (per JS realm), EPOLLONESHOT, whose
// events reach JS as batches through a Node-API thread-safe function. No libuv: the thread-safe
// function is the only bridge, so the addon runs unchanged in Node, Bun and Deno.
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
  int Start(napi_env env, napi_value on_events, int redeliver_ms);
  // Arms with EPOLLONESHOT: EPOLL_CTL_MOD when `added` (ADD if it was not registered after
  // all), else EPOLL_CTL_ADD (MOD if it was). → 0 or -errno
  // (-EBADF before Start, -EINVAL for the reactor's own epoll fd or eventfd).
  int Watch(int fd, int32_t token, uint32_t events, bool added) const;
  // EPOLL_CTL_DEL. → 0 or -errno (as Watch).
  int Unwatch(int fd) const;
  // Thread-safe function ref/unref: keep the process alive, or not.
  void Ref(napi_env env) const;
  void Unref(napi_env env) const;

 private:
  struct Loop;
  static void Finalize(napi_env env, void* data, void* hint);
  bool Owns(int fd) const;

  Loop* loop_ = nullptr;  // null before Start and once the thread-safe function is finalized
  bool started_ = false;
};

}  // namespace unix_socket

#endif  // UNIX_SOCKET_REACTOR_H_
