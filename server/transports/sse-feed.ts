/**
 * A feed: one doc's SSE stream in one view variant (plain, or `?view=json` / `?view=prosemirror`
 * with given type pins). Observers on the same feed get byte-identical events, so every event is encoded once
 * per feed — through the broadcast's `encoded()` memo for updates, and a per-`seq` cache for
 * snapshots (a crowd reconnecting at once costs one snapshot, not one each).
 *
 * JSON content is throttled per feed: an update carries `content` when none was sent in the
 * last `jsonIntervalMs`; otherwise it goes without, and a timer sends the current content once
 * the interval has passed, as an `update` event with an empty Yjs update (applying it is a
 * no-op, so Yjs mirrors need no special case). The view is therefore current at the end of
 * every burst, and JSON rendering costs at most one per interval however fast the doc changes.
 */
import { formatCursor } from '../../shared/cursor.js'
import type { UpdateBroadcast } from '../docs/broadcast.js'
import type { JsonView, RootKind } from '../docs/json-view.js'
import { renderView, type ViewKind } from '../docs/prosemirror.js'
import type { SharedDoc } from '../docs/shared-doc.js'
import { EMPTY_UPDATE, snapshotData, sseEvent, updateData } from './sse-events.js'

/** What a feed writes to: its observers. */
export interface FeedMember {
  write (bytes: Buffer): void
}

export class SseFeed {
  readonly members = new Set<FeedMember>()
  private lastContentAt = 0
  /** A throttled update went out without content; the trailing timer owes one. */
  private contentOwed = false
  private trailing: NodeJS.Timeout | null = null
  private snapshot: { seq: number, data: string } | null = null
  private content: { seq: number, bytes: Buffer } | null = null
  private readonly memoKey: string

  constructor (
    readonly doc: SharedDoc,
    /** Identifies the variant: '' (plain) or 'json' plus the pins. */
    readonly key: string,
    private readonly pinned: ReadonlyMap<string, RootKind> | null,
    private readonly jsonIntervalMs: number,
    /** How XML roots are rendered in `content` (docs/prosemirror.ts). */
    private readonly viewKind: ViewKind = 'json'
  ) {
    this.memoKey = `sse-update:${key}`
  }

  get json (): boolean { return this.pinned !== null }

  private view (): JsonView | null {
    return this.pinned === null ? null : renderView(this.doc.ydoc, this.pinned, this.viewKind)
  }

  /** The `update` event for a broadcast, built once per feed (the first observer builds it). */
  updateEvent (b: UpdateBroadcast): Buffer {
    return b.encoded(this.memoKey, () => {
      if (!this.json) return plainUpdate(b)
      const now = Date.now()
      if (now - this.lastContentAt >= this.jsonIntervalMs) {
        this.lastContentAt = now
        this.contentOwed = false
        return sseEvent('update', formatCursor(b.docName, b.seq), updateData(b.update, this.view()))
      }
      this.contentOwed = true
      this.scheduleTrailing(now)
      // Same bytes as the plain feed's: content-less updates are identical for everyone.
      return plainUpdate(b)
    })
  }

  private scheduleTrailing (now: number): void {
    if (this.trailing !== null) return
    this.trailing = setTimeout(() => {
      this.trailing = null
      if (!this.contentOwed || this.members.size === 0) return
      this.lastContentAt = Date.now()
      this.contentOwed = false
      const bytes = this.contentEvent()
      for (const m of this.members) m.write(bytes)
    }, Math.max(0, this.lastContentAt + this.jsonIntervalMs - now))
  }

  /**
   * The current content as an empty update whose id is the doc's newest seq: the doc holds
   * exactly the stored records up to `doc.seq`, so the id and the content agree.
   */
  contentEvent (): Buffer {
    // Cached per seq: a crowd of JSON clients resuming at once renders the view once.
    const seq = this.doc.seq
    if (this.content?.seq !== seq) this.content = { seq, bytes: sseEvent('update', formatCursor(this.doc.name, seq), updateData(EMPTY_UPDATE, this.view())) }
    return this.content.bytes
  }

  /** A stored record replayed to a resuming client (no content: `contentEvent()` follows). */
  updateEventForRecord (seq: number, update: Uint8Array): Buffer {
    return sseEvent('update', formatCursor(this.doc.name, seq), updateData(update, null))
  }

  /** `snapshot` or `reset` at the doc's current seq; the data is cached until the seq moves. */
  snapshotEvent (event: 'snapshot' | 'reset'): Buffer {
    const seq = this.doc.seq
    if (this.snapshot?.seq !== seq) this.snapshot = { seq, data: snapshotData(this.doc.ydoc, this.view()) }
    return sseEvent(event, formatCursor(this.doc.name, seq), this.snapshot.data)
  }

  /** Drops timers and caches once the last member left. */
  close (): void {
    if (this.trailing !== null) clearTimeout(this.trailing)
    this.trailing = null
    this.snapshot = null
    this.content = null
    this.members.clear()
  }
}

function plainUpdate (b: UpdateBroadcast): Buffer {
  return b.encoded('sse-update', () => sseEvent('update', formatCursor(b.docName, b.seq), updateData(b.update, null)))
}

/** The feed key for a view request: '' for plain, the view (`json`, `prosemirror`) plus sorted pins otherwise. */
export function feedKey (pinned: ReadonlyMap<string, RootKind> | null, view: ViewKind = 'json'): string {
  if (pinned === null) return ''
  return view + [...pinned].map(([n, k]) => `\u0000${n}\u0000${k}`).sort().join('')
}
