/**
 * The graph the LangGraph Agent Server serves (`graphs: { shop: '<this file>:graph' }`, as a
 * `langgraph.json` would name it): the same ReAct shop agent as the plain LangGraph bot, without
 * a checkpointer of its own (the server attaches its in-memory one).
 */
import { shopAgent } from './langgraph-agent.js';

export const graph = await shopAgent();
