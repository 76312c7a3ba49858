/**
 * Typed errors, one per cause a caller can act on.
 *
 * Every error carries a human-readable `message` that names what failed and where (the
 * syscall and the socket address, as Go's `*net.OpError` does), and, when a syscall failed,
 * its `errno`, symbolic `code` (`"ECONNREFUSED"`) and `syscall` name. Switch on `_tag` (or use
 * `Effect.catchTag`); the fields are there for logs.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Fields shared by every error of this package.
 *
 * @category models
 * @since 0.1.0
 */
export interface ErrorFields {
  readonly message: string
  /** The positive errno value, when a syscall failed. */
  readonly errno?: number | undefined
  /** The errno's symbolic name (`"EADDRINUSE"`). */
  readonly code?: string | undefined
  /** The syscall that failed (`"bind"`, `"sendmsg"`). */
  readonly syscall?: string | undefined
  /** The socket address involved, formatted (`"/run/superd.sock"`, `"@superd"`). */
  readonly address?: string | undefined
}

/**
 * Something is already listening at the address, or a file that is not a socket occupies the
 * path (it is never removed).
 *
 * @category errors
 * @since 0.1.0
 */
export class AddressInUse extends Data.TaggedError("AddressInUse")<ErrorFields> {}

/**
 * Nothing exists at the address (ENOENT on a path), or a directory on the path is missing.
 *
 * @category errors
 * @since 0.1.0
 */
export class AddressNotFound extends Data.TaggedError("AddressNotFound")<ErrorFields> {}

/**
 * The kernel refused for lack of permission (EACCES, EPERM): the socket file's or a
 * directory's mode, or credentials the process may not claim.
 *
 * @category errors
 * @since 0.1.0
 */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<ErrorFields> {}

/**
 * A socket exists at the address but nobody accepts on it (ECONNREFUSED), or the listener's
 * backlog stayed full.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectionRefused extends Data.TaggedError("ConnectionRefused")<ErrorFields> {}

/**
 * The address does not fit in `sockaddr_un.sun_path`: a filesystem path over 107 bytes (one
 * byte is the terminating NUL) or an abstract name over 107 bytes.
 *
 * @category errors
 * @since 0.1.0
 */
export class PathTooLong extends Data.TaggedError("PathTooLong")<
  ErrorFields & { readonly bytes: number; readonly limit: number }
> {}

/**
 * A peer refused by the server's `authorize` policy. Delivered to the server's `onRejected`
 * audit hook, never to `connections`: the peer's socket is closed before any of its bytes is
 * read, and any descriptors it sent are closed with it.
 *
 * @category errors
 * @since 0.1.0
 */
export class PeerRejected extends Data.TaggedError("PeerRejected")<
  ErrorFields & {
    readonly peer: { readonly pid: number; readonly uid: number; readonly gid: number }
    readonly policy: string
  }
> {}

/**
 * A message is larger than allowed: a frame header announcing more than
 * `limits.maxMessageBytes` (reported before anything of that size is allocated), a datagram
 * or packet cut by the kernel (MSG_TRUNC), or EMSGSIZE on send.
 *
 * @category errors
 * @since 0.1.0
 */
export class MessageTooLarge extends Data.TaggedError("MessageTooLarge")<
  ErrorFields & { readonly size?: number | undefined; readonly limit?: number | undefined }
> {}

/**
 * Too many descriptors: the process or system is out of them (EMFILE, ENFILE), the kernel's
 * in-flight limit was hit (ETOOMANYREFS), a message carries more than SCM_MAX_FD (253), or a
 * connection holds more unclaimed received descriptors than `limits.maxUnclaimedFds`.
 *
 * @category errors
 * @since 0.1.0
 */
export class FdLimit extends Data.TaggedError("FdLimit")<
  ErrorFields & { readonly limit?: number | undefined }
> {}

/**
 * The kernel could not deliver all ancillary data of a message (MSG_CTRUNC). Every descriptor
 * that did arrive with it has been closed.
 *
 * @category errors
 * @since 0.1.0
 */
export class ControlTruncated extends Data.TaggedError("ControlTruncated")<
  ErrorFields & { readonly closedFds: number }
> {}

/**
 * The peer broke the framing protocol: a truncated frame at end of stream, a frame that
 * claims descriptors that never came, descriptors that came without a frame, or a bad header.
 *
 * @category errors
 * @since 0.1.0
 */
export class ProtocolError extends Data.TaggedError("ProtocolError")<ErrorFields> {}

/**
 * The connection or endpoint is closed: closed locally, reset by the peer (ECONNRESET,
 * EPIPE), or a received `Fd` used after it was closed.
 *
 * @category errors
 * @since 0.1.0
 */
export class Closed extends Data.TaggedError("Closed")<ErrorFields> {}

/**
 * The runtime or platform lacks something this operation needs; the message names it (a
 * missing permission flag, a kernel feature).
 *
 * @category errors
 * @since 0.1.0
 */
export class Unsupported extends Data.TaggedError("Unsupported")<ErrorFields> {}

/**
 * Any other failed syscall (for example EBADF for a descriptor number that is not open, or
 * EINVAL), with its errno, code and syscall.
 *
 * @category errors
 * @since 0.1.0
 */
export class SystemError extends Data.TaggedError("SystemError")<ErrorFields> {}

/**
 * Every error this package produces.
 *
 * @category errors
 * @since 0.1.0
 */
export type UnixError =
  | AddressInUse
  | AddressNotFound
  | PermissionDenied
  | ConnectionRefused
  | PathTooLong
  | PeerRejected
  | MessageTooLarge
  | FdLimit
  | ControlTruncated
  | ProtocolError
  | Closed
  | Unsupported
  | SystemError

/**
 * Errors a connection's `messages` stream or `send` can fail with.
 *
 * @category errors
 * @since 0.1.0
 */
export type ConnectionError =
  | Closed
  | MessageTooLarge
  | FdLimit
  | ControlTruncated
  | ProtocolError
  | PermissionDenied
  | SystemError

/**
 * Errors opening a socket (listen, connect, bind) can fail with.
 *
 * @category errors
 * @since 0.1.0
 */
export type AddressError =
  | AddressInUse
  | AddressNotFound
  | PermissionDenied
  | ConnectionRefused
  | PathTooLong
  | FdLimit
  | SystemError
