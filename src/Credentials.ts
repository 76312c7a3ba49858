/**
 * Who is on the other end.
 *
 * `PeerCredentials` come from the kernel, not from the peer's words: `SO_PEERCRED` reports the
 * pid, uid and gid the peer had when it called `connect` (for a client: when the server called
 * `listen`; for a socketpair: when it was created). They are read at accept, before a single
 * byte of the peer's is, and checked by the server's `Policy`.
 *
 * @since 0.1.0
 */

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
export interface PeerCredentials extends Credentials {}
