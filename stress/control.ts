/**
 * The helper side of the stress line protocol (the runner side is `Helper` in support.ts):
 * one JSON object per stdout line, one request per stdin line. A helper stops when its stdin
 * closes, so a runner that dies never leaves helpers serving behind it.
 */
import { Cause, Effect, type Scope, Stream } from "effect"
import * as fs from "node:fs"
import * as readline from "node:readline"

export type Json = any

const say = (message: object): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

/** Tells the runner the helper is ready, with whatever it needs to know (an address). */
export const ready = (value: Json): Effect.Effect<void> => Effect.sync(() => say({ ready: value }))

/** Something the runner did not ask for: progress, a pause that began. */
export const event = (name: string, fields: Record<string, unknown> = {}): void => say({ event: name, ...fields })

export type Handlers<R> = Record<string, (request: Json) => Effect.Effect<unknown, unknown, R>>

/** This process's open descriptors, counted from inside (the readdir handle included). */
export const ownFds = (): number => fs.readdirSync("/proc/self/fd").length

/** Requests every helper answers: its memory, and a full garbage collection. */
export const processRequests: Handlers<never> = {
  memory: () => Effect.sync(() => process.memoryUsage()),
  /**
   * A full garbage collection (when started with --expose-gc): what is left after it is what
   * the process holds on to, rather than garbage not collected yet.
   */
  gc: () =>
    Effect.sync(() => {
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      return gc !== undefined
    })
}

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(error)
}

/**
 * Answers requests until stdin closes. Each request runs in its own fiber, so a slow one
 * (a flood that lasts seconds) never holds up a `stats` asked meanwhile.
 */
export const serveRequests = <R>(handlers: Handlers<R>): Effect.Effect<void, never, R | Scope.Scope> =>
  Stream.fromAsyncIterable(readline.createInterface({ input: process.stdin }), (error) => error).pipe(
    Stream.runForEach((line) =>
      Effect.gen(function*() {
        const request = JSON.parse(line) as Json
        const handler = handlers[request.command as string]
        if (handler === undefined) {
          say({ reply: request.id, error: `unknown command ${request.command}` })
          return
        }
        yield* Effect.forkScoped(
          handler(request).pipe(
            Effect.matchCause({
              onFailure: (cause) => say({ reply: request.id, error: describe(cause) }),
              onSuccess: (value) => say({ reply: request.id, ok: value ?? null })
            })
          )
        )
      })
    ),
    Effect.ignore
  )

/** Runs a helper's program and exits the process when it ends (stdin closed) or fails. */
export const main = (program: Effect.Effect<void, unknown>): void => {
  Effect.runPromise(program).then(
    () => process.exit(0),
    (error) => {
      console.error("helper failed:", error)
      process.exit(1)
    }
  )
}
