import { defineConfig } from 'vitest/config';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Projects mirror the test folders: unit (pure, fast), integration (real broker, HTTP, database),
// contracts (one suite per port, every adapter), e2e (simulator → gateway → broker → server → app),
// browser (the console in Chromium, driven by playwright-core).
export default defineConfig({
  test: {
    root,
    // Vitest runs cores − 1 files at once: one at a time on the 2-core CI machine. Most files wait on
    // sockets, child processes, timers and a browser rather than on the CPU, so two at a time took the
    // whole suite from 891 s to 602 s there, every test passing.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'contracts', include: ['test/contracts/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 30_000 } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 60_000 } },
      // The console in Debian's Chromium (test/helpers/browser.ts); a browser and a server per file, so generous timeouts.
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
    ],
  },
});
