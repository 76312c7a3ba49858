import { Effect } from "effect"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import * as Unix from "../../adapters/promise/index.ts"
import { Policy } from "../../src/index.ts"
import { runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

/** Runs an async test body with the descriptor accounting of the Effect suites. */
const counting = (body: () => Promise<void>) => runCountingFds(Effect.promise(body))

const text = (message: Unix.Message) => new TextDecoder().decode(message.data)

/** The first `n` items of an async iterable (then stops the loop, which releases nothing else). */
const take = async <A>(iterable: AsyncIterable<A>, n: number): Promise<Array<A>> => {
  const items: Array<A> = []
  if (n === 0) return items
  for await (const item of iterable) {
    items.push(item)
    if (items.length === n) break
  }
  return items
}

describe("Promise facade", () => {
  for (const [type, framing] of [["stream", "length-prefixed"], ["stream", "raw"], ["seqpacket", "raw"]] as const) {
    it(`${type} (${framing}): listen, connect, iterate and send with async/await; await using closes everything`, () =>
      counting(async () => {
        const address = `${tempDir()}/p.sock`
        await using server = await Unix.listen({ address, type, framing })
        await using client = await Unix.connect({ address, type, framing })
        const [connection] = await take(server, 1)
        await using accepted = connection!
        expect(accepted.peer).toMatchObject({ pid: process.pid, uid: process.getuid!() })
        await client.send("ping")
        const [message] = await take(accepted, 1)
        expect(text(message!)).toBe("ping")
        await accepted.send({ data: "pong" })
        expect(text((await take(client, 1))[0]!)).toBe("pong")
        await accepted.send("again")
        expect(text((await client.receive())!)).toBe("again")
        await accepted.send("into a buffer")
        const buffer = new Uint8Array(64)
        const received = await client.receiveInto(buffer)
        expect(new TextDecoder().decode(buffer.subarray(0, received!.length))).toBe("into a buffer")
        await accepted.end()
        expect(await client.receiveInto(buffer)).toBeUndefined() // end of stream
        expect(await client.receive()).toBeUndefined()
        expect(fs.existsSync(address)).toBe(true)
      }).then(() => undefined))
  }

  it("hands an open file to another process and reads the one it hands back", () =>
    counting(async () => {
      const dir = tempDir()
      fs.writeFileSync(`${dir}/ours.txt`, "handed over with async/await")
      await using server = await Unix.listen({ address: `${dir}/s.sock` })
      const child = spawnPeer("recv-file", [server.address.text])
      const [connection] = await take(server, 1)
      await using romd = connection!
      expect(romd.peer.pid).toBe(child.pid)
      await using fd = await Unix.open(`${dir}/ours.txt`)
      await romd.send({ data: "here", fds: [fd] })
      expect(text((await take(romd, 1))[0]!)).toBe("done")
      expect(await succeeded(child)).toContain(`content:"handed over with async/await"`)

      const sender = spawnPeer("send-fds", [server.address.text, "pipe"])
      const [second] = await take(server, 1)
      let read = ""
      await second!.handleMessages((message) => {
        read = new TextDecoder().decode(message.fds[0]!.readAll()) // handleMessages closes it afterwards
        return second!.send("done")
      }).catch(() => undefined)
      expect(read).toBe("through a pipe")
      await second!.close()
      expect(await succeeded(sender)).toContain("reply: done")
    }))

  it("an async policy refuses a peer before it is read; onRejected hears of it", () =>
    counting(async () => {
      const refused: Array<number> = []
      await using server = await Unix.listen({
        address: `${tempDir()}/p.sock`,
        authorize: Policy.custom(async (peer) => peer.pid === -1, "nobody"),
        onRejected: (rejection) => void refused.push(rejection.peer.pid)
      })
      const serving = (async () => { // accepting is pull-based: refusals happen as the loop asks
        for await (const connection of server) await connection.close()
      })()
      const child = spawnPeer("knock", [server.address.text])
      expect(await succeeded(child)).toMatch(/outcome: (end-of-stream|error Closed)/)
      expect(refused).toEqual([child.pid])
      expect([server.accepted, server.rejected]).toEqual([0, 1])
      await server.close()
      await serving // the loop ends when the server closes
    }))

  it("rejects with the same typed errors, instances a caller can test", () =>
    counting(async () => {
      const dir = tempDir()
      await using server = await Unix.listen({ address: `${dir}/s.sock` })
      const taken = await Unix.listen({ address: server.address.text }).catch((error: unknown) => error)
      expect(taken).toBeInstanceOf(Unix.AddressInUse)
      expect((taken as Unix.AddressInUse)._tag).toBe("AddressInUse")
      const missing = await Unix.connect({ address: `${dir}/nothing.sock` }).catch((error: unknown) => error)
      expect(missing).toBeInstanceOf(Unix.AddressNotFound)
      expect(missing).toMatchObject({ code: "ENOENT", syscall: "connect" })
      const long = await Unix.connect({ address: `/${"x".repeat(200)}` }).catch((error: unknown) => error)
      expect(long).toBeInstanceOf(Unix.PathTooLong)
      const [a, b] = await Unix.pair("stream")
      await b.close()
      await a.close()
      expect(await a.send("late").catch((error: unknown) => error)).toBeInstanceOf(Unix.Closed)
    }))

  it("datagrams: bind, sendTo with a descriptor, iterate, reply to the sender", () =>
    counting(async () => {
      await using collector = await Unix.bind({ passCredentials: true })
      await using reporter = await Unix.bind()
      await using fd = await Unix.open("/dev/null")
      await reporter.sendTo(collector.address.text, { data: "load=1", fds: [fd] })
      const [datagram] = await take(collector, 1)
      expect([text(datagram!), datagram!.from.text, datagram!.fds.length]).toEqual(["load=1", reporter.address.text, 1])
      expect(datagram!.credentials?.pid).toBe(process.pid)
      datagram!.fds[0]!.close()
      await collector.sendTo(datagram!.from.text, "thanks")
      expect(text(await reporter.receive())).toBe("thanks")
    }))
})
