/**
 * The transport delivery suite: every pipe that carries a doc to its editors (WebSocket,
 * SSE + POST, long poll) runs exactly these cases, as every storage backend runs
 * storage-suite.ts. Call `deliverySuite(pipe)` from a test file (test/transports/delivery.test.ts);
 * `pipe` says how to reach the server on that pipe below any client library (`raw`, to see what
 * the wire carries) and what its server-side counters are. The editors are the project's own
 * client, `WeftProvider`, forced onto the pipe; a real server on port 0 over LevelDB in a temp
 * dir; no mocks. Every wait is bounded.
 *
 * A case that does not apply to a pipe is registered skipped with the reason in its title
 * (`notApplicable`); one that fails today because of a server bug is registered with `it.fails`
 * and the bug in its title (`knownBugs`): it starts failing (and must be unmarked) once fixed.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { cleanupAfterEach, startServer, tempDir, type TestServer } from './server.js'
import { stockClient, synced as stockSynced } from './providers.js'
import { hsToken, SECRET } from './tokens.js'
import { rng } from './random.js'
import { sleep, waitFor } from './wait.js'
import { leveldbStorage } from '../../server/storage/leveldb.js'
import type { WeftOptions } from '../../server/options.js'
import { WeftProvider, type TransportName, type WeftProviderOptions } from '../../client/index.js'
import { encodeAwarenessEntries } from '../../shared/awareness.js'
import { formatCursor, parseCursor } from '../../shared/cursor.js'

/** One client's view of a pipe, decoded from the wire: no client library in between. */
export interface RawSession {
  /** Everything this session received or sent, applied in order. */
  readonly mirror: Y.Doc
  /** Update payloads received (full states excluded), in arrival order. */
  readonly updates: Uint8Array[]
  /** Full states received: an SSE snapshot/reset, a poll reset, a WebSocket step2 to an empty state vector. */
  fullStates: number
  /** Structs received that the mirror already had (a duplicate delivery). */
  duplicates: number
  /** Ids of the records received (SSE event ids, poll answer cursors; none over WebSocket). */
  readonly ids: string[]
  /** Where a new session resumes from (SSE Last-Event-ID, poll cursor; WebSocket: the mirror's state vector). */
  position (): string
  /** Resolves once the session has joined (its first answer, or its stream, is in). */
  joined: Promise<void>
  /** Sends an update as this session; resolves when the server took it (HTTP 204; WebSocket: sent). */
  send (update: Uint8Array): Promise<void>
  /** Sends an awareness update as this session: the HTTP status, or 0 over WebSocket (no answer there). */
  sendAwareness (update: Uint8Array): Promise<number>
  /** How the server ended the pipe: WebSocket close code, HTTP status of the last answer, stream ended. */
  readonly end: { ended: boolean, closeCode?: number, status?: number, clean?: boolean }
  close (): void
}

export interface RawOptions {
  token?: string
  /** Join as an editor (an HTTP session id; a WebSocket connection always is one). */
  editor?: boolean
  /** Continue where that session left off (same HTTP session id, its position and mirror). */
  resume?: RawSession & { sessionId?: string }
}

export type CaseId = 'converge' | 'no-echo' | 'no-echo-on-rejoin' | 'read-only' | 'awareness' | 'resume' | 'slot' | 'slot-late-goodbye' | 'shutdown'

export interface DeliveryPipe {
  name: TransportName
  raw (server: TestServer, doc: string, opts?: RawOptions): Promise<RawSession & { sessionId?: string }>
  /** The HTTP status a fresh connection attempt on this pipe gets right now (101/200 when admitted). */
  tryOpen (server: TestServer, doc: string): Promise<number>
  /** Server options allowing one client of this pipe per address. */
  onePerIp: WeftOptions
  /** This pipe's server-side slots in use (connections, streams, held polls, HTTP sessions), by name. */
  inUse (server: TestServer): Promise<Record<string, number>>
  /** Asserts the pipe-level answer a raw session got at shutdown. */
  expectShutdownAnswer (end: RawSession['end']): void
  /** The `connection-close` code a WeftProvider on this pipe reports at shutdown. */
  shutdownCloseCode: number
  /** True when each received update is one stored record (SSE: one event per record). */
  perRecord: boolean
  notApplicable?: Partial<Record<CaseId, string>>
  knownBugs?: Partial<Record<CaseId, string>>
}

