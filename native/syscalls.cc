// Thin, errno-honest syscall wrappers (see src/internal/binding.ts for the contract).
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace unix_socket {
namespace {

constexpr size_t kScmMaxFd = 253;  // SCM_MAX_FD (include/net/scm.h, not in the uapi headers)
constexpr size_t kMetaHeader = 8;  // recvmsg meta slots before the descriptors
constexpr size_t kSunPathMax = sizeof(sockaddr_un::sun_path);
constexpr socklen_t kSunPathOffset = offsetof(sockaddr_un, sun_path);
constexpr size_t kControlSize = CMSG_SPACE(kScmMaxFd * sizeof(int)) + CMSG_SPACE(sizeof(ucred));
#ifndef SCM_PIDFD
constexpr int SCM_PIDFD = 4;
#endif
#ifndef SO_PEERPIDFD
constexpr int SO_PEERPIDFD = 77;  // Linux 6.5; newer than glibc 2.36's headers
#endif
#ifndef SYS_pidfd_send_signal
constexpr long SYS_pidfd_send_signal = 424;
#endif

// recvmsg always passes MSG_TRUNC, with no SO_TYPE lookup per call (a syscall) and no fd→type
// cache (fd numbers are process-wide and get reused behind any cache, even from other workers).
// This is sound because every socket here is AF_UNIX: DGRAM and SEQPACKET then return the full
// datagram length, while the AF_UNIX stream path (unix_stream_read_generic) ignores MSG_TRUNC
// and copies as usual. It would NOT be sound for TCP, where MSG_TRUNC discards the data.
constexpr int kRecvFlags = MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC;
constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;

int Check(long result) { return result < 0 ? -errno : static_cast<int>(result); }

bool InRange(const View<uint8_t>& view, int32_t offset, int32_t length) {
  return offset >= 0 && length >= 0 &&
         static_cast<size_t>(offset) + static_cast<size_t>(length) <= view.length;
}

// sun_path bytes → sockaddr_un; returns the addrlen to pass, or -errno.
int EncodeAddress(const View<uint8_t>& address, sockaddr_un* out) {
  out->sun_family = AF_UNIX;
  size_t length = address.length;
  if (length == 0) return sizeof(sa_family_t);  // autobind (bind), EINVAL elsewhere
  if (address.data[0] == 0) {                   // abstract: the exact bytes, no NUL
    if (length > kSunPathMax) return -ENAMETOOLONG;
    memcpy(out->sun_path, address.data, length);
    return static_cast<int>(kSunPathOffset + length);
  }
  if (length >= kSunPathMax) return -ENAMETOOLONG;  // a path needs room for its NUL
  if (memchr(address.data, 0, length) != nullptr) return -EINVAL;
  memcpy(out->sun_path, address.data, length);
  out->sun_path[length] = 0;
  return static_cast<int>(kSunPathOffset + length + 1);
}

// sockaddr_un → sun_path bytes in `out` (truncated to fit); returns the full byte length.
size_t DecodeAddress(const sockaddr_un& address, socklen_t addrlen, const View<uint8_t>& out) {
  if (addrlen <= kSunPathOffset) return 0;  // unnamed
  size_t length = std::min<size_t>(addrlen - kSunPathOffset, kSunPathMax);
  if (address.sun_path[0] != 0) length = strnlen(address.sun_path, length);  // drop the NUL
  if (out.data != nullptr) memcpy(out.data, address.sun_path, std::min(length, out.length));
  return length;
}

napi_value Socket(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t type;
  if (!args.Int(0, &type)) return nullptr;
  return Int(env, Check(socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)));
}

napi_value SocketPair(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t type;
  View<int32_t> out;
  if (!args.Int(0, &type) || !args.Int32s(1, &out)) return nullptr;
  if (out.length < 2) return Int(env, -EINVAL);
  return Int(env, Check(socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, out.data)));
}

napi_value Pipe(napi_env env, napi_callback_info info) {
  Args args(env, info);
  View<int32_t> out;
  if (!args.Int32s(0, &out)) return nullptr;
  if (out.length < 2) return Int(env, -EINVAL);
  return Int(env, Check(pipe2(out.data, O_CLOEXEC)));
}

