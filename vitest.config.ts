import { defineConfig } from 'vitest/config'
import { reporters } from './vitest.reporters.js'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Attack tests measure event-loop stalls: they run alone, afterwards (vitest.attacks.config.ts).
    exclude: ['test/attacks/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites start real servers; two cores do not gain from more parallel files.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    reporters: reporters('main')
  }
})
