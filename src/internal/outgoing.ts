/**
 * The send path shared by connections and datagram endpoints: turning an `Outgoing` message
 * into bytes, descriptors and credentials, and a FIFO queue that tries `sendmsg` at once and,
 * when the socket would block, waits and flushes in order.
 *
 * Ownership: a send borrows the caller's descriptors. One that cannot go out at once holds
 * its own duplicates until `sendmsg` took them (or the send was abandoned), so the caller may
 * close its descriptors whenever `send` resolves or is interrupted.
 *
 * Waiting: a connected socket whose buffer is full becomes writable again (EPOLLOUT) when the
 * peer reads. An unconnected datagram socket sending to a receiver whose queue is full gets
 * EAGAIN with no readiness event to wait for (the kernel reports such a socket writable), so
 * those sends retry on a timer with a growing pause instead.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Errors from "../Errors.ts"
import type { Fd } from "../Fd.ts"
import type { Outgoing } from "../Message.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"
import { HEADER_BYTES, MAX_FDS_PER_FRAME, SEPARATE_HEADER_BYTES, writeHeader } from "./framing.ts"
import type { Watch } from "./reactor.ts"

const encoder = new TextEncoder()
const EMPTY_BYTES = new Uint8Array(0)
/** Pauses between retries of a datagram whose receiver's queue is full, in milliseconds. */
const FIRST_RETRY_MS = 1
const LAST_RETRY_MS = 50

/**
 * Where a framed message is put together for `sendmsg`: its header, and behind it a small
 * payload's copy. Built anew at each attempt (the kernel copies during the call), so no send
 * allocates a frame; its size (over 64 bytes) keeps it off the JS heap, where Node-API reads it
 * in place.
 */
const frameScratch = new Uint8Array(HEADER_BYTES + SEPARATE_HEADER_BYTES)
/** The header alone, sent as the first iovec before a large payload. */
const headerScratch = frameScratch.subarray(0, HEADER_BYTES)
/**
 * Where each attempt puts its descriptors and credentials for the addon. A typed array made per
 * send would be small enough to live on the JS heap, and the addon's first look at it would
 * move it off (a malloc and an ArrayBuffer per send); these two moved once.
 */
const fdScratch = new Int32Array(MAX_FDS_PER_FRAME)
const credentialsScratch = new Int32Array(3)

/** What a send failed with. */
export type SendError = Errors.ConnectionError | Errors.AddressNotFound | Errors.ConnectionRefused

/** One message on its way to the kernel. */
export interface SendEntry {
  /**
   * The descriptor count of the frame header sent before `data` (length-prefixed framing),
   * or -1 when `data` goes out as it is.
   */
  readonly header: number
  readonly data: Uint8Array
  /** Bytes of header and data already sent. */
  offset: number
  fds: Array<number> | null
  /** Whether `fds` are our own duplicates (a queued send) that we must close. */
  ownsFds: boolean
  /** `[pid, uid, gid]` to send as SCM_CREDENTIALS with the first byte, or null. */
  credentials: ReadonlyArray<number> | null
  /** Destination of an unconnected datagram (`sun_path` bytes), else null. */
  readonly address: Uint8Array | null
  /** Where the destination is named in errors. */
  readonly addressText: string | undefined
  /** A half-close (`shutdown(SHUT_WR)`) rather than a message. */
  readonly shutdown: boolean
  resume: ((effect: Effect.Effect<void, SendError>) => void) | undefined
}

/** How to encode messages for one socket. */
export interface Encoding {
  /** Length-prefixed framing (STREAM). */
  readonly framed: boolean
  /** A byte stream (a raw STREAM message needs one byte to carry descriptors). */
  readonly stream: boolean
}

/** The three encodings there are, shared (nothing is allocated per send to say which). */
export const FRAMED_STREAM: Encoding = Object.freeze({ framed: true, stream: true })
export const RAW_STREAM: Encoding = Object.freeze({ framed: false, stream: true })
export const PACKETS: Encoding = Object.freeze({ framed: false, stream: false })

const NO_FDS_GIVEN: ReadonlyArray<Fd | number> = Object.freeze([])

