import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores, and several files start containers: one file at a time keeps each test's timing honest.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 30_000,
    // Image builds and containers capped at 50m cpu take tens of seconds to become ready.
    hookTimeout: 600_000,
    reporters: ['default'],
  },
})
