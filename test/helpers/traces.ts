/** Loads the real editing traces vendored in test/fixtures/editing-traces (see its README). */
import { readFileSync, existsSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'

export interface SequentialTrace {
  startContent: string
  endContent: string
  txns: Array<{ patches: Array<[number, number, string]> }>
}

export const tracesDir = fileURLToPath(new URL('../fixtures/editing-traces/', import.meta.url))

export function loadTrace (name: string): SequentialTrace {
  const path = `${tracesDir}${name}.json.gz`
  if (!existsSync(path)) throw new Error(`editing trace not found at ${path}`)
  return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as SequentialTrace
}
