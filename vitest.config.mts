import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Three projects: unit tests in Node (electron/, shared/, e2e/lab pieces), component tests in
// jsdom (renderer/), and integration tests that need the lab (run inside its desk namespace).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['shared/**/*.test.ts', 'electron/**/*.test.ts', 'scripts/**/*.test.ts', 'e2e/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 15000,
        },
      },
      {
        plugins: [react()],
        test: {
          name: 'dom',
          environment: 'jsdom',
          include: ['renderer/**/*.test.tsx', 'renderer/**/*.test.ts'],
          testTimeout: 15000,
        },
      },
      {
        test: {
          name: 'integration',
          environment: 'node',
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**'],
          testTimeout: 60000,
          hookTimeout: 60000,
          fileParallelism: false,
        },
      },
    ],
  },
});