template <int (*Call)(int, const sockaddr*, socklen_t)>
napi_value WithAddress(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  View<uint8_t> address;
  if (!args.Int(0, &fd) || !args.Bytes(1, &address)) return nullptr;
  sockaddr_un sun;
  int length = EncodeAddress(address, &sun);
  if (length < 0) return Int(env, length);
  return Int(env, Check(Call(fd, reinterpret_cast<sockaddr*>(&sun), length)));
}

napi_value Listen(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, backlog;
  if (!args.Int(0, &fd) || !args.Int(1, &backlog)) return nullptr;
  return Int(env, Check(listen(fd, backlog)));
}

napi_value Accept(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  View<uint8_t> address;
  View<int32_t> address_length;
  if (!args.Int(0, &fd) || !args.Bytes(1, &address, true) || !args.Int32s(2, &address_length, true)) {
    return nullptr;
  }
  if (!address_length.present) {
    return Int(env, Check(accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)));
  }
  if (address_length.length < 1) return Int(env, -EINVAL);
  sockaddr_un sun;
  socklen_t length = sizeof sun;
  int result = Check(accept4(fd, reinterpret_cast<sockaddr*>(&sun), &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (result >= 0) address_length.data[0] = static_cast<int32_t>(DecodeAddress(sun, length, address));
  return Int(env, result);
}

napi_value SendMsg(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, offset, length, fd_count, head_offset;
  View<uint8_t> data, address, head;
  View<int32_t> fds, credentials;
  if (!args.Int(0, &fd) || !args.Bytes(1, &data) || !args.Int(2, &offset) ||
      !args.Int(3, &length) || !args.Int32s(4, &fds, true) || !args.Int(5, &fd_count) ||
      !args.Int32s(6, &credentials, true) || !args.Bytes(7, &address, true) ||
      !args.Bytes(8, &head, true) || !args.Int(9, &head_offset)) {
    return nullptr;
  }
  if (!InRange(data, offset, length) || fd_count < 0 || static_cast<size_t>(fd_count) > fds.length ||
      static_cast<size_t>(fd_count) > kScmMaxFd ||
      (credentials.present && credentials.length < 3) ||
      (head.present && (head_offset < 0 || static_cast<size_t>(head_offset) > head.length))) {
    return Int(env, -EINVAL);
  }
  // An optional leading buffer (a frame header) goes out with the data in one sendmsg, so a
  // large payload is never copied behind its header.
  iovec iov[2];
  size_t iovlen = 0;
  if (head.present && static_cast<size_t>(head_offset) < head.length) {
    iov[iovlen++] = {head.data + head_offset, head.length - head_offset};
  }
  iov[iovlen++] = {data.data + offset, static_cast<size_t>(length)};
  msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = iovlen;
  sockaddr_un sun;
  if (address.present) {
    int addrlen = EncodeAddress(address, &sun);
    if (addrlen < 0) return Int(env, addrlen);
    msg.msg_name = &sun;
    msg.msg_namelen = addrlen;
  }
  alignas(cmsghdr) unsigned char control[kControlSize];
  size_t used = 0;
  if (fd_count > 0) {
    size_t bytes = static_cast<size_t>(fd_count) * sizeof(int);
    auto* cmsg = reinterpret_cast<cmsghdr*>(control);
    memset(cmsg, 0, CMSG_SPACE(bytes));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(bytes);
    memcpy(CMSG_DATA(cmsg), fds.data, bytes);
    used += CMSG_SPACE(bytes);
  }
  if (credentials.present) {
    ucred cred = {credentials.data[0], static_cast<uid_t>(credentials.data[1]),
                  static_cast<gid_t>(credentials.data[2])};
    auto* cmsg = reinterpret_cast<cmsghdr*>(control + used);
    memset(cmsg, 0, CMSG_SPACE(sizeof cred));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_CREDENTIALS;
    cmsg->cmsg_len = CMSG_LEN(sizeof cred);
    memcpy(CMSG_DATA(cmsg), &cred, sizeof cred);
    used += CMSG_SPACE(sizeof cred);
  }
  if (used > 0) {
    msg.msg_control = control;
    msg.msg_controllen = used;
  }
  return Int(env, Check(sendmsg(fd, &msg, kSendFlags)));
}

napi_value RecvMsg(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, offset, length;
  View<uint8_t> data, address;
  View<int32_t> meta;
  if (!args.Int(0, &fd) || !args.Bytes(1, &data) || !args.Int(2, &offset) ||
      !args.Int(3, &length) || !args.Int32s(4, &meta) || !args.Bytes(5, &address, true)) {
    return nullptr;
  }
  if (!InRange(data, offset, length) || meta.length < kMetaHeader + kScmMaxFd) {
    return Int(env, -EINVAL);
  }
  iovec iov = {data.data + offset, static_cast<size_t>(length)};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  sockaddr_un sun;
  if (address.present) {
    msg.msg_name = &sun;
    msg.msg_namelen = sizeof sun;
  }
  alignas(cmsghdr) unsigned char control[kControlSize];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t received = recvmsg(fd, &msg, kRecvFlags);
  if (received < 0) return Int(env, -errno);

  int32_t* m = meta.data;
  int32_t flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC;
  size_t count = 0;
  const size_t room = meta.length - kMetaHeader;
  m[2] = m[3] = m[4] = m[5] = 0;
  // Every cmsg, even under MSG_CTRUNC: the descriptors that did arrive are ours to report.
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_len < CMSG_LEN(0)) continue;
    const unsigned char* payload = CMSG_DATA(cmsg);
    size_t bytes = cmsg->cmsg_len - CMSG_LEN(0);
    if (cmsg->cmsg_type == SCM_RIGHTS || cmsg->cmsg_type == SCM_PIDFD) {
      for (size_t i = 0; i < bytes / sizeof(int); i++) {
        int received_fd;
        memcpy(&received_fd, payload + i * sizeof(int), sizeof(int));
        if (cmsg->cmsg_type == SCM_RIGHTS && count < room) {
          m[kMetaHeader + count++] = received_fd;
        } else {  // no slot for it (or a pidfd nobody asked for): never leak it
          close(received_fd);
          if (cmsg->cmsg_type == SCM_RIGHTS) flags |= MSG_CTRUNC;
        }
      }
    } else if (cmsg->cmsg_type == SCM_CREDENTIALS && bytes >= sizeof(ucred)) {
      ucred cred;
      memcpy(&cred, payload, sizeof cred);
      m[2] = 1;
      m[3] = cred.pid;
      m[4] = static_cast<int32_t>(cred.uid);
      m[5] = static_cast<int32_t>(cred.gid);
    }
  }
  m[0] = flags;
  m[1] = static_cast<int32_t>(count);
  m[6] = address.present ? static_cast<int32_t>(DecodeAddress(sun, msg.msg_namelen, address)) : -1;
  m[7] = static_cast<int32_t>(received);  // with MSG_TRUNC: the datagram's full length
  return Int(env, static_cast<int32_t>(std::min<ssize_t>(received, length)));
}

