/** The node agent and its executors: see ./agent.ts and ./executor.ts. */
export { NodeAgent, DEFAULT_PROFILE, type NodeAgentEvent, type NodeAgentOptions, type NodeProfile } from "./agent.js";
export {
  DishonestExecutor,
  ImageExecutor,
  InvalidParametersError,
  ModelUnavailableError,
  StandInExecutor,
  TextExecutor,
  MAX_TEXT_RESULT_BYTES,
  isImageTask,
  parseStandInParams,
  scoreOf,
  type ExecutionRequest,
  type ExecutionResult,
  type Executor,
  type PixelNoise,
  type StandInParams,
} from "./executor.js";
