/** Base64 for bytes on the wire (JSON bodies, SSE data), the same in browsers and Node. */
import { toBase64, fromBase64 } from 'lib0/buffer'

export const bytesToBase64 = (bytes: Uint8Array): string => toBase64(bytes)

/** Strict: throws on anything that is not canonical base64, so garbage never reaches a decoder. */
export function base64ToBytes (text: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new TypeError('not base64')
  }
  return fromBase64(text)
}
