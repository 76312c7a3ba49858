// An Effect RPC service over a unix socket: anyone may ask for the status, only root may shut
// a service down. Who is calling comes from the kernel (SO_PEERCRED), not from the request.
import { Effect, Layer, Schema } from "effect"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"
import { EffectSocket, Policy } from "unix-socket-fd-passing"

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { reason: Schema.String }) {}

export class Supervisor extends RpcGroup.make(
  Rpc.make("Status", { success: Schema.String }),
  Rpc.make("Shutdown", { payload: { service: Schema.String }, success: Schema.String, error: Forbidden })
) {}

const handlers = Supervisor.toLayer({
  Status: () =>
    Effect.gen(function*() {
      const caller = yield* EffectSocket.CurrentPeer
      return `running; you are pid ${caller?.pid}, uid ${caller?.uid}`
    }),
  Shutdown: ({ service }) =>
    Effect.gen(function*() {
      const caller = yield* EffectSocket.CurrentPeer
      if (caller?.uid !== 0) return yield* new Forbidden({ reason: `uid ${caller?.uid} may not shut down ${service}` })
      return `shutting down ${service}`
    })
})

/** The server: any uid may connect (the policy), the handlers decide per method. */
export const server = (address: string) =>
  RpcServer.layer(Supervisor).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provide(EffectSocket.layerServer({ address, authorize: Policy.allowAll, mode: 0o666 })),
    Layer.provide(RpcSerialization.layerNdjson)
  )

/** What a client needs to `RpcClient.make(Supervisor)`. */
export const client = (address: string) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(EffectSocket.layer({ address })),
    Layer.provide(RpcSerialization.layerNdjson)
  )
