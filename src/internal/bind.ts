/**
 * Naming a socket: `bind` with the file mode applied without a window, replacing a stale
 * socket file (one nobody listens on) but nothing else, and removing the file at close only
 * if it is still the one we created.
 *
 * The mode: on Linux, `fchmod` on a socket that is not bound yet sets the mode its file gets
 * at `bind` (less the umask), so the file never exists with a wider mode than asked; a `chmod`
 * after `bind` then restores bits the umask took away (widening, never past the request).
 *
 * The directory: a socket file is only as safe as the directory holding it. If another user
 * owns the directory, or everyone may write to it and it lacks the sticky bit, others can remove our
 * socket and put one of their own in its place (clients would then talk to them), so such a
 * directory is refused unless the caller says it is trusted anyway.
 *
 * @internal
 */
import type * as Address from "../Address.ts"
import * as Errors from "../Errors.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"
import { type AnySocketType, openSocket } from "./open.ts"

/** `[dev, ino]` of a socket file: which file we created, to remove only that one. */
export type FileIdentity = readonly [number, number]

/** `[dev, ino]` of the file at `path`, without following symlinks. */
export const fileIdentity = (driver: UnixDriverShape, path: string): FileIdentity | undefined => {
  const out = new Float64Array(6)
  return driver.binding.lstat(path, out) < 0 ? undefined : [out[4]!, out[5]!]
}

/**
 * Binds `fd` to `address` with `mode` (path addresses). A socket file nobody listens on is
 * replaced; anything else at the path (a live socket, a file, a symlink, a directory) is left
 * untouched and reported as `AddressInUse`. Returns the identity of the file created (path
 * addresses) for `removeIfOurs`.
 */
export const bindAddress = (
  driver: UnixDriverShape,
  fd: number,
  type: AnySocketType,
  address: Address.Address,
  mode: number | undefined,
  trustDirectory = false
): FileIdentity | undefined | Errors.UnixError => {
  const b = driver.binding
  if (address.kind === "path" && !trustDirectory) {
    const untrusted = checkDirectory(driver, address)
    if (untrusted !== undefined) return untrusted
  }
  if (address.kind === "path" && mode !== undefined) {
    const set = b.fchmod(fd, mode)
    if (set < 0) return errorFromErrno(b, -set, "fchmod", address.text)
  }
  const bound = bindReplacingStale(driver, fd, type, address)
  if (bound !== undefined) return bound
  if (address.kind !== "path") return undefined
  if (mode !== undefined) {
    const changed = b.chmod(address.text, mode)
    if (changed < 0) {
      b.unlink(address.text)
      return errorFromErrno(b, -changed, "chmod", address.text)
    }
  }
  return fileIdentity(driver, address.text)
}

/** The directory part of a path (`.` for a bare name). */
const directoryOf = (path: string): string => {
  const slash = path.lastIndexOf("/")
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash)
}

/**
 * Refuses a directory that another user could use to replace our socket: owned by someone
 * other than us or root, or writable by everyone without the sticky bit.
 */
const checkDirectory = (driver: UnixDriverShape, address: Address.Address): Errors.UnixError | undefined => {
  const b = driver.binding
  const c = b.constants
  const directory = directoryOf(address.text)
  const stat = new Float64Array(6)
  const result = b.stat(directory, stat)
  if (result < 0) return errorFromErrno(b, -result, "stat", directory)
  const mode = stat[0]!
  const owner = stat[1]!
  const octal = (mode & 0o7777).toString(8).padStart(4, "0")
  let problem: string | undefined
  if (owner !== driver.euid && owner !== 0) {
    problem = `is owned by uid ${owner}, who could replace the socket`
  } else if ((mode & 0o002) !== 0 && (mode & c.S_ISVTX) === 0) {
    problem = `(mode ${octal}) is writable by everyone and has no sticky bit: anyone could replace the socket`
  }
  if (problem === undefined) return undefined
  return new Errors.PermissionDenied({
    message: `bind ${address.text}: the directory ${directory} ${problem}; ` +
      "use a directory only you (or root) can change, or pass trustDirectory: true",
    syscall: "bind",
    address: address.text
  })
}

/** Removes the socket file at `address` if it is still the one `identity` names. */
export const removeIfOurs = (driver: UnixDriverShape, address: Address.Address, identity: FileIdentity | undefined) => {
  if (address.kind !== "path" || identity === undefined) return
  const now = fileIdentity(driver, address.text)
  if (now !== undefined && now[0] === identity[0] && now[1] === identity[1]) driver.binding.unlink(address.text)
}

const inUse = (driver: UnixDriverShape, address: Address.Address, what: string) =>
  new Errors.AddressInUse({
    message: `bind ${address.text}: ${what}`,
    errno: driver.binding.constants.EADDRINUSE,
    code: "EADDRINUSE",
    syscall: "bind",
    address: address.text
  })

const bindReplacingStale = (
  driver: UnixDriverShape,
  fd: number,
  type: AnySocketType,
  address: Address.Address
): Errors.UnixError | undefined => {
  const b = driver.binding
  const c = b.constants
  const result = b.bind(fd, address.bytes)
  if (result === 0) return undefined
  if (-result !== c.EADDRINUSE || address.kind !== "path") return errorFromErrno(b, -result, "bind", address.text)
  const stat = new Float64Array(6)
  if (b.lstat(address.text, stat) < 0) return errorFromErrno(b, -result, "bind", address.text)
  const kind = stat[0]! & c.S_IFMT
  if (kind !== c.S_IFSOCK) {
    const what = kind === c.S_IFLNK ? "a symbolic link" : kind === c.S_IFDIR ? "a directory" : "a file that is not a socket"
    return inUse(driver, address, `${what} is in the way; it was left untouched`)
  }
  // A socket file: is anybody there? A socket of the same type connects to a live one.
  const probe = openSocket(driver, type)
  if (typeof probe !== "number") return probe
  const connected = b.connect(probe, address.bytes)
  b.close(probe)
  if (-connected !== c.ECONNREFUSED) {
    return inUse(driver, address, type === "dgram" ? "a live socket is bound there" : "a live server is listening there")
  }
  const removed = b.unlink(address.text)
  if (removed < 0 && -removed !== c.ENOENT) return errorFromErrno(b, -removed, "unlink", address.text)
  const again = b.bind(fd, address.bytes)
  return again === 0 ? undefined : errorFromErrno(b, -again, "bind", address.text)
}
