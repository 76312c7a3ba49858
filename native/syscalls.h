// Thin, errno-honest syscall wrappers, and the argument reader they share with addon.cc.
//
// Every exported function is a raw Node-API callback: `Napi::CallbackInfo` heap-allocates its
// argument array past six arguments (sendmsg has seven) and every `Napi::Value` conversion adds
// a type check, so on this hot path the arguments are read straight from `napi_get_cb_info`.
// A failed syscall returns -errno; only an argument of the wrong type throws (a TypeError).
#ifndef UNIX_SOCKET_SYSCALLS_H_
#define UNIX_SOCKET_SYSCALLS_H_

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace unix_socket {

// A typed array's elements (`present` is false for a null argument, where one is allowed).
template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
  bool present = false;
};

// Reads the arguments of one call. Each getter returns false after throwing a TypeError.
class Args {
 public:
  Args(napi_env env, napi_callback_info info);

  napi_env env() const { return env_; }
  void* data() const { return data_; }

  bool Int(size_t i, int32_t* out);
  bool Bytes(size_t i, View<uint8_t>* out, bool nullable = false);
  bool Int32s(size_t i, View<int32_t>* out, bool nullable = false);
  bool Float64s(size_t i, View<double>* out);
  bool Function(size_t i, napi_value* out);
  // A path string as a NUL-terminated UTF-8 buffer of PATH_MAX bytes; `*error` is 0, or
  // -ENAMETOOLONG / -EINVAL (embedded NUL) when the string cannot be a path.
  bool Path(size_t i, char* buffer, int* error);

 private:
  bool Typed(size_t i, napi_typedarray_type type, bool nullable, void** data, size_t* length,
             bool* present);
  bool Fail(size_t i, const char* expected);

  static constexpr size_t kMaxArgs = 10;
  napi_env env_;
  void* data_ = nullptr;
  napi_value argv_[kMaxArgs];
};

napi_value Int(napi_env env, int32_t value);
napi_value Undefined(napi_env env);

// The syscall wrappers, ready for napi_define_properties.
extern const napi_property_descriptor kSyscalls[];
extern const size_t kSyscallCount;

// The `constants` object (see NativeConstants in src/internal/binding.ts).
napi_value MakeConstants(napi_env env);

}  // namespace unix_socket

#endif  // UNIX_SOCKET_SYSCALLS_H_