napi_value GetPeerCred(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  View<int32_t> out;
  if (!args.Int(0, &fd) || !args.Int32s(1, &out)) return nullptr;
  if (out.length < 3) return Int(env, -EINVAL);
  ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) < 0) return Int(env, -errno);
  out.data[0] = cred.pid;
  out.data[1] = static_cast<int32_t>(cred.uid);
  out.data[2] = static_cast<int32_t>(cred.gid);
  return Int(env, 0);
}

template <int (*Call)(int, sockaddr*, socklen_t*)>
napi_value GetName(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  View<uint8_t> out;
  if (!args.Int(0, &fd) || !args.Bytes(1, &out)) return nullptr;
  sockaddr_un sun;
  socklen_t length = sizeof sun;
  if (Call(fd, reinterpret_cast<sockaddr*>(&sun), &length) < 0) return Int(env, -errno);
  return Int(env, static_cast<int32_t>(DecodeAddress(sun, length, out)));
}

napi_value GetSockOptInt(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, name;
  if (!args.Int(0, &fd) || !args.Int(1, &name)) return nullptr;
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, name, &value, &length) < 0) return Int(env, -errno);
  return Int(env, value);
}

napi_value SetSockOptInt(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, name, value;
  if (!args.Int(0, &fd) || !args.Int(1, &name) || !args.Int(2, &value)) return nullptr;
  int v = value;
  return Int(env, Check(setsockopt(fd, SOL_SOCKET, name, &v, sizeof v)));
}

