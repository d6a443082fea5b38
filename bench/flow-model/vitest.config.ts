import { defineConfig } from "vitest/config";

/**
 * The flow-control model (bench/flow-model/flow-model.test.ts): not part of `npm test`. Run it with
 * `npx vitest run --config bench/flow-model/vitest.config.ts`.
 */
export default defineConfig({ test: { include: ["bench/flow-model/*.test.ts"], testTimeout: 600_000 } });
