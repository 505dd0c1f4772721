/**
 * Cold load: a big real doc (the automerge-paper trace, 260k edits) is typed into the server
 * as a stream of updates (one per `chunk` txns, as an editor's provider would batch them), then
 * the orchestrator restarts the server and we time a fresh client's first full sync.
 */
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import type { Dialect } from '../lib/targets.js'
import { RawClient, settle } from './client.js'
import { Framing, SYNC, UPDATE } from './proto.js'
import { applyPatches, loadTrace, textAfter } from './traces.js'

interface StoreArgs { url: string, dialect: Dialect, doc: string, trace: string, edits: number, chunk: number }

const built = new Map<string, { updates: Uint8Array[], expected: string }>()

function build (trace: string, edits: number, chunk: number): { updates: Uint8Array[], expected: string } {
  const key = `${trace}:${edits}:${chunk}`
  let b = built.get(key)
  if (b !== undefined) return b
  const t = loadTrace(trace)
  const doc = new Y.Doc()
  doc.clientID = 42
  const text = doc.getText('t')
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => { updates.push(u) })
  const n = Math.min(edits, t.txns.length)
  for (let i = 0; i < n; i += chunk) {
    doc.transact(() => {
      for (let k = i; k < Math.min(n, i + chunk); k++) applyPatches(text, t.txns[k]!.patches)
    })
  }
  const expected = n === t.txns.length ? t.endContent : textAfter(t, n)
  if (text.toString() !== expected) throw new Error('trace replay into Y.Doc does not match the trace')
  built.set(key, b = { updates, expected })
  return b
}

/** A client that mirrors the server's doc from step2 and later updates (decoded: one client only). */
function mirror (url: string, framing: Framing, onChange: (text: string) => void): RawClient {
  const doc = new Y.Doc()
  const text = doc.getText('t')
  const apply = (data: Buffer, offset: number): void => {
    const d = decoding.createDecoder(data)
    d.pos = offset
    Y.applyUpdate(doc, decoding.readVarUint8Array(d))
    onChange(text.toString())
  }
  const o = framing.prefix.length
  return new RawClient({
    url,
    framing,
    localAddress: '127.0.0.1',
    onStep2: apply,
    onFrame: data => { if (data[o] === SYNC && data[o + 1] === UPDATE) apply(data, o + 2) }
  })
}

async function fullSync (url: string, framing: Framing, expected: string, timeoutMs: number): Promise<{ ms: number, firstStep2Ms: number, ok: boolean, length: number }> {
  const t0 = performance.now()
  let last = ''
  let done: () => void
  const finished = new Promise<void>(resolve => { done = resolve })
  let doneAt = 0
  const client = mirror(url, framing, text => {
    last = text
    if (text.length === expected.length && doneAt === 0) { doneAt = performance.now(); done() }
  })
  const timer = setTimeout(() => done(), timeoutMs)
  await finished
  clearTimeout(timer)
  client.close()
  return { ms: doneAt > 0 ? doneAt - t0 : NaN, firstStep2Ms: client.synced ? client.syncedAt - t0 : NaN, ok: last === expected, length: last.length }
}

export async function coldStore (args: StoreArgs): Promise<unknown> {
  const t0 = performance.now()
  const { updates, expected } = build(args.trace, args.edits, args.chunk)
  const buildMs = performance.now() - t0
  const framing = new Framing(args.dialect, args.doc)
  const url = `${args.url}/${encodeURIComponent(args.doc)}`
  const writer = new RawClient({ url, framing, localAddress: '127.0.0.1' })
  if (await settle([writer], 60_000) > 0) throw new Error(`writer did not sync in 60 s (error ${writer.error}, close code ${writer.closeCode})`)
  const t1 = performance.now()
  let bytes = 0
  for (const u of updates) { writer.send(framing.update(u)); bytes += u.byteLength }
  // The server has it all once a fresh client syncs to the full text.
  const check = await fullSync(url, framing, expected, 120_000)
  writer.close()
  if (writer.closeCode !== 0) throw new Error(`the server closed the writer with ${writer.closeCode}`)
  return { updates: updates.length, bytes, buildMs, storeMs: performance.now() - t1, stored: check.ok, expectedLength: expected.length }
}

export async function coldFetch (args: StoreArgs): Promise<unknown> {
  const { expected } = build(args.trace, args.edits, args.chunk)
  const framing = new Framing(args.dialect, args.doc)
  return await fullSync(`${args.url}/${encodeURIComponent(args.doc)}`, framing, expected, 120_000)
}
