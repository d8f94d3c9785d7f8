/**
 * `graft/demo`: the demo shop (catalogue, memory and SQL shops, its tools) and the shop clerk,
 * the deterministic brain that plays the model in the emulator and the simulator.
 */
export * from './shop/index.js';
export * from './clerk/index.js';
