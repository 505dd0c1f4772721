/**
 * The y-websocket frames the load generator needs, pre-encoded by hand, for both dialects:
 * plain y-websocket (Weft, the reference server, the relay) and Hocuspocus, which prefixes every
 * message with the document name and wants an auth message first.
 */
import * as encoding from 'lib0/encoding'
import type { Dialect } from '../lib/targets.js'

export const SYNC = 0
export const STEP1 = 0
export const STEP2 = 1
export const UPDATE = 2
/** Hocuspocus' answer to a client's step1 uses this type instead of SYNC. */
export const SYNC_REPLY = 4

export class Framing {
  /** Bytes before the y-websocket message type (the doc name for Hocuspocus). */
  readonly prefix: Uint8Array
  constructor (readonly dialect: Dialect, readonly doc: string) {
    if (dialect === 'hocuspocus') {
      const e = encoding.createEncoder()
      encoding.writeVarString(e, doc)
      this.prefix = encoding.toUint8Array(e)
    } else {
      this.prefix = new Uint8Array(0)
    }
  }

  private frame (write: (e: encoding.Encoder) => void): Buffer {
    const e = encoding.createEncoder()
    encoding.writeUint8Array(e, this.prefix)
    write(e)
    return Buffer.from(encoding.toUint8Array(e))
  }

  /** Hocuspocus: auth with an empty token (no auth configured); nothing for y-websocket. */
  hello (): Buffer[] {
    if (this.dialect !== 'hocuspocus') return []
    return [this.frame(e => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, '') })]
  }

  step1 (stateVector: Uint8Array = new Uint8Array([0])): Buffer {
    return this.frame(e => { encoding.writeVarUint(e, SYNC); encoding.writeVarUint(e, STEP1); encoding.writeVarUint8Array(e, stateVector) })
  }

  step2 (update: Uint8Array = new Uint8Array([0, 0])): Buffer {
    return this.frame(e => { encoding.writeVarUint(e, SYNC); encoding.writeVarUint(e, STEP2); encoding.writeVarUint8Array(e, update) })
  }

  update (update: Uint8Array): Buffer {
    return this.frame(e => { encoding.writeVarUint(e, SYNC); encoding.writeVarUint(e, UPDATE); encoding.writeVarUint8Array(e, update) })
  }
}
