/**
 * A simulated Symphony pod for the demo, end-to-end tests and benchmarks: a real HTTP server on loopback, with
 * in-memory state, the spec's validation, expiring session tokens and seeded faults.
 */

export { mulberry32, type SimulatorFaults } from "./faults.js";
export {
  parseSimulatorArgs,
  runSimulatorCli,
  SIMULATOR_USAGE,
  type SimulatorCliIo,
} from "./main.js";
export {
  DEFAULT_AVAILABLE_FEATURES,
  DEFAULT_SIMULATOR_TOKEN,
  type SimulatedPod,
  type SimulatedPodOptions,
  type SimulatorStats,
  startSimulatedPod,
} from "./pod.js";
export { SimulatedPodState, type SimulatorAppDefaults } from "./state.js";
export type { SimulatorLoginOptions } from "./tokens.js";
