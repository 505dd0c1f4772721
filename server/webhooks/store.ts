/**
 * What webhooks keep in storage (`Storage.meta`, beside the docs, with their durability): each
 * pending delivery from before its first attempt until a receiver accepted it or it was dropped,
 * and each doc's open debounce window, so a restart — a crash included — loses neither.
 *
 * Namespace `webhooks` (in a cluster `webhooks/<nodeId>`: each node resends its own after a
 * restart, which needs a stable node id). Keys:
 * - `d.<time>.<n>.<event id>.<i>` → a delivery (event id, URL, body): sorted by creation time,
 *   then by creation order in the process, so a restart sends them in the order they were made.
 * - `w.<hash of the doc name>` → an open window (doc, first record, time, first writer).
 */
import { createHash } from 'node:crypto'
import type { MetaStore } from '../storage/types.js'

export interface StoredDelivery {
  /** The event's id (`Weft-Delivery`). */
  id: string
  event: string
  url: string
  /** The exact bytes sent (and signed), as text. */
  body: string
  /** When the event was made (ms): `maxAgeMs` counts from it, across restarts. */
  at: number
}

export interface OpenWindow { doc: string, fromSeq: number, at: number, user?: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const encode = (v: unknown): Uint8Array => encoder.encode(JSON.stringify(v))

/** Creation order within one millisecond (and one process). */
let made = 0

export class WebhookStore {
  constructor (private readonly meta: MetaStore, readonly namespace: string) {}

  /** A new key for a delivery of event `id` to the `i`th URL. */
  deliveryKey (at: number, id: string, i: number): string {
    made = (made + 1) % 36 ** 6
    return `d.${at.toString(36).padStart(9, '0')}.${made.toString(36).padStart(6, '0')}.${id}.${i}`
  }

  async putDelivery (key: string, d: StoredDelivery): Promise<void> { await this.meta.put(this.namespace, key, encode(d)) }
  async putWindow (w: OpenWindow): Promise<void> { await this.meta.put(this.namespace, windowKey(w.doc), encode(w)) }
  async removeWindow (doc: string): Promise<void> { await this.meta.remove(this.namespace, windowKey(doc)) }
  async remove (key: string): Promise<void> { await this.meta.remove(this.namespace, key) }

  /** A stored delivery's body, or undefined when it is gone (or does not parse). */
  async body (key: string): Promise<string | undefined> {
    const value = await this.meta.get(this.namespace, key)
    if (value === undefined) return undefined
    try {
      const body = (JSON.parse(decoder.decode(value)) as Partial<StoredDelivery>).body
      return typeof body === 'string' ? body : undefined
    } catch {
      return undefined
    }
  }

  /** Everything kept, oldest delivery first; entries that do not parse are reported, not thrown. */
  async load (): Promise<{ deliveries: Array<{ key: string, d: StoredDelivery }>, windows: OpenWindow[], broken: string[] }> {
    const out = { deliveries: [] as Array<{ key: string, d: StoredDelivery }>, windows: [] as OpenWindow[], broken: [] as string[] }
    for (const { key, value } of await this.meta.list(this.namespace)) {
      let v: Record<string, unknown>
      try {
        v = JSON.parse(decoder.decode(value)) as Record<string, unknown>
      } catch {
        out.broken.push(key)
        continue
      }
      if (key.startsWith('d.') && typeof v.id === 'string' && typeof v.url === 'string' && typeof v.body === 'string' && typeof v.event === 'string' && typeof v.at === 'number') {
        out.deliveries.push({ key, d: v as unknown as StoredDelivery })
      } else if (key.startsWith('w.') && typeof v.doc === 'string' && typeof v.fromSeq === 'number' && typeof v.at === 'number') {
        out.windows.push(v as unknown as OpenWindow)
      } else {
        out.broken.push(key)
      }
    }
    return out
  }
}

/** Doc names can be longer than a meta key may be; a hash never is. */
const windowKey = (doc: string): string => `w.${createHash('sha256').update(doc).digest('hex').slice(0, 40)}`
