/**
 * SSE observers over raw `node:http` GETs. Each event's `"update":"<base64>"` is decoded with
 * Buffer and scanned for the writer's latency markers; nothing else is parsed.
 */
import { request, type ClientRequest } from 'node:http'
import { summarize } from '../lib/stats.js'
import { sourceAddress } from './client.js'
import { scanMarkers } from './markers.js'
import type { Group } from './typing.js'

export interface SseSpec { url: string, doc: string, count: number, timeoutMs?: number }

const FIELD = '"update":"'

export class SseObservers {
  private reqs: ClientRequest[] = []
  count = 0
  failures = 0
  connectMs = 0
  private writer: Group | null = null
  private latencies: number[] = []
  private delivered = 0

  static async connect (spec: SseSpec): Promise<SseObservers> {
    const o = new SseObservers()
    const t0 = performance.now()
    const url = `${spec.url}/docs/${encodeURIComponent(spec.doc)}/events`
    const opened = await Promise.allSettled(Array.from({ length: spec.count }, async (_, i) => await o.open(url, i)))
    o.count = opened.filter(r => r.status === 'fulfilled').length
    o.failures = spec.count - o.count
    o.connectMs = performance.now() - t0
    return o
  }

  private async open (url: string, i: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { agent: false, localAddress: sourceAddress(i), headers: { accept: 'text/event-stream' } }, res => {
        if (res.statusCode !== 200) { reject(new Error(`HTTP ${res.statusCode}`)); res.resume(); return }
        let pending = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          // The stream answered: the observer is in.
          resolve()
          pending += chunk
          let end = pending.indexOf('\n\n')
          while (end !== -1) {
            this.onEvent(pending.slice(0, end))
            pending = pending.slice(end + 2)
            end = pending.indexOf('\n\n')
          }
        })
        res.on('error', () => {})
      })
      req.on('error', reject)
      req.setTimeout(60_000, () => req.destroy(new Error('timeout')))
      req.end()
      this.reqs.push(req)
    })
  }

  private onEvent (event: string): void {
    const writer = this.writer
    if (writer === null) return
    const i = event.indexOf(FIELD)
    if (i === -1) return
    const start = i + FIELD.length
    const bytes = Buffer.from(event.slice(start, event.indexOf('"', start)), 'base64')
    const now = performance.now()
    scanMarkers(bytes, id => {
      const sent = writer.sendTimes.get(id)
      if (sent === undefined) return
      this.delivered++
      this.latencies.push(now - sent)
    })
  }

  async measure (writer: Group, intervalMs: number, durationMs: number): Promise<unknown> {
    this.writer = writer
    this.latencies = []
    this.delivered = 0
    const typed = await writer.type(intervalMs, durationMs)
    const expected = typed.sent * this.count
    const until = performance.now() + 5000
    while (this.delivered < expected && performance.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
    return { sent: typed.sent, observers: this.count, expected, delivered: this.delivered, latency: summarize(this.latencies), loadgenCpuMs: typed.loadgenCpuMs }
  }

  close (): void {
    for (const r of this.reqs) r.destroy()
    this.reqs = []
  }
}
