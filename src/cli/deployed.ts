import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ScheduleCalendar } from '../scheduler/index.ts';
import { type FlowSpec, loadFlowFile, NotFoundError } from '../spec/index.ts';
import type { FlowRecord, FlowVersion, Store } from '../store/index.ts';

/** A deployed flow: its record, the version new runs use, and its schedule. */
export interface DeployedFlow {
  readonly flow: FlowRecord;
  readonly version: FlowVersion;
  readonly calendar: ScheduleCalendar;
}

/** The deployed flow of this name, or a NotFoundError that says how to deploy it. */
export async function deployedFlow(store: Store, name: string): Promise<DeployedFlow> {
  const flow = await store.getFlow(name);
  if (flow?.deployedVersionId == null) {
    const known = (await store.listFlows()).filter((f) => f.deployedVersionId !== null);
    const list = known.length
      ? `deployed: ${known.map((f) => f.name).join(', ')}`
      : 'none is deployed';
    throw new NotFoundError(
      `flow "${name}" is not deployed in ${store.url} (${list}); deploy it with: baton deploy FILE`,
      { flow: name },
    );
  }
  const version = await store.getFlowVersion(flow.deployedVersionId);
  if (!version)
    throw new NotFoundError(`deployed version ${flow.deployedVersionId} of "${name}" is missing`);
  return { flow, version, calendar: new ScheduleCalendar(version.spec) };
}

/** A flow given as a file path, else undefined (the caller looks it up by name). */
export async function flowFromFile(nameOrPath: string): Promise<FlowSpec | undefined> {
  const path = resolve(nameOrPath);
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  return (await loadFlowFile(path)).spec;
}

/** A schedule in one line: `0 6 * * * Europe/Berlin; @hourly UTC`, or `manual`. */
export function scheduleText(spec: Pick<FlowSpec, 'schedule'>): string {
  if (spec.schedule.length === 0) return 'manual';
  return spec.schedule.map((s) => `${s.cron} ${s.timezone}`).join('; ');
}
