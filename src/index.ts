/**
 * unix-socket-fd-passing: Unix domain sockets for Node.js, Bun and Deno, as Effect streams.
 *
 * Provide a driver layer from your runtime's adapter (`unix-socket-fd-passing/node`, `/bun`,
 * `/deno`), then `UnixServer.listen`, `UnixSocket.connect`, and exchange `Message`s that carry
 * bytes and open file descriptors, with the peer's identity checked before its first byte.
 *
 * @since 0.1.0
 */
export * as Address from "./Address.ts"
export * as Connection from "./Connection.ts"
export * as Credentials from "./Credentials.ts"
export * as EffectSocket from "./EffectSocket.ts"
export * from "./Errors.ts"
export { Fd } from "./Fd.ts"
export type { FileType, OpenFlags } from "./Fd.ts"
export * as Message from "./Message.ts"
export * as Pidfd from "./Pidfd.ts"
export * as Policy from "./Policy.ts"
export * as Systemd from "./Systemd.ts"
export * as UnixDatagram from "./UnixDatagram.ts"
export * as UnixDriver from "./UnixDriver.ts"
export * as UnixServer from "./UnixServer.ts"
export * as UnixSocket from "./UnixSocket.ts"