napi_value Shutdown(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, how;
  if (!args.Int(0, &fd) || !args.Int(1, &how)) return nullptr;
  return Int(env, Check(shutdown(fd, how)));
}

napi_value Close(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  if (!args.Int(0, &fd)) return nullptr;
  // On Linux the descriptor is released even when close() reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return Int(env, -errno);
  return Int(env, 0);
}

// close_range(2) (Linux 5.9): closes every descriptor from `first` to `last`. glibc 2.34 has a
// wrapper; the number is used directly so that older headers still build. Whether the kernel
// has it is a fact about the kernel, the same for every realm of the process.
#ifndef SYS_close_range
constexpr long SYS_close_range = 436;
#endif
std::atomic<bool> close_range_missing{false};

// Closes the first `count` numbers of an Int32Array (sorted in place; negative ones are
// skipped) in one call: one close_range(2) per run of consecutive numbers, close(2) for a number
// on its own. The descriptors of one received message are usually consecutive (the kernel
// installs them at the lowest free numbers), so closing a message's sixteen is one syscall
// instead of sixteen. Every number must be the caller's to close; a repeated one is closed
// once. Errors of the close itself are not reported, as with close(2) above.
napi_value CloseMany(napi_env env, napi_callback_info info) {
  Args args(env, info);
  View<int32_t> fds;
  int32_t count;
  if (!args.Int32s(0, &fds) || !args.Int(1, &count)) return nullptr;
  if (count < 0 || static_cast<size_t>(count) > fds.length) return Int(env, -EINVAL);
  int32_t* numbers = fds.data;
  std::sort(numbers, numbers + count);
  int32_t i = 0;
  while (i < count && numbers[i] < 0) i++;  // not descriptors: nothing to close
  while (i < count) {
    int32_t last = i;
    while (last + 1 < count && numbers[last + 1] <= numbers[last] + 1) last++;
    bool closed = false;
    if (last > i && !close_range_missing.load(std::memory_order_relaxed)) {
      if (syscall(SYS_close_range, numbers[i], numbers[last], 0) == 0) {
        closed = true;
      } else if (errno == ENOSYS) {
        close_range_missing.store(true, std::memory_order_relaxed);
      }
    }
    if (!closed) {
      for (int32_t k = i; k <= last; k++) {
        if (k == i || numbers[k] != numbers[k - 1]) close(numbers[k]);
      }
    }
    i = last + 1;
  }
  return Int(env, 0);
}

