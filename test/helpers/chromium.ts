/**
 * Headless Chromium for browser tests (Debian's `chromium` driven by playwright-core).
 * Without the binary the suite is skipped loudly on a laptop, and fails under CI=true.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** True when browser tests can run; warns (or throws under CI) when they cannot. */
export function chromiumAvailable (suite: string): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error(`${suite}: ${CHROMIUM} is missing and CI is set: browser tests must run in CI`)
  }
  console.warn(`\n*** ${suite}: SKIPPED — ${CHROMIUM} not found (apt install chromium). Browser tests did not run. ***\n`)
  return false
}

export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

/** Where screenshots go (gitignored): test-artifacts/<suite>/. */
export function artifactsDir (suite: string): string {
  const dir = join(process.cwd(), 'test-artifacts', suite)
  mkdirSync(dir, { recursive: true })
  return dir
}
