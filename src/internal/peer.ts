/**
 * The peer of a connected socket, read from the kernel (`SO_PEERCRED`), and the way to a
 * pidfd for it (`SO_PEERPIDFD`) for as long as the socket is open.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { PeerCredentials } from "../Credentials.ts"
import * as Errors from "../Errors.ts"
import { Fd } from "../Fd.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"

/**
 * A socket descriptor and whether it is still ours: once closed, its number may name another
 * file, so nothing may be asked of it any more.
 */
export class SocketHandle {
  closed = false
  constructor(readonly fd: number) {}
}

class Peer implements PeerCredentials {
  readonly #driver: UnixDriverShape
  readonly #socket: SocketHandle

  constructor(
    readonly pid: number,
    readonly uid: number,
    readonly gid: number,
    driver: UnixDriverShape,
    socket: SocketHandle
  ) {
    this.#driver = driver
    this.#socket = socket
  }

  get pidfd(): Effect.Effect<Fd, Errors.Unsupported | Errors.Closed | Errors.SystemError> {
    return Effect.suspend((): Effect.Effect<Fd, Errors.Unsupported | Errors.Closed | Errors.SystemError> => {
      const b = this.#driver.binding
      if (this.#socket.closed) {
        return Effect.fail(new Errors.Closed({ message: "getsockopt(SO_PEERPIDFD): the connection is closed", syscall: "getsockopt" }))
      }
      const pidfd = b.getsockoptInt(this.#socket.fd, b.constants.SO_PEERPIDFD)
      if (pidfd >= 0) return Effect.succeed(new Fd(pidfd, this.#driver))
      if (-pidfd === b.constants.ENOPROTOOPT) {
        return Effect.fail(
          new Errors.Unsupported({
            message: "getsockopt(SO_PEERPIDFD): this kernel has no peer pidfds (Linux 6.5 or newer has them)",
            errno: -pidfd,
            code: "ENOPROTOOPT",
            syscall: "getsockopt"
          })
        )
      }
      return Effect.fail(errorFromErrno(b, -pidfd, "getsockopt(SO_PEERPIDFD)") as Errors.Closed | Errors.SystemError)
    })
  }

  toJSON(): { pid: number; uid: number; gid: number } {
    return { pid: this.pid, uid: this.uid, gid: this.gid }
  }
}

const credentialsBuffer = new Int32Array(3)

/** Reads SO_PEERCRED of `socket`. */
export const readPeer = (driver: UnixDriverShape, socket: SocketHandle): PeerCredentials | Errors.UnixError => {
  const out = credentialsBuffer
  const result = driver.binding.getpeercred(socket.fd, out)
  if (result < 0) return errorFromErrno(driver.binding, -result, "getsockopt(SO_PEERCRED)")
  // uid and gid are unsigned in the kernel; the Int32Array shows values of 2^31 and up as negative.
  return new Peer(out[0]!, out[1]! >>> 0, out[2]! >>> 0, driver, socket)
}
