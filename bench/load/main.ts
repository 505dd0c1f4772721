/**
 * The load generator process. The orchestrator (`bench/run.ts`) forks it once and drives it
 * over IPC: `{ id, cmd, args }` in, `{ id, result }` or `{ id, error }` out. It holds groups of
 * clients between commands so the orchestrator can read the server's /proc figures around each.
 */
import { Group, type GroupSpec } from './typing.js'
import { coldFetch, coldStore } from './coldload.js'
import { stormPrepare, stormReconnect } from './storm.js'
import { traceReplay } from './trace.js'
import { SseObservers, type SseSpec } from './sse.js'
import { PresenceGroup, type PresenceSpec } from './presence.js'
import { ProviderGroup, type ProviderSpec } from './providers.js'

const groups = new Map<string, Group>()
const observers = new Map<string, SseObservers>()
const presence = new Map<string, PresenceGroup>()
const providers = new Map<string, ProviderGroup>()

type Handler = (args: any) => Promise<unknown>

const handlers: Record<string, Handler> = {
  async connect (args: GroupSpec & { group: string, firstIndex?: number }) {
    const g = await Group.connect(args, args.firstIndex ?? 0)
    groups.set(args.group, g)
    return { clients: g.members.length, failures: g.failures, connectMs: g.connectMs }
  },
  async type (args: { group: string, intervalMs: number, durationMs: number }) {
    return await groups.get(args.group)!.type(args.intervalMs, args.durationMs)
  },
  async 'sse-connect' (args: SseSpec & { group: string }) {
    const o = await SseObservers.connect(args)
    observers.set(args.group, o)
    return { observers: o.count, failures: o.failures, connectMs: o.connectMs }
  },
  async 'sse-type' (args: { group: string, writer: string, intervalMs: number, durationMs: number }) {
    return await observers.get(args.group)!.measure(groups.get(args.writer)!, args.intervalMs, args.durationMs)
  },
  async 'presence-connect' (args: PresenceSpec & { group: string }) {
    const g = await PresenceGroup.connect(args)
    presence.set(args.group, g)
    return { clients: g.members.length, failures: g.failures, connectMs: g.connectMs }
  },
  async 'presence-run' (args: { group: string, hz: number, editIntervalMs: number, durationMs: number }) {
    return await presence.get(args.group)!.run(args.hz, args.editIntervalMs, args.durationMs)
  },
  async 'providers-connect' (args: ProviderSpec & { group: string }) {
    const g = await ProviderGroup.connect(args)
    providers.set(args.group, g)
    return { clients: g.members.length, failures: g.failures, connectMs: g.connectMs }
  },
  async 'providers-run' (args: { group: string, hz: number, durationMs: number }) {
    return await providers.get(args.group)!.run(args.hz, args.durationMs)
  },
  async 'close-all' () {
    for (const g of presence.values()) g.close()
    presence.clear()
    for (const g of providers.values()) g.close()
    providers.clear()
    for (const g of groups.values()) await g.close()
    for (const o of observers.values()) o.close()
    groups.clear()
    observers.clear()
    // Give the sockets a moment to close on both ends before the next phase is measured.
    await new Promise(resolve => setTimeout(resolve, 300))
    return {}
  },
  'cold-store': coldStore,
  'cold-fetch': coldFetch,
  'storm-prepare': stormPrepare,
  'storm-reconnect': stormReconnect,
  trace: traceReplay
}

process.on('message', (msg: { id: number, cmd: string, args: unknown }) => {
  const handler = handlers[msg.cmd]
  if (handler === undefined) { process.send!({ id: msg.id, error: `unknown command ${msg.cmd}` }); return }
  handler(msg.args).then(
    result => process.send!({ id: msg.id, result }),
    (err: Error) => process.send!({ id: msg.id, error: err.stack ?? String(err) })
  )
})
process.on('disconnect', () => process.exit(0))
