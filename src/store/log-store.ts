/**
 * Where task logs live. Files under the project's `.baton/runs/` now (`FileLogStore`); a database-backed
 * implementation comes with remote workers. A log is addressed by its attempt.
 */
export interface LogRef {
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly attempt: number;
}

export interface LogChunk {
  readonly text: string;
  /** Offset to ask for next; equal to the input offset when nothing new was there. */
  readonly nextOffset: number;
}

export interface LogStore {
  /**
   * A local file path the executor may write the attempt's output to directly
   * (the local executor points the task's stdout and stderr at it).
   */
  pathFor(ref: LogRef): string;
  /** Reads from `offset`, at most `limitBytes`. A missing log reads as empty. */
  read(ref: LogRef, offset?: number, limitBytes?: number): Promise<LogChunk>;
}
