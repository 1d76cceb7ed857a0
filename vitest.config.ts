import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Temporal native bridge needs real processes (threads/VM pools break it).
    pool: 'forks',
    maxWorkers: 2,
    // Integration tests wait on real services, on whatever machine runs them: no wait inside a test
    // is longer than 120 s, and tests doing heavy work (hundreds of rooms) set more themselves.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
