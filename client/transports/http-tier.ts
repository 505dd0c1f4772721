/**
 * What the two HTTP tiers (SSE + POST, long poll) share: one abort signal for every request,
 * the update and awareness uploaders, the handshake hand-over, and one way to end — either
 * because the pipe failed (the provider hears `close`) or because the provider closed it (the
 * server hears that the session left).
 */
import { CloseCode } from '../../shared/close-codes.js'
import type { Refusal } from '../refusal.js'
import { SseStatusError } from '../sse-reader.js'
import { AwarenessUploader, closeCodeForStatus, endSession, HttpCloseError, missingFor, Uploader } from './http.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents, type TransportName } from './types.js'

export class HttpTier {
  readonly abort = new AbortController()
  ended = false
  /** Local changes are posted only once live: everything before is in the handshake's upload. */
  private live = false
  /**
   * The handshake was answered: Weft accepts this token for this doc (the provider never
   * changes the token under a running tier).
   */
  private accepted = false
  readonly uploads: Uploader
  private readonly awarenessUploads: AwarenessUploader

  constructor (private readonly ctx: TransportContext, private readonly events: TransportEvents) {
    this.uploads = new Uploader(ctx, this.fail, reason => events.permissionDenied?.(reason))
    this.awarenessUploads = new AwarenessUploader(ctx, this.fail)
  }

  /** Stops everything; true the first time. */
  private stop (): boolean {
    if (this.ended) return false
    this.ended = true
    this.live = false
    this.uploads.stop()
    this.awarenessUploads.stop()
    this.abort.abort()
    return true
  }

  /** The pipe ended on its own: tell the provider. */
  end (code: number, reason: string): void {
    if (this.stop()) this.events.close(code, reason)
  }

  readonly fail = (err: unknown): void => {
    if (err instanceof SseStatusError) return this.end(this.refusalCode(err.refusal), err.message)
    if (err instanceof HttpCloseError) return this.end(err.refusal === undefined ? err.code : this.refusalCode(err.refusal), err.message)
    this.end(ABNORMAL_CLOSURE, (err as Error)?.message ?? 'request failed')
  }

  /**
   * Weft's refusals keep their meaning (401 refresh the token, 403 stop, …). A refusal without
   * Weft's body, after Weft accepted the same token in this tier's handshake, is the network
   * (a proxy refusing event streams or some requests): the pipe failed (1006), so a tier that
   * has not opened yet counts as failed to open and the provider tries the next one. Before
   * that acceptance nothing says the server did not send it (an embedder's own middleware):
   * its status is taken at its word.
   */
  private refusalCode (refusal: Refusal): number {
    return !refusal.fromWeft && this.accepted ? ABNORMAL_CLOSURE : closeCodeForStatus(refusal.status)
  }

  /** After the handshake: send what the server lacks and our presence, then post live. */
  goLive (serverStateVector: Uint8Array): void {
    const missing = missingFor(this.ctx.doc, serverStateVector)
    this.accepted = true
    this.live = true
    if (missing != null) this.uploads.push(missing)
    if (this.ctx.awareness.getLocalState() !== null && !this.ctx.probe) this.awarenessUploads.push()
  }

  /** A reset or snapshot from the server: send it whatever it lacks. */
  sendMissing (serverStateVector: Uint8Array): void {
    const lacking = missingFor(this.ctx.doc, serverStateVector)
    if (lacking != null) this.uploads.push(lacking)
  }

  /** A malformed answer from the server ends the tier with 4400. */
  malformed (what: string): void {
    this.end(CloseCode.malformed, what)
  }

  transport (name: TransportName): Transport {
    return {
      name,
      sendUpdate: update => { if (this.live) this.uploads.push(update) },
      sendAwareness: () => { if (this.live) this.awarenessUploads.push() },
      close: () => {
        if (this.stop() && !this.ctx.probe) endSession(this.ctx)
      }
    }
  }
}
