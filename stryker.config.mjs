// @ts-check
/**
 * Mutation testing of the request pipeline's core files: `npm run test:mutation` (not part of `npm test` or CI).
 * docs/mutation-testing.md says how to run it, what it measures and which survivors are accepted.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const config = {
  mutate: [
    "src/core/auth.ts",
    "src/core/retry.ts",
    "src/core/ids.ts",
    "src/core/json.ts",
    "src/core/urls.ts",
    "src/core/http.ts",
    "src/core/rate-limiter.ts",
    "src/core/transport.ts",
    "src/core/answer-body.ts",
    "src/core/redirects.ts",
    "src/core/connection-failure.ts",
  ],
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  coverageAnalysis: "perTest",
  // The machine is shared: one test process; a rerun tests only the mutants whose code or tests changed.
  concurrency: 1,
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  clearTextReporter: { logTests: false, maxTestsToLog: 2 },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 85, break: null },
  timeoutMS: 3_000,
  cleanTempDir: "always",
};
export default config;
