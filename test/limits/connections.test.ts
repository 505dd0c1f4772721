/**
 * Connection limits' slots (server/limits/connections.ts): each admitted peer's slot is freed
 * by its first `release()`; a second call, even after the slot was taken again by someone
 * else, frees nothing. And `forgetPeerAddress` drops the peer-address cache `clientIp` made.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { bothSlots, clientIp, ConnectionLimits, forgetPeerAddress, LimitError } from '../../server/limits/connections.js'
import { Metrics } from '../../server/metrics.js'

const one = { maxConnections: 1, maxConnectionsPerIp: 1, maxConnectionsPerDoc: 1, maxObserversPerIp: 1, maxHttpSessionsPerIp: 1, maxEmptyDocsPerIp: 1 }

describe('connection limit slots', () => {
  it('a connection slot is freed once; a stale second release frees nobody else', () => {
    const limits = new ConnectionLimits(one, new Metrics())
    const first = limits.admitConnection('10.0.0.1', 'doc')
    expect(() => limits.admitConnection('10.0.0.1', 'doc')).toThrow(LimitError)
    first.release()
    expect(limits.stats()).toMatchObject({ connections: 0, ips: 0, docs: 0 })
    const second = limits.admitConnection('10.0.0.1', 'doc')
    first.release()
    expect(limits.stats()).toMatchObject({ connections: 1, ips: 1, docs: 1 })
    expect(() => limits.admitConnection('10.0.0.2', 'other')).toThrow(LimitError)
    second.release()
    second.release()
    expect(limits.stats()).toMatchObject({ connections: 0, ips: 0, docs: 0 })
  })

  it('observer, HTTP session and empty-doc slots: the same', () => {
    const limits = new ConnectionLimits(one, new Metrics())
    const ip = '10.0.0.1'
    const slots = [limits.admitObserver(ip), limits.admitHttpSession(ip), limits.admitEmptyDoc(ip, 'blank')]
    expect(() => limits.admitObserver(ip)).toThrow(LimitError)
    expect(() => limits.admitHttpSession(ip)).toThrow(LimitError)
    expect(() => limits.admitEmptyDoc(ip, 'blank2')).toThrow(LimitError)
    for (const s of slots) { s.release(); s.release() }
    expect(limits.stats()).toMatchObject({ observers: 0, observerIps: 0, httpSessionIps: 0, emptyDocIps: 0 })
    const again = [limits.admitObserver(ip), limits.admitHttpSession(ip), limits.admitEmptyDoc(ip, 'blank2')]
    for (const s of slots) s.release()
    expect(limits.stats()).toMatchObject({ observers: 1, observerIps: 1, httpSessionIps: 1, emptyDocIps: 1 })
    for (const s of again) s.release()
    expect(limits.stats()).toMatchObject({ observers: 0, observerIps: 0, httpSessionIps: 0, emptyDocIps: 0 })
  })

  it('two slots released as one, each once', () => {
    const limits = new ConnectionLimits({ ...one, maxEmptyDocsPerIp: 2 }, new Metrics())
    const both = bothSlots(limits.admitConnection('10.0.0.1', 'd'), limits.admitEmptyDoc('10.0.0.1', 'd'))
    both.release()
    const next = limits.admitEmptyDoc('10.0.0.1', 'd')
    both.release()
    expect(limits.stats()).toMatchObject({ connections: 0, emptyDocIps: 1 })
    next.release()
    expect(limits.stats().emptyDocIps).toBe(0)
  })
})

describe('forgetPeerAddress', () => {
  let server: Server | null = null
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    await new Promise(resolve => server?.close(resolve) ?? resolve(undefined))
    server = null
  })

  it('drops the cache clientIp left on the socket; asked again, the same address', async () => {
    const accepted = new Promise<Socket>(resolve => { server = createServer(resolve).listen(0, '127.0.0.1') })
    await new Promise(resolve => server!.once('listening', resolve))
    const port = (server!.address() as { port: number }).port
    sockets.push(connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' }))
    const socket = await accepted
    sockets.push(socket)
    const peername = (): unknown => (socket as unknown as { _peername?: unknown })._peername
    forgetPeerAddress(socket)
    expect(Object.keys(socket)).not.toContain('_peername') // nothing added where nothing was cached
    expect(clientIp({ socket } as IncomingMessage)).toBe('127.0.0.3')
    expect(peername()).toBeDefined()
    forgetPeerAddress(socket)
    expect(peername()).toBeUndefined()
    expect(clientIp({ socket } as IncomingMessage)).toBe('127.0.0.3')
  })
})
