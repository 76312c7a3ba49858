/**
 * Unix socket addresses.
 *
 * A user writes an address as a string: `"/run/superd.sock"` (a file in the filesystem, whose
 * permissions guard it), `"@superd"` (a name in Linux's abstract namespace: no file, gone when
 * the socket closes, exactly the bytes after `@` with no NUL padding) or `""` (unnamed: the
 * socket is not bound, or the kernel autobinds it). Both kinds hold at most 107 bytes after
 * UTF-8 encoding (`sun_path` is 108 bytes; a path needs its terminating NUL, an abstract name
 * its leading one). Longer addresses fail with `PathTooLong` before any syscall.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { PathTooLong } from "./Errors.ts"

/**
 * The longest address, in bytes, that fits in `sockaddr_un.sun_path`.
 *
 * @category constants
 * @since 0.1.0
 */
export const MAX_BYTES = 107

/**
 * A parsed address: its kind, how a user writes it, and the exact `sun_path` bytes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Address {
  readonly kind: "path" | "abstract" | "unnamed"
  /** The address as a user writes it: `"/run/x.sock"`, `"@name"` or `""`. */
  readonly text: string
  /** The `sun_path` bytes the kernel sees: path bytes, or 0 followed by the abstract name. */
  readonly bytes: Uint8Array
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Parses `"/path"`, `"@abstract"` or `""` into an `Address`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const parse = (text: string): Result.Result<Address, PathTooLong> => {
  if (text === "") {
    return Result.succeed({ kind: "unnamed", text, bytes: new Uint8Array(0) })
  }
  if (text.startsWith("@")) {
    const name = encoder.encode(text.slice(1))
    if (name.length > MAX_BYTES) return Result.fail(tooLong(text, name.length))
    const bytes = new Uint8Array(name.length + 1)
    bytes.set(name, 1)
    return Result.succeed({ kind: "abstract", text, bytes })
  }
  const bytes = encoder.encode(text)
  if (bytes.length > MAX_BYTES) return Result.fail(tooLong(text, bytes.length))
  return Result.succeed({ kind: "path", text, bytes })
}

const tooLong = (text: string, bytes: number) =>
  new PathTooLong({
    message: `address is ${bytes} bytes, over the ${MAX_BYTES}-byte limit of sockaddr_un: ${
      text.length > 60 ? text.slice(0, 60) + "…" : text
    }`,
    address: text,
    bytes,
    limit: MAX_BYTES
  })

/**
 * Turns the `sun_path` bytes the kernel reported (getsockname, recvfrom) into an `Address`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromBytes = (bytes: Uint8Array): Address => {
  if (bytes.length === 0) return { kind: "unnamed", text: "", bytes }
  if (bytes[0] === 0) {
    return { kind: "abstract", text: "@" + decoder.decode(bytes.subarray(1)), bytes }
  }
  const end = bytes.indexOf(0)
  const path = end === -1 ? bytes : bytes.subarray(0, end)
  return { kind: "path", text: decoder.decode(path), bytes: path }
}