/** Applies a received payload to `s.mirror`, counting structs it already had (duplicates). */
export function absorb (s: RawSession, update: Uint8Array, kind: 'full' | 'update', id?: string): void {
  if (kind === 'full') {
    s.fullStates++
  } else {
    const sv = Y.decodeStateVector(Y.encodeStateVector(s.mirror))
    for (const st of Y.decodeUpdate(update).structs) {
      if (!(st instanceof Y.Skip) && st.id.clock < (sv.get(st.id.client) ?? 0)) s.duplicates++
    }
    s.updates.push(update)
    if (id !== undefined) s.ids.push(id)
  }
  Y.applyUpdate(s.mirror, update, 'remote')
}

/** A fresh mirror, or a copy of the one a resumed session had. */
export function mirrorOf (resume?: RawSession): Y.Doc {
  const doc = new Y.Doc()
  if (resume !== undefined) Y.applyUpdate(doc, Y.encodeStateAsUpdate(resume.mirror))
  return doc
}

const clientsOf = (update: Uint8Array): number[] => Y.decodeUpdate(update).structs.filter(s => !(s instanceof Y.Skip)).map(s => s.id.client)

/** A one-insert update from a fresh Y.Doc (its own client id). */
function textUpdate (text: string): { update: Uint8Array, client: number } {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return { update: Y.encodeStateAsUpdate(d), client: d.clientID }
}

/** One awareness entry (y-protocols encoding); `null` state: the client left. */
const awarenessEntry = (clientID: number, clock: number, state: unknown): Uint8Array => encodeAwarenessEntries([{ clientID, clock, json: JSON.stringify(state) }])

/** The server's state over HTTP (the binary snapshot), as a Y.Doc. */
async function snapshot (s: TestServer, doc: string, token?: string): Promise<Y.Doc> {
  const res = await fetch(`${s.url}/docs/${doc}${token === undefined ? '' : `?token=${token}`}`, { headers: { accept: 'application/octet-stream' } })
  expect(res.status).toBe(200)
  const d = new Y.Doc()
  Y.applyUpdate(d, new Uint8Array(await res.arrayBuffer()))
  return d
}
const serverText = async (s: TestServer, doc: string, token?: string): Promise<string> => (await snapshot(s, doc, token)).getText('text').toString()
/** The in-process doc (for tight loops; the cases compare with `snapshot` at the end). */
const liveText = (s: TestServer, doc: string): string => s.weft.context.registry.get(doc)?.ydoc.getText('text').toString() ?? ''

