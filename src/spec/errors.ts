/**
 * Baton's error family: a stable `code` for machines, a sentence for people.
 *
 * Few subclasses, split by who must act. Match on `code`, never on the message text.
 * The CLI maps errors to exit codes in one place, the server to HTTP statuses in one place.
 */

/** Machine-readable error codes, grouped by component (`spec.*`, `store.*`, …). */
export type ErrorCode =
  | 'spec.yaml'
  | 'spec.invalid'
  | 'spec.unknown_key'
  | 'spec.cycle'
  | 'spec.unknown_task'
  | 'spec.duplicate'
  | 'spec.expression'
  | 'spec.param'
  | 'spec.file'
  | 'expr.evaluate'
  | 'store.not_found'
  | 'store.conflict'
  | 'store.url'
  | 'store.migration'
  | 'store.busy'
  | 'store.database'
  | 'store.unavailable'
  | 'store.fenced'
  | 'store.copy'
  | 'executor.launch'
  | 'executor.unavailable'
  | 'task.failed'
  | 'cli.usage'
  | 'internal';

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(
    code: ErrorCode,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Where in a source file something is wrong; lines and columns are 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One problem found in a flow file. */
export interface SpecProblem extends SourcePosition {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * A flow file is invalid. Carries every problem found (not just the first), each with
 * file, line and column, so `baton validate` can print them all at once.
 */
export class SpecError extends BatonError {
  readonly problems: readonly SpecProblem[];
  constructor(problems: readonly SpecProblem[], options?: ErrorOptions) {
    const first = problems[0];
    super(
      first?.code ?? 'spec.invalid',
      problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n'),
      { problems },
      options,
    );
    this.problems = problems;
  }
}

/** Something named by the user (a flow, run, task) does not exist. */
export class NotFoundError extends BatonError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('store.not_found', message, details);
  }
}

/** A write lost a race or would break a uniqueness rule; nothing was changed. */
export class ConflictError extends BatonError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('store.conflict', message, details);
  }
}

/**
 * A write carried a fence (owner and epoch of a run's lease) that no longer holds: another
 * process claimed the run. Nothing was written; the writer must stop driving the run.
 */
export class FencedError extends BatonError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('store.fenced', message, details);
  }
}

/** The user's command line is wrong; the message says which flag and why. */
export class UsageError extends BatonError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('cli.usage', message, details);
  }
}

/** An expression failed while being evaluated (the flow parsed, the data did not fit). */
export class ExpressionError extends BatonError {
  constructor(
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super('expr.evaluate', message, details, options);
  }
}
