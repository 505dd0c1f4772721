/**
 * A TCP proxy the test controls, between a client and a service (PostgreSQL): `cut()` drops
 * every connection and refuses new ones, as a network partition would; `restore()` lets them
 * through again. The service itself is never touched (it is the machine's shared one).
 */
import { createServer, connect, type Socket } from 'node:net'

export interface TcpProxy {
  port: number
  cut (): void
  restore (): void
  close (): Promise<void>
}

export async function startTcpProxy (targetHost: string, targetPort: number): Promise<TcpProxy> {
  let open = true
  const live = new Set<Socket>()
  const server = createServer(client => {
    if (!open) { client.destroy(); return }
    const upstream = connect(targetPort, targetHost)
    live.add(client)
    live.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); live.delete(client); live.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const cut = (): void => {
    open = false
    for (const s of live) s.destroy()
    live.clear()
  }
  return {
    port: (server.address() as { port: number }).port,
    cut,
    restore () { open = true },
    async close () {
      cut()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
