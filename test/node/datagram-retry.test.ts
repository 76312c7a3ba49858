/**
 * A datagram sender to a receiver whose queue is full retries on a timer (the kernel gives an
 * unconnected sender no readiness event to wait for). Node.js lists its live timers
 * (`process.getActiveResourcesInfo`), so here the retries themselves are observable.
 */
import { Effect, Fiber, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Message, UnixDatagram } from "../../src/index.ts"
import { runCountingFds } from "../support/helpers.ts"

const liveTimers = (): number => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length

describe("datagram retries (Node.js)", () => {
  it("a sender outpacing a reader that keeps reading holds at most one retry timer, and every datagram arrives in order", () =>
    runCountingFds(Effect.gen(function*() {
      const [sender, receiver] = [yield* UnixDatagram.bind(), yield* UnixDatagram.bind()]
      const total = 2000 // a receive queue holds 10 here: the sender waits again and again
      const reading = yield* Effect.forkScoped(receiver.messages.pipe(Stream.take(total), Stream.runCollect))
      yield* Effect.sleep(1)
      const baseline = liveTimers() // counted as below: inside a timer's callback, that timer still counts
      const sending = yield* Effect.forkScoped(
        Effect.forEach(Array.from({ length: total }, (_, i) => i), (i) => sender.sendTo(receiver.address.text, `datagram ${i}`), {
          discard: true
        })
      )
      let most = 0
      while (sending.pollUnsafe() === undefined) {
        most = Math.max(most, liveTimers() - baseline)
        yield* Effect.sleep(1)
      }
      const received = yield* Fiber.join(reading)
      expect(received.map(Message.text)).toEqual(Array.from({ length: total }, (_, i) => `datagram ${i}`))
      expect(most).toBeLessThanOrEqual(1)
    })))
})
