/**
 * How a receiver knows a request came from this server: `Weft-Signature: t=<unix s>,v1=<hex>`,
 * an HMAC-SHA256 with the shared secret over `<t>.<body>` (the scheme Stripe uses). The
 * timestamp is inside the MAC, so a receiver that refuses old timestamps (5 minutes, say) cannot
 * be fed a recorded request again later; it dedupes retries of one delivery by `Weft-Delivery`.
 * The README's receiver snippet verifies it (test/helpers/webhook-receiver.ts runs that snippet).
 */
import { createHmac } from 'node:crypto'

export const SIGNATURE_HEADER = 'Weft-Signature'

/** The `Weft-Signature` value for `body` sent at `nowMs`. */
export function signatureHeader (secret: string, body: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000)
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
  return `t=${t},v1=${v1}`
}
