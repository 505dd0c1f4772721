/**
 * The attack tests (test/attacks/): each asserts that the server's event loop never stalls
 * more than 100 ms while it is attacked and an editor types. A stall is measured in the test's
 * own process, so another test file running beside it on a two-core machine would be measured
 * too: these files run one at a time, after the rest (`npm test` runs both configs).
 */
import { defineConfig } from 'vitest/config'
import { reporters } from './vitest.reporters.js'

export default defineConfig({
  test: {
    include: ['test/attacks/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: reporters('attacks')
  }
})
