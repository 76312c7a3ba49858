// Registration. Context-aware through Napi::Addon<T>: each JS realm (main thread, every worker)
// that loads the addon gets its own UnixSocketAddon as Node-API instance data, destroyed with
// that realm, so there is no global mutable state. The instance holds the realm's reactor.
#include <napi.h>

#include "reactor.h"
#include "syscalls.h"

namespace unix_socket {
namespace {

Reactor* ReactorOf(const Args& args) { return static_cast<Reactor*>(args.data()); }

napi_value ReactorStart(napi_env env, napi_callback_info info) {
  Args args(env, info);
  napi_value on_events;
  int32_t redeliver_ms, event_loop;
  if (!args.Function(0, &on_events) || !args.Int(1, &redeliver_ms) || !args.Int(2, &event_loop)) return nullptr;
  return Int(env, ReactorOf(args)->Start(env, on_events, redeliver_ms, event_loop != 0));
}

napi_value Watch(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, token, events, added;
  if (!args.Int(0, &fd) || !args.Int(1, &token) || !args.Int(2, &events) || !args.Int(3, &added)) {
    return nullptr;
  }
  return Int(env, ReactorOf(args)->Watch(fd, token, static_cast<uint32_t>(events), added != 0));
}

napi_value Unwatch(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  if (!args.Int(0, &fd)) return nullptr;
  return Int(env, ReactorOf(args)->Unwatch(fd));
}

napi_value Ref(napi_env env, napi_callback_info info) {
  Args args(env, info);
  ReactorOf(args)->Ref(env);
  return Undefined(env);
}

napi_value Unref(napi_env env, napi_callback_info info) {
  Args args(env, info);
  ReactorOf(args)->Unref(env);
  return Undefined(env);
}

}  // namespace

class UnixSocketAddon : public Napi::Addon<UnixSocketAddon> {
 public:
  UnixSocketAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {InstanceValue("constants", Napi::Value(env, MakeConstants(env)),
                                        napi_enumerable)});
    // Raw Node-API callbacks (see syscalls.h); the reactor's get this instance's Reactor as data.
    napi_define_properties(env, exports, kSyscallCount, kSyscalls);
    const napi_property_descriptor reactor[] = {
        {"reactorStart", nullptr, ReactorStart, nullptr, nullptr, nullptr, napi_enumerable,
         &reactor_},
        {"watch", nullptr, Watch, nullptr, nullptr, nullptr, napi_enumerable, &reactor_},
        {"unwatch", nullptr, Unwatch, nullptr, nullptr, nullptr, napi_enumerable, &reactor_},
        {"ref", nullptr, Ref, nullptr, nullptr, nullptr, napi_enumerable, &reactor_},
        {"unref", nullptr, Unref, nullptr, nullptr, nullptr, napi_enumerable, &reactor_},
    };
    napi_define_properties(env, exports, sizeof reactor / sizeof reactor[0], reactor);
  }

 private:
  Reactor reactor_;
};

}  // namespace unix_socket

using unix_socket::UnixSocketAddon;
NODE_API_ADDON(UnixSocketAddon)
