/**
 * The y-websocket wire protocol, decoded at the edge into a tagged union and encoded once.
 * Byte-compatible with `y-protocols/sync`, `y-protocols/awareness` and `y-protocols/auth`:
 * a message is a varUint type followed by its payload, all in lib0 encoding.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { WeftError } from './errors.js'

export const MessageType = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const
export const SyncType = { step1: 0, step2: 1, update: 2 } as const
export const AuthType = { permissionDenied: 0 } as const

export type Message =
  | { type: 'sync-step1', stateVector: Uint8Array }
  | { type: 'sync-step2', update: Uint8Array }
  | { type: 'sync-update', update: Uint8Array }
  | { type: 'awareness', update: Uint8Array }
  | { type: 'auth-denied', reason: string }
  | { type: 'query-awareness' }

/** Anything that is not what the protocol allows: 4400 over WebSocket, 400 over HTTP. */
export class ProtocolError extends WeftError {
  override name = 'ProtocolError'
  constructor (message: string) { super('malformed', message) }
}

/**
 * Decode one message. Throws `ProtocolError` on anything that is not exactly one well-formed
 * message: unknown types, truncated varints, lengths past the end, trailing bytes.
 * Payload arrays are views into `data` (no copy).
 */
export function decodeMessage (data: Uint8Array): Message {
  const decoder = decoding.createDecoder(data)
  let message: Message
  try {
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case MessageType.sync: {
        const sub = decoding.readVarUint(decoder)
        const payload = readBytes(decoder)
        if (sub === SyncType.step1) message = { type: 'sync-step1', stateVector: payload }
        else if (sub === SyncType.step2) message = { type: 'sync-step2', update: payload }
        else if (sub === SyncType.update) message = { type: 'sync-update', update: payload }
        else throw new ProtocolError(`unknown sync message type ${sub}`)
        break
      }
      case MessageType.awareness:
        message = { type: 'awareness', update: readBytes(decoder) }
        break
      case MessageType.auth: {
        const sub = decoding.readVarUint(decoder)
        if (sub !== AuthType.permissionDenied) throw new ProtocolError(`unknown auth message type ${sub}`)
        message = { type: 'auth-denied', reason: decoding.readVarString(decoder) }
        break
      }
      case MessageType.queryAwareness:
        message = { type: 'query-awareness' }
        break
      default:
        throw new ProtocolError(`unknown message type ${type}`)
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`truncated or malformed message: ${(err as Error).message}`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after message')
  return message
}

/** Reads a varUint length and that many bytes, refusing lengths that run past the end. */
function readBytes (decoder: decoding.Decoder): Uint8Array {
  const len = decoding.readVarUint(decoder)
  if (len > decoder.arr.length - decoder.pos) throw new ProtocolError(`declared length ${len} runs past the end`)
  return decoding.readUint8Array(decoder, len)
}

function encodeSync (sub: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.sync)
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => encodeSync(SyncType.step1, stateVector)
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => encodeSync(SyncType.step2, update)
export const encodeSyncUpdate = (update: Uint8Array): Uint8Array => encodeSync(SyncType.update, update)

export function encodeAwarenessMessage (awarenessUpdate: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.awareness)
  encoding.writeVarUint8Array(encoder, awarenessUpdate)
  return encoding.toUint8Array(encoder)
}

export function encodeQueryAwareness (): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.queryAwareness)
  return encoding.toUint8Array(encoder)
}

export function encodePermissionDenied (reason: string): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.auth)
  encoding.writeVarUint(encoder, AuthType.permissionDenied)
  encoding.writeVarString(encoder, reason)
  return encoding.toUint8Array(encoder)
}
