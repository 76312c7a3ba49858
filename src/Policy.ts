/**
 * Who may connect: the `serv_accept` uid check, as a value.
 *
 * A server's `authorize` policy runs on the peer's `SO_PEERCRED` credentials right after
 * `accept`, before any byte is read. A refused peer is closed (the descriptors it may have
 * sent already are closed with its socket), counted, reported to `onRejected`, and never
 * reaches `connections`. A policy that fails or throws refuses: authorization fails closed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { PeerCredentials } from "./Credentials.ts"

/**
 * The identity of the process applying a policy.
 *
 * @category models
 * @since 0.1.0
 */
export interface Self {
  readonly uid: number
  readonly gid: number
}

/**
 * A named authorization check. The name appears in audit records (`PeerRejected.policy`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  readonly name: string
  readonly check: (peer: PeerCredentials, self: Self) => Effect.Effect<boolean>
}

/**
 * A predicate as a policy.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (name: string, check: (peer: PeerCredentials, self: Self) => Effect.Effect<boolean>): Policy => ({
  name,
  check
})

/**
 * The default: the peer runs as our effective uid, or as root.
 *
 * @category policies
 * @since 0.1.0
 */
export const sameUser: Policy = make("sameUser", (peer, self) => Effect.succeed(peer.uid === self.uid || peer.uid === 0))

/**
 * The peer's uid is one of `uids`.
 *
 * @category policies
 * @since 0.1.0
 */
export const allowUids = (uids: Iterable<number>): Policy => {
  const allowed = new Set(uids)
  return make(`allowUids(${[...allowed].join(",")})`, (peer) => Effect.succeed(allowed.has(peer.uid)))
}

/**
 * The peer's primary gid is one of `gids`.
 *
 * @category policies
 * @since 0.1.0
 */
export const allowGids = (gids: Iterable<number>): Policy => {
  const allowed = new Set(gids)
  return make(`allowGids(${[...allowed].join(",")})`, (peer) => Effect.succeed(allowed.has(peer.gid)))
}

/**
 * Every peer (for sockets already guarded by their file mode or by a namespace).
 *
 * @category policies
 * @since 0.1.0
 */
export const allowAll: Policy = make("allowAll", () => Effect.succeed(true))

/**
 * Passes when at least one of `policies` passes (checked in order, stopping at the first).
 *
 * @category combinators
 * @since 0.1.0
 */
export const any = (...policies: ReadonlyArray<Policy>): Policy =>
  make(`any(${policies.map((p) => p.name).join(", ")})`, (peer, self) =>
    Effect.gen(function*() {
      for (const policy of policies) {
        if (yield* policy.check(peer, self)) return true
      }
      return false
    }))

/**
 * Passes when every one of `policies` passes (checked in order, stopping at the first refusal).
 *
 * @category combinators
 * @since 0.1.0
 */
export const all = (...policies: ReadonlyArray<Policy>): Policy =>
  make(`all(${policies.map((p) => p.name).join(", ")})`, (peer, self) =>
    Effect.gen(function*() {
      for (const policy of policies) {
        if (!(yield* policy.check(peer, self))) return false
      }
      return true
    }))

/**
 * A policy from your own predicate: plain, effectful, or async (a Promise). A predicate that
 * throws, fails or rejects refuses.
 *
 * @category constructors
 * @since 0.1.0
 */
export const custom = (
  predicate: (peer: PeerCredentials) => boolean | Effect.Effect<boolean> | PromiseLike<boolean>,
  name = "custom"
): Policy =>
  make(name, (peer) =>
    Effect.suspend(() => {
      const verdict = predicate(peer)
      if (typeof verdict === "boolean") return Effect.succeed(verdict)
      if (Effect.isEffect(verdict)) return verdict
      return Effect.tryPromise(() => Promise.resolve(verdict)).pipe(Effect.orDie)
    }))

/**
 * Runs `policy`, refusing when it fails or throws.
 *
 * @category combinators
 * @since 0.1.0
 */
export const authorize = (policy: Policy, peer: PeerCredentials, self: Self): Effect.Effect<boolean> =>
  refuseOnFailure(policy.check(peer, self))

/**
 * A check's verdict, refusing when it fails or throws: at once (a boolean) when the check
 * decided at once (it returned an Exit, as `Effect.succeed` does), else as an Effect.
 *
 * @internal
 */
export const decideNow = (check: Effect.Effect<boolean>): boolean | Effect.Effect<boolean> => {
  if (!Exit.isExit(check)) return refuseOnFailure(check)
  const exit = check as Exit.Exit<boolean>
  return Exit.isSuccess(exit) && exit.value === true
}

const refuseOnFailure = (check: Effect.Effect<boolean>): Effect.Effect<boolean> =>
  check.pipe(Effect.catchCause(() => Effect.succeed(false)))