/** Checks an outgoing message and builds its entry (descriptors still borrowed). */
export const prepare = (
  driver: UnixDriverShape,
  message: Outgoing,
  encoding: Encoding,
  destination?: { readonly bytes: Uint8Array; readonly text: string }
): SendEntry | SendError => {
  // Bare data (the usual request or reply) needs no wrapper object.
  const bare = typeof message === "string" || message instanceof Uint8Array
  const data = bare ? message : message.data
  const payload = typeof data === "string" ? encoder.encode(data) : data ?? EMPTY_BYTES
  const given: ReadonlyArray<Fd | number> = bare ? NO_FDS_GIVEN : message.fds ?? NO_FDS_GIVEN
  if (given.length > MAX_FDS_PER_FRAME) {
    return new Errors.FdLimit({
      message: `a message carries at most ${MAX_FDS_PER_FRAME} descriptors (SCM_MAX_FD); got ${given.length}`,
      limit: MAX_FDS_PER_FRAME
    })
  }
  let fds: Array<number> | null = null
  if (given.length > 0) {
    fds = []
    for (let i = 0; i < given.length; i++) {
      const fd = given[i]!
      if (typeof fd === "number") {
        if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
          return new Errors.SystemError({ message: `not a descriptor number: ${fd}`, syscall: "sendmsg" })
        }
        fds.push(fd)
      } else if (!fd.isOpen) {
        return new Errors.Closed({ message: `cannot send ${fd}: it is no longer open`, syscall: "sendmsg" })
      } else {
        fds.push(fd.value)
      }
    }
  }
  if (encoding.framed) {
    if (payload.length > 0xffffffff) {
      return new Errors.MessageTooLarge({ message: "frame payload over 4 GiB", size: payload.length })
    }
  } else if (encoding.stream && payload.length === 0 && fds !== null) {
    return new Errors.ProtocolError({
      message: "a raw STREAM message needs at least one byte of data to carry descriptors"
    })
  }
  let credentials: ReadonlyArray<number> | null = null
  const wanted = bare ? undefined : message.credentials
  if (wanted === true) {
    credentials = [driver.binding.getpid(), driver.euid, driver.egid]
  } else if (wanted !== undefined) {
    credentials = [wanted.pid, wanted.uid, wanted.gid]
  }
  return {
    header: encoding.framed ? given.length : -1,
    data: payload,
    offset: 0,
    fds,
    ownsFds: false,
    credentials,
    address: destination?.bytes ?? null,
    addressText: destination?.text,
    shutdown: false,
    resume: undefined
  }
}

/** A half-close entry: `shutdown(SHUT_WR)` once everything queued before it went out. */
export const shutdownEntry = (): SendEntry => ({
  header: -1,
  data: EMPTY_BYTES,
  offset: 0,
  fds: null,
  ownsFds: false,
  credentials: null,
  address: null,
  addressText: undefined,
  shutdown: true,
  resume: undefined
})

type Attempt = "done" | "partial" | "again" | SendError

const NO_ENTRIES = Object.freeze([]) as unknown as Array<SendEntry>

/**
 * The send queue of one socket. `stream` sockets deliver in parts and fail for good on the
 * first error; message sockets (SEQPACKET, DGRAM) fail only the message a per-message error
 * concerns (too large, no such destination) and go on with the next.
 */
export class SendQueue {
  readonly #driver: UnixDriverShape
  readonly #fd: number
  readonly #watch: Watch
  readonly #stream: boolean
  /** Shared and frozen while nothing is queued: most sends go out at once, and idle sockets send nothing. */
  #entries: Array<SendEntry> = NO_ENTRIES
  #failure: SendError | (() => SendError) | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #pause = FIRST_RETRY_MS

  constructor(driver: UnixDriverShape, fd: number, watch: Watch, stream: boolean) {
    this.#driver = driver
    this.#fd = fd
    this.#watch = watch
    this.#stream = stream
  }

