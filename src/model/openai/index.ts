/** graft's model client for OpenAI's Responses API (or the emulator, or any compatible server). */
export { OpenAIModelClient, openAIOptionsFromEnv, type OpenAIModelClientOptions } from './client.js';
export { classifyError, retryAfterMs } from './errors.js';
export { toCreateParams, toModelResult, toSdkItem } from './mapping.js';
