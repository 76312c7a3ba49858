/**
 * Peers that are not this library: the Python (`socket.send_fds`, `recv_fds`, SO_PEERCRED,
 * SO_PASSCRED) and C (`serv_listen` / `serv_accept` / `cli_conn`) programs in test/interop,
 * and what the tests expect them to print.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Child, root, spawnProgram } from "./helpers.ts"

const interop = path.join(root, "test/interop")

/** Starts `python3 test/interop/peer.py <role> …args` (system Python, so other uids can run it too). */
export const python = (args: ReadonlyArray<string>, options: { readonly uid?: number } = {}): Child =>
  spawnProgram([fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", path.join(interop, "peer.py"), ...args], options)

let compiled: string | undefined

/** Compiles test/interop/cli_serv.c with `cc -O2` (once per process) and starts it. */
export const cProgram = (args: ReadonlyArray<string>, options: { readonly uid?: number } = {}): Child => {
  if (compiled === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usfp-cc-"))
    fs.chmodSync(dir, 0o755)
    const binary = path.join(dir, "cli_serv")
    execFileSync("cc", ["-O2", "-Wall", "-Werror", "-o", binary, path.join(interop, "cli_serv.c")])
    compiled = binary
  }
  return spawnProgram([compiled, ...args], options)
}

/** The line a peer prints for a message it received (see test/interop). */
export const receivedLine = (
  text: string,
  fds: number,
  credentials: { readonly pid: number; readonly uid: number; readonly gid: number } | undefined,
  from?: string
): string =>
  `received text=${JSON.stringify(text)} fds=${fds} creds=${
    credentials === undefined ? "none" : `${credentials.pid},${credentials.uid},${credentials.gid}`
  }${from === undefined ? "" : ` from=${JSON.stringify(from)}`}`

/** The line a peer prints for descriptor `i` of a received message. */
export const fdLine = (i: number, type: string, content: string): string => `fd ${i} ${type} content=${JSON.stringify(content)}`

/** The line a peer prints for the SO_PEERCRED it read. */
export const peerLine = (credentials: { readonly pid: number; readonly uid: number; readonly gid: number }): string =>
  `peer pid=${credentials.pid} uid=${credentials.uid} gid=${credentials.gid}`
