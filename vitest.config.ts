import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites start real servers; two cores do not gain from more parallel files.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true
  }
})
