/**
 * The `simulate` feature's engine: whole active-learning loops in memory with the ground truth
 * as the oracle (`engine.ts`), and the same off the event loop in a worker thread (`worker.ts`).
 */
export {
  labelCountsOf,
  runSimulation,
  SIMULATION_LIMITS,
  SPLIT,
  type SimulationInput,
  type SimulationPoint,
  type SimulationProgress,
  type SimulationRegistries,
  type SimulationResult,
  type SimulationStrategyInput,
  type SimulationStrategyResult,
} from './engine';
export {
  runSimulationInWorker,
  SIMULATION_WORKER_FILE,
  type SimulationWorkerMessage,
  type SimulationWorkerOptions,
} from './worker';
