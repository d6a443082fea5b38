import { defineConfig } from "vitest/config";

/**
 * The tests Stryker runs against each mutant of the core files (`npm run test:mutation`, stryker.config.mjs): the
 * unit tests of the pipeline, with the library-level hardening and connection tests (hostile answers, the body
 * cap, redirects and TLS failures over real sockets), the log's events (test/log.test.ts: what the pipeline logs
 * of each attempt, retry, breaker and login) and the user status calls on the wire (test/status.test.ts). Left out
 * because they are slow and add no kill of their own: the `pod-admin` process tests (test/cli*.e2e.test.ts, which
 * start a process per case), test/bulk.test.ts (a 20 s run against a limited pod), the simulator's own tests, and
 * the type tests.
 */
export default defineConfig({
  test: {
    include: [
      "test/core-*.test.ts",
      "test/auth.test.ts",
      "test/retry.test.ts",
      "test/transport.test.ts",
      "test/errors.test.ts",
      "test/flow-control.test.ts",
      "test/users.test.ts",
      "test/lookup.test.ts",
      "test/validation.test.ts",
      "test/middleware.test.ts",
      "test/hardening.test.ts",
      "test/connection.test.ts",
      "test/log.test.ts",
      "test/status.test.ts",
    ],
    typecheck: { enabled: false },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
