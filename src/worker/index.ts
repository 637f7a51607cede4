/** The `baton worker` process. */
export { Worker, type WorkerLog, type WorkerOptions } from './worker.ts';
