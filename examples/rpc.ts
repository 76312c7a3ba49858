import { Effect } from "effect"
import { RpcClient } from "effect/rpc"
import * as NodeUnix from "unix-socket-fd-passing/node"
import { client, server, Supervisor } from "./rpc-supervisor.ts"

const address = "@supervisor-rpc"

const program = Effect.gen(function*() {
  const supervisor = yield* RpcClient.make(Supervisor)
  console.log(yield* supervisor.Status())
  const shutdown = yield* supervisor.Shutdown({ service: "romd" }).pipe(
    Effect.catchTag("Forbidden", (refused) => Effect.succeed(`refused: ${refused.reason}`))
  )
  console.log(shutdown) // "shutting down romd" as root; "refused: uid …" for anyone else
})

program.pipe(
  Effect.scoped,
  Effect.provide(client(address)),
  Effect.provide(server(address)), // here in the same process; usually another program
  Effect.provide(NodeUnix.layer),
  Effect.runPromise
)
