import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { describeEventStore } from './event-store-contract.js';

describeEventStore('memory', () => Promise.resolve(new MemoryStore()));