napi_value Dup(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  if (!args.Int(0, &fd)) return nullptr;
  return Int(env, Check(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
}

napi_value GetFl(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  if (!args.Int(0, &fd)) return nullptr;
  return Int(env, Check(fcntl(fd, F_GETFL)));
}

napi_value SetFl(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, flags;
  if (!args.Int(0, &fd) || !args.Int(1, &flags)) return nullptr;
  return Int(env, Check(fcntl(fd, F_SETFL, flags)));
}

napi_value SetCloexec(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  if (!args.Int(0, &fd)) return nullptr;
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return Int(env, -errno);
  return Int(env, Check(fcntl(fd, F_SETFD, flags | FD_CLOEXEC)));
}

napi_value StatResult(napi_env env, int result, const struct stat& st, const View<double>& out) {
  if (result < 0) return Int(env, -errno);
  out.data[0] = st.st_mode;
  out.data[1] = st.st_uid;
  out.data[2] = st.st_gid;
  out.data[3] = static_cast<double>(st.st_size);
  out.data[4] = static_cast<double>(st.st_dev);
  out.data[5] = static_cast<double>(st.st_ino);
  return Int(env, 0);
}

napi_value Fstat(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd;
  View<double> out;
  if (!args.Int(0, &fd) || !args.Float64s(1, &out)) return nullptr;
  if (out.length < 6) return Int(env, -EINVAL);
  struct stat st;
  int result = fstat(fd, &st);
  return StatResult(env, result, st, out);
}

template <int (*Call)(const char*, struct stat*)>
napi_value StatPath(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char path[PATH_MAX];
  int error;
  View<double> out;
  if (!args.Path(0, path, &error) || !args.Float64s(1, &out)) return nullptr;
  if (error != 0) return Int(env, error);
  if (out.length < 6) return Int(env, -EINVAL);
  struct stat st;
  int result = Call(path, &st);
  return StatResult(env, result, st, out);
}

napi_value Open(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char path[PATH_MAX];
  int error;
  int32_t flags, mode;
  if (!args.Path(0, path, &error) || !args.Int(1, &flags) || !args.Int(2, &mode)) return nullptr;
  if (error != 0) return Int(env, error);
  return Int(env, Check(open(path, flags | O_CLOEXEC, static_cast<mode_t>(mode))));
}

napi_value Fchmod(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, mode;
  if (!args.Int(0, &fd) || !args.Int(1, &mode)) return nullptr;
  return Int(env, Check(fchmod(fd, static_cast<mode_t>(mode))));
}

napi_value PidfdSendSignal(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t pidfd, signal;
  if (!args.Int(0, &pidfd) || !args.Int(1, &signal)) return nullptr;
  return Int(env, Check(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0)));
}

napi_value Unlink(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char path[PATH_MAX];
  int error;
  if (!args.Path(0, path, &error)) return nullptr;
  if (error != 0) return Int(env, error);
  return Int(env, Check(unlink(path)));
}

napi_value Rename(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char from[PATH_MAX], to[PATH_MAX];
  int from_error, to_error;
  if (!args.Path(0, from, &from_error) || !args.Path(1, to, &to_error)) return nullptr;
  if (from_error != 0 || to_error != 0) return Int(env, from_error != 0 ? from_error : to_error);
  return Int(env, Check(rename(from, to)));
}

napi_value Chmod(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char path[PATH_MAX];
  int error;
  int32_t mode;
  if (!args.Path(0, path, &error) || !args.Int(1, &mode)) return nullptr;
  if (error != 0) return Int(env, error);
  return Int(env, Check(chmod(path, static_cast<mode_t>(mode))));
}

template <bool kWrite>
napi_value ReadWrite(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t fd, offset, length;
  View<uint8_t> data;
  if (!args.Int(0, &fd) || !args.Bytes(1, &data) || !args.Int(2, &offset) ||
      !args.Int(3, &length)) {
    return nullptr;
  }
  if (!InRange(data, offset, length)) return Int(env, -EINVAL);
  uint8_t* at = data.data + offset;
  return Int(env, Check(kWrite ? write(fd, at, length) : read(fd, at, length)));
}

napi_value GetEuid(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_uint32(env, geteuid(), &result);
  return result;
}

napi_value GetEgid(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_uint32(env, getegid(), &result);
  return result;
}

napi_value GetPid(napi_env env, napi_callback_info) { return Int(env, getpid()); }

// The process environment itself (what a runtime's env API reads and writes through to), so
// the core can follow systemd's protocol without a runtime API. `undefined` when unset.
napi_value GetEnv(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char name[PATH_MAX];  // Args::Path fills PATH_MAX bytes at most
  int error;
  if (!args.Path(0, name, &error)) return nullptr;
  const char* value = error == 0 ? getenv(name) : nullptr;
  if (value == nullptr) return Undefined(env);
  napi_value result;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &result);
  return result;
}

napi_value UnsetEnv(napi_env env, napi_callback_info info) {
  Args args(env, info);
  char name[PATH_MAX];  // Args::Path fills PATH_MAX bytes at most
  int error;
  if (!args.Path(0, name, &error)) return nullptr;
  if (error != 0) return Int(env, error);
  return Int(env, Check(unsetenv(name)));
}