  /** Sends `entry` now if nothing is queued, else queues it; resolves once the kernel has it. */
  enqueue(entry: SendEntry): Effect.Effect<void, SendError> {
    if (this.#failure !== undefined) {
      this.#releaseFds(entry)
      return Effect.fail(this.#failed())
    }
    if (this.#entries.length === 0) {
      const attempt = this.#attempt(entry)
      if (attempt === "done") return Effect.void
      if (typeof attempt !== "string") return Effect.fail(attempt)
    }
    if (entry.fds !== null && !entry.ownsFds) {
      const duplicated = this.#duplicateFds(entry)
      if (duplicated !== undefined) return Effect.fail(duplicated)
    }
    if (this.#entries === NO_ENTRIES) this.#entries = []
    this.#entries.push(entry)
    if (this.#entries.length === 1) this.#wait(entry)
    return Effect.callback<void, SendError>((resume) => {
      entry.resume = this.#watch.resumer(resume)
      return Effect.sync(() => this.#abandon(entry))
    })
  }

  /**
   * Fails every queued send with `error`, and every later one (the socket is closing). A
   * function is called only when a send is there to fail: closing a connection nobody sends
   * on again makes no error (an error captures a stack trace, the largest cost of a close).
   */
  close(error: SendError | (() => SendError)): void {
    if (this.#failure === undefined) this.#failure = error
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const entries = this.#entries
    this.#entries = NO_ENTRIES
    for (const entry of entries) {
      this.#releaseFds(entry)
      entry.resume?.(Effect.fail(this.#failed()))
    }
  }

  /** The error every send fails with from now on (made on first use). */
  #failed(): SendError {
    const failure = this.#failure!
    return typeof failure === "function" ? (this.#failure = failure()) : failure
  }

  #wait(head: SendEntry): void {
    if (head.address === null) {
      this.#watch.whenWritable(this.#onWritable ??= () => this.#flush())
      return
    }
    // One retry timer at a time: a send resumed inside #flush may queue and wait again before
    // #flush itself finds its next entry waiting (each extra timer would retry on its own).
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#flush()
    }, this.#pause)
    this.#pause = Math.min(this.#pause * 2, LAST_RETRY_MS)
  }

  /** The writable callback, made the first time a send has to wait. */
  #onWritable: (() => void) | undefined

  #flush(): void {
    while (this.#entries.length > 0 && this.#failure === undefined) {
      const head = this.#entries[0]!
      const attempt = this.#attempt(head)
      if (attempt === "done") {
        this.#entries.shift()
        this.#pause = FIRST_RETRY_MS
        head.resume?.(Effect.void)
        continue
      }
      if (attempt === "partial" || attempt === "again") {
        this.#wait(head)
        return
      }
      this.#entries.shift()
      this.#releaseFds(head)
      if (this.#stream || !concernsOneMessage(attempt)) {
        head.resume?.(Effect.fail(attempt))
        this.close(attempt)
        return
      }
      head.resume?.(Effect.fail(attempt))
    }
  }

  #attempt(entry: SendEntry): Attempt {
    const binding = this.#driver.binding
    const c = binding.constants
    if (entry.shutdown) {
      const result = binding.shutdown(this.#fd, c.SHUT_WR)
      return result < 0 && -result !== c.ENOTCONN ? this.#error(-result, "shutdown", entry) : "done"
    }
    const data = entry.data
    const headerBytes = entry.header < 0 ? 0 : HEADER_BYTES
    const total = headerBytes + data.length
    const fds = entry.fds
    const fdCount = fds === null ? 0 : fds.length
    for (let i = 0; i < fdCount; i++) fdScratch[i] = fds![i]!
    let credentials: Int32Array | null = null
    if (entry.credentials !== null) {
      credentials = credentialsScratch
      credentials.set(entry.credentials)
    }
    for (;;) {
      let sent: number
      if (entry.offset >= headerBytes) {
        const start = entry.offset - headerBytes
        if (start === 0 && data.length < SEPARATE_HEADER_BYTES) {
          // Copied into the scratch like a small frame: a fresh small payload may still live on
          // the JS heap, and the addon's look at it would move it off (a malloc per send).
          frameScratch.set(data, 0)
          sent = binding.sendmsg(this.#fd, frameScratch, 0, data.length, fdScratch, fdCount, credentials, entry.address, null, 0)
        } else {
          sent = binding.sendmsg(this.#fd, data, start, data.length - start, fdScratch, fdCount, credentials, entry.address, null, 0)
        }
      } else {
        writeHeader(frameScratch, data.length, entry.header)
        if (data.length < SEPARATE_HEADER_BYTES) {
          frameScratch.set(data, HEADER_BYTES)
          sent = binding.sendmsg(this.#fd, frameScratch, entry.offset, total - entry.offset, fdScratch, fdCount, credentials, entry.address, null, 0)
        } else {
          sent = binding.sendmsg(this.#fd, data, 0, data.length, fdScratch, fdCount, credentials, entry.address, headerScratch, entry.offset)
        }
      }
      if (sent >= 0) {
        // The descriptors and credentials went with the first byte: never send them again.
        this.#releaseFds(entry)
        entry.credentials = null
        entry.offset += sent
        return entry.offset >= total ? "done" : "partial"
      }
      if (-sent === c.EINTR) continue
      if (-sent === c.EAGAIN) return "again"
      return this.#error(-sent, "sendmsg", entry)
    }
  }

  #error(errno: number, syscall: string, entry: SendEntry): SendError {
    return errorFromErrno(this.#driver.binding, errno, syscall, entry.addressText) as SendError
  }

  #duplicateFds(entry: SendEntry): SendError | undefined {
    const fds = entry.fds!
    const copies: Array<number> = []
    for (let i = 0; i < fds.length; i++) {
      const copy = this.#driver.binding.dup(fds[i]!)
      if (copy < 0) {
        for (const made of copies) this.#driver.binding.close(made)
        return errorFromErrno(this.#driver.binding, -copy, "dup") as SendError
      }
      copies.push(copy)
    }
    entry.fds = copies
    entry.ownsFds = true
    return undefined
  }

  #releaseFds(entry: SendEntry): void {
    if (entry.fds !== null && entry.ownsFds) {
      for (const fd of entry.fds) this.#driver.binding.close(fd)
    }
    entry.fds = null
    entry.ownsFds = false
  }

  /** An interrupted send: withdrawn if nothing of it went out yet (else it must finish). */
  #abandon(entry: SendEntry): void {
    entry.resume = undefined
    if (entry.offset > 0) return
    const index = this.#entries.indexOf(entry)
    if (index < 0 || (index === 0 && entry.shutdown)) return
    this.#entries.splice(index, 1)
    this.#releaseFds(entry)
    if (index === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      if (this.#entries.length > 0) this.#wait(this.#entries[0]!)
    }
  }
}

/** Errors that concern one message (or one destination), not the socket. */
const concernsOneMessage = (error: SendError): boolean =>
  error._tag === "MessageTooLarge" || error._tag === "AddressNotFound" || error._tag === "ConnectionRefused" ||
  error._tag === "PermissionDenied" || (error._tag === "FdLimit" && error.code === "ETOOMANYREFS")
