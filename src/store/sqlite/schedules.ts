/**
 * The SQL behind deployments, schedules, backfills and scheduler heartbeats: one function
 * per statement (or per small read-then-write), each run by `SqliteStore` inside its own
 * transaction. They get the store's prepared-statement cache, never the database.
 */
import type { StatementSync } from 'node:sqlite';
import { NotFoundError } from '../../spec/index.ts';
import { type Row, toBackfill, toFlowRecord, toRun } from '../rows.ts';
import type {
  ActiveRunFilter,
  Backfill,
  BackfillState,
  FlowRecord,
  NewBackfill,
  Run,
} from '../types.ts';

/** The store's statement cache: the prepared statement for a SQL text. */
export type Prepare = (sql: string) => StatementSync;

export function deployFlowVersion(
  stmt: Prepare,
  versionId: number,
  at: number,
): { flow: FlowRecord; changed: boolean } {
  const version = stmt('SELECT flow FROM flow_versions WHERE id = ?').get(versionId);
  if (version === undefined)
    throw new NotFoundError(`no flow version ${versionId} to deploy`, { versionId });
  const changed = stmt(`
    UPDATE flows SET deployed_version_id = :id, deployed_at = :at,
                     first_deployed_at = coalesce(first_deployed_at, :at)
    WHERE name = :flow AND deployed_version_id IS NOT :id`).run({
    id: versionId,
    at,
    flow: String(version.flow),
  }).changes;
  const row = stmt('SELECT * FROM flows WHERE name = ?').get(String(version.flow)) as Row;
  return { flow: toFlowRecord(row), changed: changed === 1 };
}

export function getFlow(stmt: Prepare, name: string): FlowRecord | undefined {
  const row = stmt('SELECT * FROM flows WHERE name = ?').get(name);
  return row === undefined ? undefined : toFlowRecord(row);
}

export function listFlows(stmt: Prepare): FlowRecord[] {
  return stmt('SELECT * FROM flows ORDER BY name').all().map(toFlowRecord);
}

export function setPaused(stmt: Prepare, name: string, paused: boolean): boolean {
  const flag = paused ? 1 : 0;
  const changed = stmt(
    'UPDATE flows SET paused = ?, paused_at = ? WHERE name = ? AND paused <> ?',
  ).run(flag, paused ? Date.now() : null, name, flag).changes;
  if (changed === 0 && getFlow(stmt, name) === undefined)
    throw new NotFoundError(`no flow "${name}" (see baton flows)`, { flow: name });
  return changed === 1;
}

export function latestScheduledRun(stmt: Prepare, flow: string): Run | undefined {
  const row = stmt(`
    SELECT * FROM runs
    WHERE flow = ? AND interval_start IS NOT NULL
    ORDER BY interval_start DESC, created_at DESC, id DESC LIMIT 1`).get(flow);
  return row === undefined ? undefined : toRun(row);
}

export function countActiveRuns(stmt: Prepare, flow: string, filter: ActiveRunFilter): number {
  const row = stmt(`
    SELECT count(*) AS n FROM runs
    WHERE flow = :flow AND state IN ('queued', 'running')
      AND (:trigger IS NULL OR trigger = :trigger)
      AND (:backfill IS NULL OR backfill_id = :backfill)`).get({
    flow,
    trigger: filter.trigger ?? null,
    backfill: filter.backfillId ?? null,
  });
  return Number(row?.n ?? 0);
}

export function listIntervalRuns(stmt: Prepare, flow: string, fromMs: number, toMs: number): Run[] {
  return stmt(`
    SELECT * FROM runs
    WHERE flow = ? AND interval_start BETWEEN ? AND ?
    ORDER BY interval_start, created_at, id`)
    .all(flow, fromMs, toMs)
    .map(toRun);
}

export function createBackfill(stmt: Prepare, b: NewBackfill): Backfill {
  if (getFlow(stmt, b.flow) === undefined)
    throw new NotFoundError(`no flow "${b.flow}" to backfill`, { flow: b.flow });
  const r = stmt(`
    INSERT INTO backfills (flow, from_ms, to_ms, max_active, rerun_failed, state, created_at)
    VALUES (?, ?, ?, ?, ?, 'active', ?)`).run(
    b.flow,
    b.fromMs,
    b.toMs,
    b.maxActive,
    b.rerunFailed ? 1 : 0,
    b.createdAt,
  );
  return getBackfill(stmt, Number(r.lastInsertRowid)) as Backfill;
}

export function getBackfill(stmt: Prepare, id: number): Backfill | undefined {
  const row = stmt('SELECT * FROM backfills WHERE id = ?').get(id);
  return row === undefined ? undefined : toBackfill(row);
}

export function listBackfills(
  stmt: Prepare,
  filter: { flow?: string; state?: BackfillState },
): Backfill[] {
  return stmt(`
    SELECT * FROM backfills
    WHERE (:flow IS NULL OR flow = :flow) AND (:state IS NULL OR state = :state)
    ORDER BY id`)
    .all({ flow: filter.flow ?? null, state: filter.state ?? null })
    .map(toBackfill);
}

export function moveBackfill(
  stmt: Prepare,
  id: number,
  from: BackfillState,
  to: BackfillState,
  at: number,
): boolean {
  return (
    stmt(`
      UPDATE backfills SET state = :to,
        ended_at = CASE WHEN :to = 'active' THEN NULL ELSE :at END
      WHERE id = :id AND state = :from`).run({ id, from, to, at }).changes === 1
  );
}
