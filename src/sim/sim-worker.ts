// A simulation worker thread: runs one range of conversations of one strategy (see parallel.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage, WorkerTask } from './parallel.js';
import { runRange } from './run.js';

const task = workerData as WorkerTask;
const post = (message: WorkerMessage) => parentPort!.postMessage(message);
const result = await runRange(task.strategy, task.options, task.range, (done) => post({ done }));
post({ result });
