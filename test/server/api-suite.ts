/**
 * The dashboard API's behaviour, on any store: `describeApi(name, open)` runs it against
 * one backend (SQLite now; PostgreSQL calls it in one line once that store lands).
 * Every answer is parsed with the schema the OpenAPI document was generated from.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import * as schemas from '../../src/server/schemas.ts';
import type { Store } from '../../src/store/index.ts';
import { advance, postJson, seed } from './fixtures.ts';

async function body<S extends z.ZodType>(
  res: Response,
  schema: S,
  status = 200,
): Promise<z.output<S>> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return schema.parse(JSON.parse(text));
}

async function errorOf(res: Response, status: number): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return schemas.ErrorBody.parse(JSON.parse(text)).error.code;
}

export function describeApi(name: string, open: () => Promise<Store>): void {
  describe(`dashboard API: ${name}`, () => {
    it('lists flows with their params and last runs, newest first', async (t) => {
      const s = await seed(open, t);
      const { flows } = await body(await s.call('/api/flows'), schemas.FlowList);
      assert.equal(flows.length, 1);
      assert.equal(flows[0]?.flow, 'sales');
      assert.equal(flows[0]?.tasks, 2);
      assert.deepEqual(Object.keys(flows[0]?.params ?? {}), ['region', 'rows']);
      assert.deepEqual(
        flows[0]?.lastRuns.map((r) => [r.id, r.state]),
        [
          ['run-002', 'running'],
          ['run-001', 'success'],
          ['run-000', 'success'],
        ],
      );
    });

    it('pages runs newest first with a cursor, no run twice, filters by flow and state', async (t) => {
      const s = await seed(open, t, { runCount: 7 });
      const seen: string[] = [];
      let before: string | null = null;
      do {
        const qs: string = before ? `&before=${before}` : '';
        const page: z.output<typeof schemas.RunPage> = await body(
          await s.call(`/api/runs?limit=3${qs}`),
          schemas.RunPage,
        );
        assert.ok(page.runs.length <= 3);
        seen.push(...page.runs.map((r) => r.id));
        before = page.next;
      } while (before);
      assert.deepEqual(seen, [...s.runs].reverse());
      const running = await body(await s.call('/api/runs?state=running'), schemas.RunPage);
      assert.deepEqual(
        running.runs.map((r) => r.id),
        ['run-006'],
      );
      const none = await body(await s.call('/api/runs?flow=other'), schemas.RunPage);
      assert.deepEqual(none, { runs: [], next: null });
      assert.equal(await errorOf(await s.call('/api/runs?limit=0'), 400), 'api.request');
      assert.equal(await errorOf(await s.call('/api/runs?state=bogus'), 400), 'api.request');
    });

    it('shows a run with its task runs and graph; an unknown run is 404', async (t) => {
      const s = await seed(open, t);
      const d = await body(await s.call('/api/runs/run-002'), schemas.RunDetail);
      assert.equal(d.run.state, 'running');
      assert.equal(d.flowVersion, 1);
      assert.deepEqual(d.tasks, [
        { id: 'extract', needs: [], mapped: false },
        { id: 'report', needs: ['extract'], mapped: false },
      ]);
      assert.deepEqual(
        d.taskRuns.map((r) => [r.taskId, r.state]),
        [
          ['extract', 'success'],
          ['report', 'running'],
        ],
      );
      assert.deepEqual(d.waiting, {}, 'nothing waits: report is running');
      assert.equal(await errorOf(await s.call('/api/runs/nope'), 404), 'store.not_found');
    });

    it('says why each waiting task run is not running', async (t) => {
      const s = await seed(open, t, { runCount: 1 });
      // A fresh run of the same flow: extract queued, report pending behind it.
      await s.store.createRun(
        {
          id: 'fresh',
          flow: 'sales',
          flowVersionId: s.versionId,
          trigger: 'manual',
          runKey: null,
          logicalDate: 0,
          params: {},
          baseDir: '/',
        },
        ['extract', 'report'].map((taskId) => ({
          runId: 'fresh',
          taskId,
          mapIndex: -1,
          attempt: 1,
          state: 'pending' as const,
        })),
      );
      // The seeded run of the flow runs, and max_active_runs is 1: the flow holds this one.
      const held = await body(await s.call('/api/runs/fresh'), schemas.RunDetail);
      const [e, r] = held.taskRuns;
      const atMax = `max_active_runs: 1 of 1 runs of flow "sales" running (run ${s.runs[0]})`;
      assert.deepEqual([held.hold?.kind, held.hold?.message], ['max_active_runs', atMax]);
      assert.equal(held.waiting[String(e?.id)], `run held: ${atMax}`);
      assert.equal(held.waiting[String(r?.id)], `run held: ${atMax}`);
      await s.store.setPaused('sales', true);
      const paused = await body(await s.call('/api/runs/fresh'), schemas.RunDetail);
      assert.equal(paused.hold?.kind, 'paused');
      assert.match(
        paused.waiting[String(e?.id)] ?? '',
        /^run held: flow "sales" is paused since \d{4}-\d\d-\d\d \d\d:\d\d UTC — `baton unpause sales`$/,
      );
      const flows = await body(await s.call('/api/flows'), schemas.FlowList);
      assert.deepEqual(flows.flows[0]?.held, { runs: 1, message: paused.hold?.message });
      await s.store.setPaused('sales', false);
      await s.store.moveRun(s.runs[0] as string, 'running', 'success', 2);
      const queued = await body(await s.call('/api/runs/fresh'), schemas.RunDetail);
      assert.equal(queued.hold, null, 'nothing holds it once the other run ended');
      assert.match(queued.waiting[String(e?.id)] ?? '', /not started/);
      assert.equal(queued.waiting[String(r?.id)], 'waiting for extract (pending)');
      await s.store.moveRun('fresh', 'queued', 'running', 1);
      await advance(s.store, e?.id ?? 0, ['pending', 'queued']);
      const running = await body(await s.call('/api/runs/fresh'), schemas.RunDetail);
      assert.equal(running.waiting[String(e?.id)], 'ready: waiting for a free slot');
      assert.equal(running.waiting[String(r?.id)], 'waiting for extract (queued)');
      await advance(s.store, e?.id ?? 0, ['queued', 'running']);
      await s.store.writeBatch(
        [
          {
            kind: 'move',
            id: e?.id ?? 0,
            from: 'running',
            to: 'up_for_retry',
            patch: { retryAt: Date.UTC(2030, 0, 1) },
          },
        ],
        2,
      );
      const retrying = await body(await s.call('/api/runs/fresh'), schemas.RunDetail);
      assert.equal(
        retrying.waiting[String(e?.id)],
        'failed: attempt 2 due at 2030-01-01T00:00:00.000Z',
      );
    });

    it('the grid has a column per task and a row per run', async (t) => {
      const s = await seed(open, t);
      const g = await body(await s.call('/api/grid?flow=sales&limit=2'), schemas.Grid);
      assert.deepEqual(g.tasks, ['extract', 'report']);
      assert.deepEqual(
        g.runs.map((r) => [r.run.id, r.cells.extract, r.cells.report]),
        [
          ['run-002', 'success', 'running'],
          ['run-001', 'success', 'success'],
        ],
      );
      assert.equal(g.next, 'run-001');
    });

    it('lists a run’s events after an id', async (t) => {
      const s = await seed(open, t);
      const all = await body(await s.call('/api/runs/run-001/events'), schemas.EventList);
      assert.equal(all.events[0]?.kind, 'run_created');
      const after = all.events[2]?.id ?? 0;
      const rest = await body(
        await s.call(`/api/runs/run-001/events?after=${after}`),
        schemas.EventList,
      );
      assert.deepEqual(
        rest.events.map((e) => e.id),
        all.events.slice(3).map((e) => e.id),
      );
    });

    it('reads a log by byte offset and says when it is complete', async (t) => {
      const s = await seed(open, t);
      const path = '/api/runs/run-001/log?task=extract';
      const first = await body(await s.call(`${path}&limit=5`), schemas.LogChunk);
      assert.deepEqual([first.text, first.nextOffset, first.done], ['hello', 5, false]);
      const rest = await body(await s.call(`${path}&offset=5`), schemas.LogChunk);
      assert.equal(rest.text, ' from run-001\nsecond line ünïcode\n');
      const end = await body(await s.call(`${path}&offset=${rest.nextOffset}`), schemas.LogChunk);
      assert.deepEqual(
        [end.text, end.nextOffset, end.done, end.state],
        ['', rest.nextOffset, true, 'success'],
      );
      const running = await body(
        await s.call('/api/runs/run-002/log?task=report&attempt=1'),
        schemas.LogChunk,
      );
      assert.deepEqual([running.text, running.done, running.state], ['', false, 'running']);
      assert.equal(
        await errorOf(await s.call('/api/runs/run-001/log?task=nope'), 404),
        'store.not_found',
      );
      assert.equal(
        await errorOf(await s.call('/api/runs/run-001/log?task=extract&attempt=2'), 404),
        'store.not_found',
      );
    });

    it('serves the stored flow source with no flow file anywhere', async (t) => {
      const s = await seed(open, t);
      const src = await body(await s.call('/api/flows/sales/source'), schemas.FlowSource);
      assert.equal(src.sourceText, 'flow: sales\n# stored source\n');
      const byId = await body(
        await s.call(`/api/flows/sales/source?versionId=${s.versionId}`),
        schemas.FlowSource,
      );
      assert.equal(byId.version, 1);
      assert.equal(await errorOf(await s.call('/api/flows/other/source'), 404), 'store.not_found');
      assert.equal(
        await errorOf(await s.call(`/api/flows/other/source?versionId=${s.versionId}`), 404),
        'store.not_found',
      );
    });

    it('lists assets and pages one asset’s history', async (t) => {
      const s = await seed(open, t);
      const { assets, lineage } = await body(await s.call('/api/assets'), schemas.AssetList);
      assert.deepEqual(lineage, {
        sales_raw: {
          producers: [{ flow: 'sales', task: 'extract' }],
          consumers: [{ flow: 'sales', task: 'report' }],
        },
        rates: { producers: [], consumers: [{ flow: 'sales', task: 'report' }] },
      });
      assert.deepEqual(
        assets.map((a) => [a.asset, a.metadata.rows]),
        [['sales_raw', 102]],
      );
      const page = await body(
        await s.call('/api/assets/sales_raw/history?limit=2'),
        schemas.AssetHistory,
      );
      assert.deepEqual(
        page.events.map((e) => e.metadata.rows),
        [102, 101],
      );
      const rest = await body(
        await s.call(`/api/assets/sales_raw/history?limit=2&before=${page.next}`),
        schemas.AssetHistory,
      );
      assert.deepEqual(
        rest.events.map((e) => e.metadata.rows),
        [100],
      );
      assert.equal(rest.next, null);
    });

    it('reports health: schedulers, queued and running task runs, pending commands', async (t) => {
      const s = await seed(open, t);
      const h = await body(await s.call('/api/health'), schemas.Health);
      assert.equal(h.taskRuns.running, 1);
      assert.equal(h.taskRuns.queued, 0);
      assert.equal(h.actions, true);
      assert.equal(h.readOnly, false);
      assert.equal(h.pendingCommands, 0);
      assert.deepEqual(h.schedulers, []);
    });

    it('lists pools with their slots, running and queued task runs, and pools that are missing', async (t) => {
      const s = await seed(open, t);
      assert.deepEqual((await body(await s.call('/api/pools'), schemas.PoolList)).pools, []);
      await s.store.setPool({ name: 'db', slots: 2, description: 'the warehouse' }, 5);
      const fv = s.versionId;
      await s.store.createRun(
        {
          id: 'pooled',
          flow: 'sales',
          flowVersionId: fv,
          trigger: 'manual',
          runKey: null,
          logicalDate: 0,
          params: {},
          baseDir: '/',
        },
        [
          {
            runId: 'pooled',
            taskId: 'extract',
            mapIndex: -1,
            attempt: 1,
            state: 'queued',
            pool: 'db',
          },
          {
            runId: 'pooled',
            taskId: 'report',
            mapIndex: -1,
            attempt: 1,
            state: 'queued',
            pool: 'nope',
          },
        ],
      );
      const { pools } = await body(await s.call('/api/pools'), schemas.PoolList);
      assert.deepEqual(pools, [
        { name: 'db', slots: 2, description: 'the warehouse', updatedAt: 5, running: 0, queued: 1 },
        { name: 'nope', slots: null, description: '', updatedAt: null, running: 0, queued: 1 },
      ]);
    });

    it('a trigger with parameters is a pending command; bad parameters change nothing', async (t) => {
      const s = await seed(open, t);
      const ok = await body(
        await s.call(
          '/api/flows/sales/trigger',
          postJson({ params: { region: 'us', rows: '42' } }),
        ),
        schemas.Accepted,
        202,
      );
      assert.equal(ok.command.kind, 'trigger');
      assert.equal(ok.command.state, 'pending');
      assert.deepEqual(ok.command.args, {
        params: { region: 'us', rows: 42 },
        flowVersionId: s.versionId,
      });
      assert.equal(
        await errorOf(
          await s.call('/api/flows/sales/trigger', postJson({ params: { region: 'mars' } })),
          400,
        ),
        'spec.param',
      );
      assert.equal(
        await errorOf(
          await s.call('/api/flows/sales/trigger', postJson({ params: { regoin: 'us' } })),
          400,
        ),
        'spec.param',
      );
      assert.equal(
        await errorOf(await s.call('/api/flows/nope/trigger', postJson({})), 404),
        'store.not_found',
      );
      assert.equal(
        await errorOf(
          await s.call('/api/flows/sales/trigger', { method: 'POST', body: '{not json' }),
          400,
        ),
        'api.request',
      );
      const listed = await body(await s.call('/api/commands'), schemas.CommandList);
      assert.deepEqual(
        listed.commands.map((c) => c.id),
        [ok.command.id],
      );
    });

    it('cancel, retry and mark success are commands, refused when they do not fit', async (t) => {
      const s = await seed(open, t);
      const cancel = await body(
        await s.call('/api/runs/run-002/cancel', postJson({})),
        schemas.Accepted,
        202,
      );
      assert.deepEqual([cancel.command.kind, cancel.command.runId], ['cancel_run', 'run-002']);
      assert.equal(
        await errorOf(await s.call('/api/runs/run-000/cancel', postJson({})), 409),
        'store.conflict',
      );
      assert.equal(
        await errorOf(await s.call('/api/runs/nope/cancel', postJson({})), 404),
        'store.not_found',
      );
      assert.equal(
        await errorOf(await s.call('/api/runs/run-002/retry', postJson({ task: 'report' })), 409),
        'store.conflict',
        'a task still running is not retried',
      );
      assert.equal(
        await errorOf(
          await s.call('/api/runs/run-002/mark-success', postJson({ task: 'report' })),
          409,
        ),
        'store.conflict',
        'nor marked succeeded',
      );
      const [, report] = await s.store.listTaskRuns('run-002');
      await advance(s.store, report?.id ?? 0, ['running', 'failed']);
      // A failed task of a run still running is retried by the scheduler that drives it.
      const live = await body(
        await s.call('/api/runs/run-002/retry', postJson({ task: 'report' })),
        schemas.Accepted,
        202,
      );
      assert.equal(live.command.kind, 'retry_task');
      await s.store.moveRun('run-002', 'running', 'failed', 9);
      const retry = await body(
        await s.call('/api/runs/run-002/retry', postJson({ task: 'report' })),
        schemas.Accepted,
        202,
      );
      assert.deepEqual(retry.command.args, { taskId: 'report', mapIndex: -1 });
      const mark = await body(
        await s.call('/api/runs/run-002/mark-success', postJson({ task: 'report' })),
        schemas.Accepted,
        202,
      );
      assert.equal(mark.command.kind, 'mark_success');
      assert.equal(
        await errorOf(
          await s.call('/api/runs/run-002/mark-success', postJson({ task: 'extract' })),
          409,
        ),
        'store.conflict',
      );
      assert.equal(
        await errorOf(await s.call('/api/runs/run-002/retry', postJson({ task: 'nope' })), 404),
        'store.not_found',
      );
      assert.equal(
        await errorOf(await s.call('/api/runs/run-002/retry', postJson({})), 400),
        'api.request',
      );
      const pending = await s.store.listPendingCommands(10);
      assert.deepEqual(
        pending.map((c) => c.kind),
        ['cancel_run', 'retry_task', 'retry_task', 'mark_success'],
      );
    });

    it('unknown endpoints are 404, wrong methods 405', async (t) => {
      const s = await seed(open, t);
      assert.equal(await errorOf(await s.call('/api/nothing'), 404), 'store.not_found');
      const res = await s.call('/api/runs', postJson({}));
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET');
    });

    it('pushes a change event naming the run when new events are recorded', async (t) => {
      const s = await seed(open, t);
      const aborter = new AbortController();
      t.after(() => aborter.abort());
      const res = await s.app.fetch(
        new Request('http://dashboard.test/api/events', { signal: aborter.signal }),
      );
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const reader = (res.body as ReadableStream<Uint8Array>)
        .pipeThrough(new TextDecoderStream())
        .getReader();
      let seen = '';
      const until = async (pattern: RegExp): Promise<RegExpExecArray> => {
        for (;;) {
          const m = pattern.exec(seen);
          if (m) return m;
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${pattern}; saw ${seen}`);
          seen += value;
        }
      };
      await until(/event: hello\ndata: (.*)\n\n/);
      await s.store.addEvent('run-001', 'note', { why: 'test' }, 5);
      const m = await until(/event: change\ndata: (.*)\n\n/);
      const change = JSON.parse(m[1] as string) as { runs: string[]; lastEventId: number };
      assert.deepEqual(change.runs, ['run-001']);
      assert.equal(change.lastEventId, await s.store.lastEventId());
      await reader.cancel();
    });
  });
}
