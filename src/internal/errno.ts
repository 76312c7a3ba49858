/**
 * Turns a failed syscall (`-errno` from the addon) into the typed error a caller can act on.
 *
 * @internal
 */
import * as Errors from "../Errors.ts"
import type { NativeBinding } from "./binding.ts"

/** Syscalls whose ENOENT means "no such address" rather than "no such file". */
const addressSyscalls = new Set(["bind", "connect", "sendmsg", "lstat", "unlink", "chmod", "rename"])

/**
 * Builds the typed error for `errno` (positive) returned by `syscall`, naming `address` when
 * one is involved.
 */
export const errorFromErrno = (
  binding: NativeBinding,
  errno: number,
  syscall: string,
  address?: string
): Errors.UnixError => {
  const c = binding.constants
  const code = binding.errname(errno)
  const where = address === undefined ? "" : ` ${address}`
  const fields = {
    message: `${syscall}${where}: ${binding.strerror(errno)} (${code})`,
    errno,
    code,
    syscall,
    address
  }
  switch (errno) {
    case c.EADDRINUSE:
      return new Errors.AddressInUse(fields)
    case c.ENOENT:
    case c.ENOTDIR:
      return addressSyscalls.has(syscall) ? new Errors.AddressNotFound(fields) : new Errors.SystemError(fields)
    case c.EACCES:
    case c.EPERM:
      return new Errors.PermissionDenied(fields)
    case c.ECONNREFUSED:
      return new Errors.ConnectionRefused(fields)
    case c.ENAMETOOLONG:
      return new Errors.PathTooLong({ ...fields, bytes: -1, limit: c.SUN_PATH_MAX - 1 })
    case c.EMSGSIZE:
      return new Errors.MessageTooLarge(fields)
    case c.EMFILE:
    case c.ENFILE:
    case c.ETOOMANYREFS:
      return new Errors.FdLimit(fields)
    case c.ECONNRESET:
    case c.EPIPE:
    case c.ENOTCONN:
      return new Errors.Closed(fields)
    default:
      return new Errors.SystemError(fields)
  }
}