export function deliverySuite (pipe: DeliveryPipe): void {
  describe(`delivery over ${pipe.name}`, () => {
    const cleanups = cleanupAfterEach()
    const server = async (opts: WeftOptions = {}): Promise<TestServer> => {
      const dir = tempDir('weft-delivery-')
      const s = await startServer({ storage: leveldbStorage(dir.path), ...opts })
      cleanups.push(dir.remove, () => s.close())
      return s
    }
    const editor = (s: TestServer, doc: string, opts: WeftProviderOptions = {}): { doc: Y.Doc, text: Y.Text, provider: WeftProvider } => {
      const ydoc = new Y.Doc()
      const provider = new WeftProvider(s.url, doc, ydoc, {
        transports: [pipe.name],
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        maxBackoffTime: 300,
        openTimeoutMs: 3000,
        pollTimeoutS: 5,
        ...opts
      })
      cleanups.push(() => provider.destroy())
      return { doc: ydoc, text: ydoc.getText('text'), provider }
    }
    const synced = async (...eds: Array<{ provider: WeftProvider }>): Promise<void> => {
      await waitFor(() => eds.every(e => e.provider.synced && e.provider.transport === pipe.name), `editors to sync over ${pipe.name}`, 5000)
    }
    const raw = async (s: TestServer, doc: string, opts?: RawOptions): Promise<RawSession & { sessionId?: string }> => {
      const r = await pipe.raw(s, doc, opts)
      cleanups.push(() => r.close())
      await r.joined
      return r
    }
    const register = (id: CaseId, title: string, fn: () => Promise<void>): void => {
      const na = pipe.notApplicable?.[id]
      const bug = pipe.knownBugs?.[id]
      if (na !== undefined) it.skip(`${title} [not applicable over ${pipe.name}: ${na}]`, fn)
      else if (bug !== undefined) it.fails(`${title} [KNOWN BUG over ${pipe.name}: ${bug}]`, fn)
      else it(title, fn)
    }

    // The write path and the fan-out end to end: every update submitted on any pipe is stored
    // once and broadcast to every other peer; a lost or misapplied one leaves the texts apart.
    register('converge', 'two editors on the pipe and a stock WebSocket editor typing at once end identical to the server', async () => {
      const s = await server()
      const a = editor(s, 'conv')
      const b = editor(s, 'conv')
      const stock = stockClient(s.wsUrl, 'conv')
      cleanups.push(() => stock.destroy())
      await synced(a, b)
      await stockSynced(stock)
      const r = rng(Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31)))
      const type = async (text: Y.Text, ch: string): Promise<void> => {
        for (let i = 0; i < 50; i++) {
          text.insert(r.int(text.length + 1), ch)
          if (r.int(4) === 0) await sleep(r.int(4))
        }
      }
      await Promise.all([type(a.text, 'a'), type(b.text, 'b'), type(stock.text, 's')])
      const texts = (): string[] => [a.text.toString(), b.text.toString(), stock.text.toString(), liveText(s, 'conv')]
      await waitFor(() => texts().every(t => t.length === 150 && t === texts()[0]), `all to converge (seed ${r.seed})`, 4000)
      const onServer = await serverText(s, 'conv')
      expect(texts(), `seed ${r.seed}`).toEqual([onServer, onServer, onServer, onServer])
      for (const ch of 'abs') expect(onServer.split(ch).length - 1).toBe(50)
    })

    // Exercises the origin check of each pipe: a WebSocket Session is never delivered the
    // broadcast whose origin it is (shared-doc.ts `peer !== origin`); an SSE editor stream skips
    // broadcasts from its HTTP session (sse.ts `b.origin === this.editor`); a held poll is not woken
    // by its own session's writes and leaves them out of its answer (long-poll.ts `session.own`).
    // Break any of them and A's own client id shows up in what A received.
    register('no-echo', 'a session never receives its own update back, while it does receive the other\'s', async () => {
      const s = await server()
      const a = await raw(s, 'echo', { editor: true })
      const b = await raw(s, 'echo', { editor: true })
      const mine = textUpdate('mine ')
      await a.send(mine.update)
      await waitFor(() => b.updates.some(u => clientsOf(u).includes(mine.client)), 'B to receive A\'s update', 3000)
      const theirs = textUpdate('theirs ')
      await b.send(theirs.update)
      await waitFor(() => a.updates.some(u => clientsOf(u).includes(theirs.client)), 'A to receive B\'s update', 3000)
      await sleep(300)
      expect(a.updates.flatMap(clientsOf)).not.toContain(mine.client)
      expect(b.updates.flatMap(clientsOf)).not.toContain(theirs.client)
      expect(a.mirror.getText('text').toString()).toBe(liveText(s, 'echo'))
    })

    // An HTTP session that posts while its stream or poll is not open, then joins again from
    // its earlier cursor (EventSource does this on every reconnect): the records after that
    // cursor are replayed to it, and its own must be left out as on the live path.
    register('no-echo-on-rejoin', 'a session rejoining from an earlier cursor is not replayed its own update', async () => {
      const s = await server()
      const a = await raw(s, 'rejoin', { editor: true })
      a.close()
      const mine = textUpdate('posted while away ')
      await a.send(mine.update)
      const again = await raw(s, 'rejoin', { editor: true, resume: a })
      const other = await raw(s, 'rejoin', { editor: true })
      const theirs = textUpdate('theirs ')
      await other.send(theirs.update)
      await waitFor(() => again.updates.some(u => clientsOf(u).includes(theirs.client)), 'the rejoined session to receive the other\'s update', 3000)
      await sleep(200)
      expect(again.fullStates).toBe(0)
      expect(again.updates.flatMap(clientsOf)).not.toContain(mine.client)
    })

    // The access check on the up direction: a read-only WebSocket Session never submits
    // (session.ts `write`: told once with permission-denied), POST /updates answers 403
    // (`requireWrite`). Without it "READ-ONLY " would be in the snapshot next to "writer ".
    register('read-only', 'a read token\'s edit is never applied, while a writer\'s edit made at the same time arrives', async () => {
      const s = await server({ auth: { secret: SECRET } })
      const write = await hsToken({ docs: 'ro', access: 'write' })
      const read = await hsToken({ docs: 'ro', access: 'read' })
      const w = editor(s, 'ro', { params: { token: write } })
      const rd = editor(s, 'ro', { params: { token: read } })
      await synced(w, rd)
      let denied = 0
      rd.provider.on('permission-denied', () => { denied++ })
      rd.text.insert(0, 'READ-ONLY ')
      w.text.insert(0, 'writer ')
      await waitFor(() => liveText(s, 'ro') === 'writer ' && rd.text.toString().includes('writer '), 'the writer\'s edit to reach the server and the reader', 3000)
      await sleep(500)
      expect(await serverText(s, 'ro', read)).toBe('writer ')
      expect(w.text.toString()).toBe('writer ')
      expect(denied).toBeGreaterThan(0)
      expect(rd.provider.synced).toBe(true) // refused writes, still reading
    })

    // Awareness ids are pinned to the session that introduced them (docs/client-ids.ts via
    // `applyAwareness(entries, peer)`): the spoof below carries a clock far above the owner's,
    // so without that pin it would win and the watcher would see "mallory".
    register('awareness', 'a session cannot set or remove another\'s awareness; a leaving editor\'s state goes at once', async () => {
      const s = await server({ httpSessionIdleMs: 30_000 })
      const owner = editor(s, 'aw')
      const watcher = editor(s, 'aw')
      await synced(owner, watcher)
      const id = owner.doc.clientID
      owner.provider.awareness.setLocalStateField('user', 'alice')
      const seen = (cid: number): unknown => (watcher.provider.awareness.getStates().get(cid) as { user?: unknown } | undefined)?.user
      await waitFor(() => seen(id) === 'alice', 'the watcher to see alice', 3000)
      const thief = await raw(s, 'aw', { editor: true })
      const clock = (s.weft.context.registry.get('aw')!.awareness.meta.get(id)?.clock ?? 0) + 100
      const statuses = [await thief.sendAwareness(awarenessEntry(id, clock, { user: 'mallory' })), await thief.sendAwareness(awarenessEntry(id, clock + 1, null))]
      // The thief's own id, sent after the spoofs on the same pipe: once it is seen, they were handled.
      await thief.sendAwareness(awarenessEntry(424242, 1, { user: 'thief' }))
      await waitFor(() => seen(424242) === 'thief', 'the thief\'s own state to arrive', 3000)
      await sleep(100)
      expect(statuses).toEqual(pipe.name === 'websocket' ? [0, 0] : [409, 409]) // WebSocket has no answer: refused silently
      expect(seen(id)).toBe('alice')
      expect((s.weft.context.registry.get('aw')!.awareness.getStates().get(id) as { user?: unknown } | undefined)?.user).toBe('alice')
      // Leaving: destroy() closes the socket, or sends DELETE /docs/:doc/session over HTTP. The
      // idle timeout is 30 s here, so only that goodbye can meet the bound.
      owner.provider.destroy()
      await waitFor(() => !watcher.provider.awareness.getStates().has(id), 'alice\'s state to be removed when she leaves', 3000)
    })

    // The retained window (docs/history.ts `since`): SSE writes the records after Last-Event-ID
    // (sse.ts `firstEvents`), a poll merges them (long-poll.ts `answer`), a WebSocket step2 is
    // the diff against the sent state vector (`encodeDiff`). A record skipped shows as a gap
    // (text / state vector differ); one sent twice, or a snapshot instead, as a duplicate / full state.
    register('resume', 'a session that was away resumes with exactly the missed records: no gap, no duplicate', async () => {
      const s = await server()
      const w = editor(s, 'res')
      const away = editor(s, 'res')
      await synced(w, away)
      let n = 0
      const edit = async (): Promise<void> => {
        const mark = `e${n++};`
        w.text.insert(w.text.length, mark)
        await waitFor(() => liveText(s, 'res').endsWith(mark), `edit ${mark} to be stored`, 3000)
      }
      for (let i = 0; i < 3; i++) await edit()
      const first = await raw(s, 'res')
      await waitFor(() => first.mirror.getText('text').toString() === liveText(s, 'res'), 'the observer to catch up', 3000)
      first.close()
      away.provider.disconnect()
      const shared = s.weft.context.registry.get('res')!
      // Where the observer left off: its cursor (SSE, poll), or the doc's seq it had caught up to (WebSocket).
      const from = parseCursor('res', first.position()) ?? shared.seq
      for (let i = 0; i < 5; i++) await edit()
      const missed = shared.history.since(from, shared.seq)!.map(r => formatCursor('res', r.seq))
      const resumed = await raw(s, 'res', { resume: first })
      away.provider.connect()
      const want = await serverText(s, 'res')
      await waitFor(() => resumed.mirror.getText('text').toString() === want, 'the resumed observer to have everything', 3000)
      await waitFor(() => away.text.toString() === want, 'the reconnected provider to have everything', 3000)
      await sleep(100)
      expect(resumed.fullStates).toBe(0) // resumed, not reset
      expect(resumed.duplicates).toBe(0)
      expect(resumed.mirror.store.pendingStructs).toBeNull()
      expect(Y.encodeStateVector(resumed.mirror)).toEqual(Y.encodeStateVector(await snapshot(s, 'res')))
      if (pipe.perRecord) expect(resumed.ids).toEqual(missed)
      if (resumed.ids.length > 0) expect(resumed.ids.at(-1)).toBe(formatCursor('res', shared.seq))
    })

    /** Waits until nothing of `doc` is held on the server: registry holders, limit slots, the pipe's gauges. */
    const released = async (s: TestServer, doc: string): Promise<void> => {
      let last: Record<string, number> = {}
      const used = async (): Promise<boolean> => {
        const { connections, observers, httpSessionIps } = s.weft.context.limits.stats()
        last = { holders: s.weft.context.registry.holders(doc), connections, observers, httpSessionIps, ...await pipe.inUse(s) }
        return Object.values(last).every(v => v === 0)
      }
      await waitFor(used, 'every slot of the closed client to be released', 3000, 50)
        .catch(err => { throw new Error(`${(err as Error).message}; still in use: ${JSON.stringify(last)}`) })
    }

    // Every slot is given back by a release run when the peer goes: the WebSocket socket's
    // 'close', the SSE response's 'close', a poll's `finish`, and DELETE /session ending the
    // HTTP session (its doc holder and its address's session slot). One missed and the second
    // client stays refused (429), or the counters stay above zero.
    register('slot', 'a client\'s slot is freed when it closes: at one per address, the next client gets in', async () => {
      const s = await server({ ...pipe.onePerIp, httpSessionIdleMs: 30_000 })
      const a = editor(s, 'slot')
      await synced(a)
      // The limit is in force: while A is there, a second attempt is refused.
      await waitFor(async () => await pipe.tryOpen(s, 'slot') === 429, 'a second client to be refused while the first holds the slot', 3000, 50)
      // Presence cleared (and its POST answered) first, so destroy() sends no goodbye of its own:
      // over HTTP that goodbye races the DELETE /session and may re-create the session (the
      // 'slot-late-goodbye' case pins that down deterministically).
      a.provider.awareness.setLocalState(null)
      await sleep(200)
      a.provider.destroy()
      await released(s, 'slot')
      // And the slot is usable: a new client (a new HTTP session too) gets in at once.
      const b = editor(s, 'slot')
      await synced(b)
    })

    // WeftProvider.destroy() posts a presence goodbye (a removal) and DELETE /session at once, on
    // separate requests: they may arrive in either order. Here the goodbye arrives second.
    register('slot-late-goodbye', 'a session ended by DELETE /session stays ended when its goodbye arrives after it', async () => {
      const s = await server({ httpSessionIdleMs: 30_000 })
      const a = await raw(s, 'late', { editor: true })
      expect(await a.sendAwareness(awarenessEntry(515151, 1, { user: 'a' }))).toBe(204)
      a.close()
      const bye = await fetch(`${s.url}/docs/late/session`, { method: 'DELETE', headers: { 'x-weft-session': a.sessionId! } })
      expect(bye.status).toBe(204)
      expect(await a.sendAwareness(awarenessEntry(515151, 2, null))).toBe(204)
      await released(s, 'late')
    })

    // Weft.close(): the WebSocket transport closes every socket with 1012, the SSE transport
    // ends every stream (a client that stops reading is cut after 1 s), PollHubs.close answers
    // every held poll 503. A pipe left out would leave its raw client unanswered past the bound.
    register('shutdown', 'close() resolves within 3 s and clients on the pipe get its documented answer', async () => {
      const s = await server()
      const p = editor(s, 'sd')
      await synced(p)
      const closed = new Promise<number>(resolve => p.provider.once('connection-close', e => resolve(e.code)))
      const r = await raw(s, 'sd', { editor: true })
      await waitFor(async () => Object.values(await pipe.inUse(s)).every(v => v >= 2), 'both clients to be parked on the pipe', 3000, 50)
      const t0 = Date.now()
      await s.close()
      expect(Date.now() - t0).toBeLessThan(3000)
      await waitFor(() => r.end.ended, 'the raw client to be answered', 3000)
      pipe.expectShutdownAnswer(r.end)
      expect(await Promise.race([closed, sleep(3000).then(() => -1)])).toBe(pipe.shutdownCloseCode)
    })
  })
}
