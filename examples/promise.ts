import * as fs from "node:fs"
import { connect, listen, open } from "unix-socket-fd-passing/promise"

await using server = await listen({ address: "@superd-promise" }) // default policy: our uid (and root) only
await using client = await connect({ address: "@superd-promise" })

for await (const romd of server) { // accepting is pull-based: one connection per turn of the loop
  await using connection = romd
  console.log(`romd is pid ${connection.peer.pid}, uid ${connection.peer.uid}`)
  await using fd = await open("/etc/hostname")
  await connection.send({ data: "hostname", fds: [fd] }) // borrowed: still ours, closed when this block ends
  break
}

for await (const message of client) {
  using fd = message.fds[0]! // received descriptors are ours to close
  console.log(`${new TextDecoder().decode(message.data)}: ${fs.readFileSync(fd.value, "utf8").trim()}`)
  break
}
