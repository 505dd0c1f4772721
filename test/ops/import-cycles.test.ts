/**
 * No import loops: between modules of server/, shared/ and client/, and between the folders
 * inside each (server/http ↔ server/ui was one). The check is scripts/import-cycles.ts
 * (`npm run check:cycles`), run here as a user would run it.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('server, shared and client have no import loop, between modules or between folders', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/import-cycles.ts'], { cwd: new URL('../..', import.meta.url).pathname })
  expect(stdout).toMatch(/: 0 import loops\n/)
  expect(stdout).toMatch(/: 0 loops between folders\n/)
})