// strerror_r is the GNU variant (returns char*) on glibc and the XSI one (returns int) on musl.
[[maybe_unused]] const char* StrerrorText(const char* result, const char*) { return result; }
[[maybe_unused]] const char* StrerrorText(int result, const char* buffer) {
  return result == 0 ? buffer : "Unknown error";
}

napi_value String(napi_env env, const char* text) {
  napi_value result;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
  return result;
}

napi_value StrError(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t code;
  if (!args.Int(0, &code)) return nullptr;
  char buffer[256];
  return String(env, StrerrorText(strerror_r(code < 0 ? -code : code, buffer, sizeof buffer), buffer));
}

// Every Linux errno by name (aliases EWOULDBLOCK, EDEADLOCK and ENOTSUP share a value).
#define UNIX_SOCKET_ERRNOS(X)                                                                    \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) X(ECHILD)    \
  X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(ENOTBLK) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV)       \
  X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOTTY) X(ETXTBSY) X(EFBIG) X(ENOSPC)     \
  X(ESPIPE) X(EROFS) X(EMLINK) X(EPIPE) X(EDOM) X(ERANGE) X(EDEADLK) X(ENAMETOOLONG) X(ENOLCK)   \
  X(ENOSYS) X(ENOTEMPTY) X(ELOOP) X(ENOMSG) X(EIDRM) X(ECHRNG) X(EL2NSYNC) X(EL3HLT) X(EL3RST)   \
  X(ELNRNG) X(EUNATCH) X(ENOCSI) X(EL2HLT) X(EBADE) X(EBADR) X(EXFULL) X(ENOANO) X(EBADRQC)      \
  X(EBADSLT) X(EBFONT) X(ENOSTR) X(ENODATA) X(ETIME) X(ENOSR) X(ENONET) X(ENOPKG) X(EREMOTE)     \
  X(ENOLINK) X(EADV) X(ESRMNT) X(ECOMM) X(EPROTO) X(EMULTIHOP) X(EDOTDOT) X(EBADMSG)             \
  X(EOVERFLOW) X(ENOTUNIQ) X(EBADFD) X(EREMCHG) X(ELIBACC) X(ELIBBAD) X(ELIBSCN) X(ELIBMAX)      \
  X(ELIBEXEC) X(EILSEQ) X(ERESTART) X(ESTRPIPE) X(EUSERS) X(ENOTSOCK) X(EDESTADDRREQ)            \
  X(EMSGSIZE) X(EPROTOTYPE) X(ENOPROTOOPT) X(EPROTONOSUPPORT) X(ESOCKTNOSUPPORT) X(EOPNOTSUPP)   \
  X(EPFNOSUPPORT) X(EAFNOSUPPORT) X(EADDRINUSE) X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH)      \
  X(ENETRESET) X(ECONNABORTED) X(ECONNRESET) X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ESHUTDOWN)      \
  X(ETOOMANYREFS) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTDOWN) X(EHOSTUNREACH) X(EALREADY)          \
  X(EINPROGRESS) X(ESTALE) X(EUCLEAN) X(ENOTNAM) X(ENAVAIL) X(EISNAM) X(EREMOTEIO) X(EDQUOT)     \
  X(ENOMEDIUM) X(EMEDIUMTYPE) X(ECANCELED) X(ENOKEY) X(EKEYEXPIRED) X(EKEYREVOKED)               \
  X(EKEYREJECTED) X(EOWNERDEAD) X(ENOTRECOVERABLE) X(ERFKILL) X(EHWPOISON)

napi_value ErrName(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int32_t code;
  if (!args.Int(0, &code)) return nullptr;
  if (code < 0) code = -code;
  switch (code) {
#define UNIX_SOCKET_ERRNO_CASE(name) \
  case name:                         \
    return String(env, #name);
    UNIX_SOCKET_ERRNOS(UNIX_SOCKET_ERRNO_CASE)
#undef UNIX_SOCKET_ERRNO_CASE
  }
  char name[16];
  snprintf(name, sizeof name, "E%d", static_cast<int>(code));
  return String(env, name);
}

constexpr napi_property_descriptor Method(const char* name, napi_callback callback) {
  return {name, nullptr, callback, nullptr, nullptr, nullptr, napi_enumerable, nullptr};
}

}  // namespace

