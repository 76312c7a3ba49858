/**
 * Resuming a fiber outside the async context it suspended in (Deno only).
 *
 * effect 4.1 captures a `node:async_hooks` `AsyncResource` each time a fiber suspends and
 * resumes the fiber inside that resource's scope. Deno 2.9 records the resource as the
 * current execution resource of its scope, so the resource captured at the next suspension
 * holds the previous one, and so on: a chain as long as the fiber's suspensions, which lives
 * as long as the fiber (about 0.5 KiB per wait, never freed while a connection is served, and
 * each wait slower than the last). Node.js and Bun keep no such chain.
 *
 * Where the driver asks for it (`RuntimeHooks.resumeOutsideAsyncContext`), a fiber woken by a
 * socket resumes in the context of the wake-up (the reactor's, at the top level) instead: its
 * captured resource is destroyed, not entered, and the chain ends there. The price, in Deno
 * only: an `AsyncLocalStorage` value set around a program is not seen again after the program
 * waited on a socket.
 *
 * @internal
 */
import * as Fiber from "effect/Fiber"

/** What this module needs of effect's fiber: the resource it resumes in (an internal field). */
interface SuspendedFiber {
  _asyncContext?: { emitDestroy(): unknown } | undefined
}

/**
 * Wraps the `resume` of an `Effect.callback` (call it inside the register function, where the
 * suspending fiber is current) so that the fiber resumes outside the async context it captured.
 */
export const resumeOutsideAsyncContext = <T>(resume: (value: T) => void): (value: T) => void => {
  const fiber = Fiber.getCurrent() as SuspendedFiber | undefined
  if (fiber === undefined || !("_asyncContext" in fiber)) return resume
  return (value) => {
    const captured = fiber._asyncContext
    if (captured !== undefined) {
      fiber._asyncContext = undefined
      captured.emitDestroy()
    }
    resume(value)
  }
}
