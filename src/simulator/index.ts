/**
 * `symphony-pod-admin/simulator`: a simulated Symphony pod for the demo, end-to-end tests and benchmarks, a real HTTP
 * server on loopback with in-memory state, the spec's validation, expiring session tokens and seeded faults. A
 * subpath of its own, so the client (`symphony-pod-admin`) never loads it; importing either runs nothing.
 *
 * ```ts
 * import { startSimulatedPod } from "symphony-pod-admin/simulator";
 * ```
 *
 * @module symphony-pod-admin/simulator
 */

export {
  parseSimulatorArgs,
  runSimulatorCli,
  SIMULATOR_USAGE,
  type SimulatorCliIo,
} from "./cli.js";
export type { SimulatorDirectoryEntry, SimulatorDirectoryUser } from "./directory.js";
export { mulberry32, type SimulatorFaults } from "./faults.js";
export {
  DEFAULT_AVAILABLE_FEATURES,
  DEFAULT_SIMULATOR_TOKEN,
  type SimulatedPod,
  type SimulatedPodOptions,
  type SimulatorStats,
  type SimulatorTlsOptions,
  startSimulatedPod,
} from "./pod.js";
export { SimulatedPodState, type SimulatorAppDefaults } from "./state.js";
export type { SimulatorClientCertificate, SimulatorKeyPair } from "./tls.js";
export type { SimulatorLoginOptions } from "./tokens.js";
