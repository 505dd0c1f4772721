/**
 * `npm run bench -- --webhook`: the Weft targets run with webhooks on (WEFT_WEBHOOK, signed),
 * delivering to this receiver in the runner's process, which answers 204 and counts. Its CPU is
 * the runner's, not the measured server's. The windows are the CLI's defaults unless the
 * environment sets WEFT_WEBHOOK_QUIET_MS / WEFT_WEBHOOK_MAX_DELAY_MS.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface WebhookSink { url: string, received: () => number, close: () => Promise<void> }

export async function startWebhookSink (): Promise<WebhookSink> {
  let received = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => { received++; res.writeHead(204).end() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench-hook`,
    received: () => received,
    close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => server.close(() => resolve())) }
  }
}
