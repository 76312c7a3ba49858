/**
 * Shared steps of opening sockets: create, bind, connect with retry, wait for readiness.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Address from "../Address.ts"
import type * as Errors from "../Errors.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"
import type { Watch } from "./reactor.ts"

export type AnySocketType = "stream" | "seqpacket" | "dgram"

export const typeNumber = (driver: UnixDriverShape, type: AnySocketType): number => {
  const c = driver.binding.constants
  return type === "stream" ? c.SOCK_STREAM : type === "seqpacket" ? c.SOCK_SEQPACKET : c.SOCK_DGRAM
}

export const typeName = (driver: UnixDriverShape, type: number): AnySocketType | undefined => {
  const c = driver.binding.constants
  return type === c.SOCK_STREAM ? "stream" : type === c.SOCK_SEQPACKET ? "seqpacket" : type === c.SOCK_DGRAM ? "dgram" : undefined
}

/** `socket(AF_UNIX, type)`, non-blocking and close-on-exec. */
export const openSocket = (driver: UnixDriverShape, type: AnySocketType): number | Errors.UnixError => {
  const fd = driver.binding.socket(typeNumber(driver, type))
  return fd < 0 ? errorFromErrno(driver.binding, -fd, "socket") : fd
}

/**
 * Runs `poll` now and, while it answers "not yet" (undefined), waits for `watch` to report
 * readable and polls again: the pull-based read of every socket (nothing is armed unless
 * someone waits).
 */
export const pollReadable = <A, E>(watch: Watch, poll: () => Effect.Effect<A, E> | undefined): Effect.Effect<A, E> => {
  // One cancel shared by every wait of this poller: an interrupted waiter takes its callback
  // back, so a later readiness reads nothing on its behalf.
  const cancel = Effect.sync(() => watch.cancelReadable())
  return Effect.suspend(() => {
    const now = poll()
    if (now !== undefined) return now
    return Effect.callback<A, E>((callbackResume) => {
      const resume = watch.resumer(callbackResume)
      const retry = (): void => {
        const result = poll()
        if (result !== undefined) resume(result)
        else watch.whenReadable(retry)
      }
      watch.whenReadable(retry)
      return cancel
    })
  })
}

/**
 * `connect`: undefined when it succeeded at once (the usual case: no Effect to run), else the
 * Effect that retries while the listener's backlog is full (EAGAIN on a non-blocking AF_UNIX
 * connect does not progress by itself, so it is retried with a growing pause, as long as the
 * caller waits: bound it with `Effect.timeout`) or fails.
 */
export const connectNow = (
  driver: UnixDriverShape,
  fd: number,
  address: Address.Address
): Effect.Effect<void, Errors.UnixError> | undefined => {
  const EAGAIN = -driver.binding.constants.EAGAIN
  const failure = (result: number) => Effect.fail(errorFromErrno(driver.binding, -result, "connect", address.text))
  const result = tryConnect(driver, fd, address)
  if (result === 0) return undefined
  if (result !== EAGAIN) return failure(result)
  return Effect.gen(function*() {
    let pause = 1
    for (;;) {
      yield* Effect.sleep(pause)
      pause = Math.min(pause * 2, 100)
      const again = tryConnect(driver, fd, address)
      if (again === 0) return
      if (again !== EAGAIN) return yield* failure(again)
    }
  })
}

/** One `connect` (restarted after a signal) → 0 or -errno. */
const tryConnect = (driver: UnixDriverShape, fd: number, address: Address.Address): number => {
  let result = driver.binding.connect(fd, address.bytes)
  while (result === -driver.binding.constants.EINTR) result = driver.binding.connect(fd, address.bytes)
  return result
}
