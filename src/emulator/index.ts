/**
 * A local emulator of the OpenAI Responses API, for tests, demos and anyone who needs the API's
 * behaviour without a key or a network. See `README.md` beside this file.
 */
export { createEmulator, type Emulator, type ListeningEmulator } from './server.js';
export { EmulatorEngine, type EmulatorStats } from './engine.js';
export {
  DEFAULT_ASSUMPTIONS,
  LATENCY_PROFILES,
  NO_FAULTS,
  type Assumptions,
  type EmulatorOptions,
  type FaultOptions,
  type LatencyOption,
  type LatencyProfile,
} from './options.js';
export {
  createScriptedBrain,
  UnexpectedModelCallError,
  type ScriptedBrain,
  type ScriptStep,
} from '../model/scripted-brain.js';
export { ApiError } from './api-error.js';
export { withGenericTools } from './generic-brain.js';
export { argumentsFor, type ArgumentHints } from './tool-args.js';
export type { BrainAttachment } from '../core/brain.js';
export type {
  CompactionObject,
  ResponseObject,
  StreamEvent,
  WireItem,
  OutputWireItem,
  UsageWire,
} from './wire.js';
