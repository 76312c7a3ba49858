/**
 * Who is on the other end.
 *
 * Three sources, each from the kernel, never from the peer's words:
 *
 * - `PeerCredentials` (`SO_PEERCRED`): the pid, uid and gid the peer had when it called
 *   `connect` (for a client: when the server called `listen`; for a socketpair: when it was
 *   created). Read at accept, before a single byte of the peer's is, and checked by the
 *   server's `Policy`. Fixed for the connection's life.
 * - `Message.credentials` (`SCM_CREDENTIALS`, with `passCredentials: true`): the sender of
 *   each message, as of that message. A process may claim other ids only as far as the kernel
 *   lets it (root may claim any existing pid and any uid or gid).
 * - `peer.pidfd` (`SO_PEERPIDFD`, Linux 6.5+): a descriptor for the peer process itself, to
 *   signal it or wait for its exit (`Pidfd`) with no risk of reaching a later process that
 *   reused its pid.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { Closed, SystemError, Unsupported } from "./Errors.ts"
import type { Fd } from "./Fd.ts"

/**
 * A process identity as the kernel reports it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Credentials {
  readonly pid: number
  readonly uid: number
  readonly gid: number
}

/**
 * The identity of the peer of a connection, from `SO_PEERCRED`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PeerCredentials extends Credentials {
  /**
   * A new pidfd for the peer process (`SO_PEERPIDFD`), owned by the caller: signal it or wait
   * for the process to exit with `Pidfd`, free of pid-reuse races. Fails with `Unsupported` on
   * kernels without peer pidfds (before Linux 6.5) and `Closed` once the connection closed.
   */
  readonly pidfd: Effect.Effect<Fd, Unsupported | Closed | SystemError>
}