Args::Args(napi_env env, napi_callback_info info) : env_(env) {
  size_t argc = kMaxArgs;  // missing arguments read as undefined
  napi_get_cb_info(env, info, &argc, argv_, nullptr, &data_);
}

bool Args::Fail(size_t i, const char* expected) {
  char message[96];
  snprintf(message, sizeof message, "argument %zu must be %s", i, expected);
  napi_throw_type_error(env_, "ERR_INVALID_ARG_TYPE", message);
  return false;
}

bool Args::Int(size_t i, int32_t* out) {
  return napi_get_value_int32(env_, argv_[i], out) == napi_ok || Fail(i, "a number");
}

bool Args::Typed(size_t i, napi_typedarray_type type, bool nullable, void** data, size_t* length,
                 bool* present) {
  napi_typedarray_type actual;
  if (napi_get_typedarray_info(env_, argv_[i], &actual, length, data, nullptr, nullptr) ==
      napi_ok) {
    *present = true;
    return actual == type;
  }
  napi_valuetype kind;
  if (nullable && napi_typeof(env_, argv_[i], &kind) == napi_ok &&
      (kind == napi_null || kind == napi_undefined)) {
    *data = nullptr;
    *length = 0;
    *present = false;
    return true;
  }
  return false;
}

bool Args::Bytes(size_t i, View<uint8_t>* out, bool nullable) {
  void* data;
  if (Typed(i, napi_uint8_array, nullable, &data, &out->length, &out->present)) {
    out->data = static_cast<uint8_t*>(data);
    return true;
  }
  return Fail(i, nullable ? "a Uint8Array or null" : "a Uint8Array");
}

bool Args::Int32s(size_t i, View<int32_t>* out, bool nullable) {
  void* data;
  if (Typed(i, napi_int32_array, nullable, &data, &out->length, &out->present)) {
    out->data = static_cast<int32_t*>(data);
    return true;
  }
  return Fail(i, nullable ? "an Int32Array or null" : "an Int32Array");
}

bool Args::Float64s(size_t i, View<double>* out) {
  void* data;
  if (Typed(i, napi_float64_array, false, &data, &out->length, &out->present)) {
    out->data = static_cast<double*>(data);
    return true;
  }
  return Fail(i, "a Float64Array");
}

bool Args::Function(size_t i, napi_value* out) {
  napi_valuetype kind;
  if (napi_typeof(env_, argv_[i], &kind) != napi_ok || kind != napi_function) {
    return Fail(i, "a function");
  }
  *out = argv_[i];
  return true;
}

bool Args::Path(size_t i, char* buffer, int* error) {
  size_t length;
  if (napi_get_value_string_utf8(env_, argv_[i], nullptr, 0, &length) != napi_ok) {
    return Fail(i, "a string");
  }
  if (length >= PATH_MAX) {
    *error = -ENAMETOOLONG;
    return true;
  }
  napi_get_value_string_utf8(env_, argv_[i], buffer, PATH_MAX, &length);
  *error = strlen(buffer) == length ? 0 : -EINVAL;  // an embedded NUL would cut the path short
  return true;
}

