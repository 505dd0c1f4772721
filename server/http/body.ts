/**
 * Reads a request body up to a byte limit, and stops at the limit. body-parser answers its 413
 * only after draining the whole body ("read off entire request"): an endless chunked POST was
 * never answered and held its connection for minutes (64 MiB in, no answer, 300 s). Here a body
 * declared too large is refused before a byte is read, and one that grows past the limit is
 * refused the moment it does: reading stops and the answer carries `Connection: close`, so
 * Node closes the socket once the 413 is out instead of waiting for the rest.
 */
import type { Request, Response } from 'express'
import { WeftError } from '../errors.js'

export class PayloadTooLarge extends WeftError {
  override name = 'PayloadTooLarge'
  constructor (limit: number) { super('tooLarge', `body larger than ${limit} bytes`) }
}

export function readBody (req: Request, res: Response, limit: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase()
  if (encoding !== 'identity') return Promise.reject(new WeftError('unsupportedType', `content-encoding ${encoding} is not accepted`))
  const tooLarge = (): PayloadTooLarge => {
    res.setHeader('Connection', 'close')
    return new PayloadTooLarge(limit)
  }
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) {
    req.pause()
    return Promise.reject(tooLarge())
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err: Error | null): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
      if (err === null) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
      else reject(err)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > limit) {
        req.pause()
        chunks.length = 0
        done(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => done(null)
    const onError = (err: Error): void => done(new WeftError('malformed', `body could not be read: ${err.message}`))
    const onAborted = (): void => done(new WeftError('malformed', 'the client aborted the body'))
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
    req.once('aborted', onAborted)
  })
}
