/**
 * `graft/sim`: the simulator. It runs thousands of scripted customer conversations on virtual
 * time against graft and six baseline strategies, in a polite or an adversarial world, and checks
 * every history for duplicate, missing and orphaned effects. `graft sim` is its command line.
 */
export { STRATEGIES, WORLDS, runSim, runStrategy } from './run.js';
export type { SimOptions, SimResult, Strategy, StrategyResult, World } from './run.js';
export { formatTable } from './table.js';
export { COVERAGE_MIN_CONVERSATIONS, REQUIRED_COVERAGE, missingCoverage } from './coverage.js';
export type { Coverage } from './coverage.js';