napi_value Int(napi_env env, int32_t value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

napi_value Undefined(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

const napi_property_descriptor kSyscalls[] = {
    Method("socket", Socket),
    Method("bind", WithAddress<bind>),
    Method("listen", Listen),
    Method("accept", Accept),
    Method("connect", WithAddress<connect>),
    Method("socketpair", SocketPair),
    Method("pipe", Pipe),
    Method("sendmsg", SendMsg),
    Method("recvmsg", RecvMsg),
    Method("getpeercred", GetPeerCred),
    Method("getsockname", GetName<getsockname>),
    Method("getpeername", GetName<getpeername>),
    Method("getsockoptInt", GetSockOptInt),
    Method("setsockoptInt", SetSockOptInt),
    Method("shutdown", Shutdown),
    Method("close", Close),
    Method("closeMany", CloseMany),
    Method("dup", Dup),
    Method("getfl", GetFl),
    Method("setfl", SetFl),
    Method("setCloexec", SetCloexec),
    Method("fstat", Fstat),
    Method("lstat", StatPath<lstat>),
    Method("stat", StatPath<stat>),
    Method("open", Open),
    Method("unlink", Unlink),
    Method("rename", Rename),
    Method("chmod", Chmod),
    Method("fchmod", Fchmod),
    Method("pidfdSendSignal", PidfdSendSignal),
    Method("read", ReadWrite<false>),
    Method("write", ReadWrite<true>),
    Method("geteuid", GetEuid),
    Method("getegid", GetEgid),
    Method("getpid", GetPid),
    Method("getenv", GetEnv),
    Method("unsetenv", UnsetEnv),
    Method("strerror", StrError),
    Method("errname", ErrName),
};
const size_t kSyscallCount = sizeof kSyscalls / sizeof kSyscalls[0];

napi_value MakeConstants(napi_env env) {
  struct Constant {
    const char* name;
    int32_t value;
  };
#define C(name) {#name, name},
  static constexpr Constant kConstants[] = {
      C(SOCK_STREAM) C(SOCK_DGRAM) C(SOCK_SEQPACKET)
      {"SCM_MAX_FD", static_cast<int32_t>(kScmMaxFd)},
      {"SUN_PATH_MAX", static_cast<int32_t>(kSunPathMax)},
      C(EPOLLIN) C(EPOLLOUT) C(EPOLLERR) C(EPOLLHUP) C(EPOLLRDHUP)
      C(MSG_TRUNC) C(MSG_CTRUNC) C(SHUT_RD) C(SHUT_WR) C(SHUT_RDWR)
      C(SO_TYPE) C(SO_ERROR) C(SO_SNDBUF) C(SO_RCVBUF) C(SO_PASSCRED) C(SO_PEERPIDFD) C(SO_DOMAIN) C(SO_ACCEPTCONN) C(AF_UNIX)
      C(SIGHUP) C(SIGINT) C(SIGQUIT) C(SIGKILL) C(SIGUSR1) C(SIGUSR2) C(SIGTERM) C(SIGCONT)
      C(SIGSTOP) C(ESRCH) C(ENOPROTOOPT)
      C(O_RDONLY) C(O_WRONLY) C(O_RDWR) C(O_CREAT) C(O_EXCL) C(O_TRUNC) C(O_APPEND)
      C(O_NONBLOCK) C(O_DIRECTORY) C(O_NOFOLLOW)
      C(S_ISVTX) C(S_IFMT) C(S_IFSOCK) C(S_IFREG) C(S_IFDIR) C(S_IFIFO) C(S_IFLNK) C(S_IFCHR) C(S_IFBLK)
      C(EAGAIN) C(EWOULDBLOCK) C(EINTR) C(EINPROGRESS) C(EADDRINUSE) C(EADDRNOTAVAIL)
      C(ENOENT) C(ECONNREFUSED) C(ECONNRESET) C(EPIPE) C(EACCES) C(EPERM) C(ENAMETOOLONG)
      C(EMFILE) C(ENFILE) C(ENOBUFS) C(ENOMEM) C(EMSGSIZE) C(EBADF) C(EINVAL) C(ENOTCONN)
      C(ENOTSOCK) C(ETOOMANYREFS) C(ENOTDIR) C(EISDIR) C(ELOOP) C(EEXIST) C(EALREADY)
      C(EPROTOTYPE) C(EOPNOTSUPP) C(ENOSYS)
  };
#undef C
  napi_value object;
  if (napi_create_object(env, &object) != napi_ok) return nullptr;
  for (const Constant& constant : kConstants) {
    napi_set_named_property(env, object, constant.name, Int(env, constant.value));
  }
  napi_object_freeze(env, object);
  return object;
}

}  // namespace unix_socket
