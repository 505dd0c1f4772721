/**
 * What the two HTTP tiers (SSE + POST, long poll) share: one abort signal for every request,
 * the update and awareness uploaders, the handshake hand-over, and one way to end — either
 * because the pipe failed (the provider hears `close`) or because the provider closed it (the
 * server hears that the session left).
 */
import { CloseCode } from '../../shared/close-codes.js'
import { AwarenessUploader, endSession, HttpCloseError, missingFor, Uploader } from './http.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents, type TransportName } from './types.js'

export class HttpTier {
  readonly abort = new AbortController()
  ended = false
  /** Local changes are posted only once live: everything before is in the handshake's upload. */
  private live = false
  readonly uploads: Uploader
  private readonly awarenessUploads: AwarenessUploader

  constructor (
    private readonly ctx: TransportContext,
    private readonly events: TransportEvents,
    /** Maps a tier-specific error to a close code, or null for the common handling. */
    private readonly closeCodeOf: (err: unknown) => number | null = () => null
  ) {
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
    if (err instanceof HttpCloseError) return this.end(err.code, err.message)
    const code = this.closeCodeOf(err)
    if (code != null) return this.end(code, (err as Error).message)
    this.end(ABNORMAL_CLOSURE, (err as Error)?.message ?? 'request failed')
  }

  /** After the handshake: send what the server lacks and our presence, then post live. */
  goLive (serverStateVector: Uint8Array): void {
    const missing = missingFor(this.ctx.doc, serverStateVector)
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
