/**
 * Process descriptors: act on exactly one process, with no pid-reuse race.
 *
 * A pid is a number the kernel hands out again once its process is gone, so a supervisor that
 * signals "pid 4242" may hit a stranger. A pidfd refers to one process for as long as it is
 * open: signals sent through it reach that process or fail, and it becomes readable when that
 * process exits. Get one for the peer of a connection with `connection.peer.pidfd`
 * (`SO_PEERPIDFD`, Linux 6.5+); it is an ordinary owned `Fd`: close it when done.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Errors from "./Errors.ts"
import type { Fd } from "./Fd.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { UnixDriver } from "./UnixDriver.ts"

/**
 * The signals `signal` can send by name.
 *
 * @category models
 * @since 0.1.0
 */
export type Signal = "SIGHUP" | "SIGINT" | "SIGQUIT" | "SIGKILL" | "SIGUSR1" | "SIGUSR2" | "SIGTERM" | "SIGCONT" | "SIGSTOP"

/**
 * Sends `signal` (default `SIGTERM`) to the process `pidfd` refers to (`pidfd_send_signal`).
 * Fails with `SystemError` (`code: "ESRCH"`) when that process has exited, `PermissionDenied`
 * when we may not signal it, `Closed` when the `Fd` is closed.
 *
 * @category operations
 * @since 0.1.0
 */
export const signal = (
  pidfd: Fd,
  signal: Signal = "SIGTERM"
): Effect.Effect<void, Errors.PermissionDenied | Errors.SystemError | Errors.Closed, UnixDriver> =>
  UnixDriver.use((driver) =>
    Effect.suspend((): Effect.Effect<void, Errors.PermissionDenied | Errors.SystemError | Errors.Closed> => {
      if (!pidfd.isOpen) return Effect.fail(closed("pidfd_send_signal"))
      const b = driver.binding
      const result = b.pidfdSendSignal(pidfd.value, b.constants[signal])
      if (result === 0) return Effect.void
      return Effect.fail(errorFromErrno(b, -result, "pidfd_send_signal") as Errors.PermissionDenied | Errors.SystemError)
    })
  )

/**
 * Waits until the process `pidfd` refers to has exited (at once if it already has). Keep the
 * `Fd` open while waiting. Interrupting the wait leaves the `Fd` as it was.
 *
 * @category operations
 * @since 0.1.0
 */
export const exited = (pidfd: Fd): Effect.Effect<void, Errors.Closed, UnixDriver> =>
  UnixDriver.use((driver) =>
    Effect.suspend(() => {
      if (!pidfd.isOpen) return Effect.fail(closed("epoll_ctl"))
      return Effect.callback<void>((resume) => {
        const watch = driver.reactor.register(pidfd.value)
        driver.reactor.retain() // someone waits: keep the process alive
        let done = false
        const finish = () => {
          if (done) return
          done = true
          driver.reactor.release()
          watch.close() // a no-op when closing the pidfd closed it already (Reactor.closing)
        }
        const wake = watch.resumer(resume)
        watch.whenReadable(() => {
          finish()
          wake(Effect.void)
        })
        return Effect.sync(finish)
      })
    })
  )

const closed = (syscall: string) => new Errors.Closed({ message: `${syscall}: the pidfd is closed`, syscall })
