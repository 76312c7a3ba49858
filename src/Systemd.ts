/**
 * Living under systemd: readiness notification and the file descriptor store (`sd_notify`).
 *
 * systemd passes a service the address of its notification socket in `NOTIFY_SOCKET` (a path,
 * or `@name` in the abstract namespace) and reads datagrams of `KEY=value` lines from it:
 * `READY=1` once the service serves, `STATUS=…` for `systemctl status`, `STOPPING=1`,
 * `WATCHDOG=1`, and `FDSTORE=1` with descriptors attached (named by `FDNAME=…`) to keep them
 * across a restart of the service. Socket activation, the other half, is
 * `UnixServer.fromListenFds` (and `UnixDatagram.fromFd` for datagram sockets).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Errors from "./Errors.ts"
import type { Fd } from "./Fd.ts"
import * as UnixDatagram from "./UnixDatagram.ts"
import { UnixDriver } from "./UnixDriver.ts"

/**
 * A notification: `KEY=value` pairs, sent one per line (`{ READY: 1, STATUS: "serving" }`).
 *
 * @category models
 * @since 0.1.0
 */
export type State = Readonly<Record<string, string | number>>

/**
 * Sends `state` to systemd's notification socket (`NOTIFY_SOCKET`), with `fds` attached for
 * the descriptor store (`FDSTORE: 1`). Succeeds with `true` once sent, `false` when the
 * process does not run under systemd (no `NOTIFY_SOCKET`): calling it is always safe. A value
 * with a newline fails with `ProtocolError` (it would be read as another line).
 *
 * @category operations
 * @since 0.1.0
 */
export const notify = (
  state: State,
  options: { readonly fds?: ReadonlyArray<Fd | number> | undefined } = {}
): Effect.Effect<boolean, UnixDatagram.DatagramSendError | Errors.AddressError, UnixDriver> =>
  UnixDriver.use((driver) =>
    Effect.gen(function*() {
      const address = driver.getenv("NOTIFY_SOCKET")
      if (address === undefined || address === "") return false
      const lines: Array<string> = []
      for (const [key, value] of Object.entries(state)) {
        const line = `${key}=${value}`
        if (line.includes("\n")) {
          return yield* new Errors.ProtocolError({ message: `notify: ${key} holds a newline, which would start another line` })
        }
        lines.push(line)
      }
      const endpoint = yield* UnixDatagram.bind() // systemd checks who sends: SCM_CREDENTIALS come with it
      yield* endpoint.sendTo(address, { data: lines.join("\n"), fds: options.fds })
      return true
    }).pipe(Effect.scoped)
  )
