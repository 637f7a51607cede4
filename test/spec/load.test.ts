// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadFlowFile, parseFlow, SpecError } from '../../src/spec/index.ts';

const SALES = `flow: sales_report
description: Daily sales report per region
schedule:
  - cron: "0 6 * * *"
    timezone: Europe/Berlin
  - cron: "@hourly"
params:
  region: { type: string, default: eu, enum: [eu, us] }
  day: { type: string }
defaults:
  retries: 2
  retry_delay: 10s
  timeout: 15m
  env: { LOG_LEVEL: info, WORKERS: 4 }
tasks:
  report:
    needs: [clean, extract]
    trigger: one_success
    run: node report.js
    retries: 0
    timeout: 90
    if: \${{ params.region == "eu" }}
  extract:
    run: ./bin/extract --region \${{ params.region }}
    env: { VERBOSE: true, LOG_LEVEL: debug }
    produces:
      raw_sales: { path: "data/raw/" }
      audit:
  clean:
    needs: [extract]
    map: \${{ assets.raw_sales.partitions }}
    max_parallel: 4
    run: [python3, clean.py, "\${{ item }}"]
    retry_delay: 1h30m
    retry_backoff: 2
    priority: 5
    consumes: [raw_sales]
    cache: { key: "\${{ params.region }}", ttl: 2d }
    resources:
      cpu: 1
      memory: \${{ 256 * MiB }}
`;

test('a valid flow normalises: defaults, durations in ms, run kinds, expressions unwrapped', () => {
  const { spec, source, path, baseDir } = parseFlow(SALES, 'flows/sales.yaml');
  assert.equal(source, SALES);
  assert.equal(path, 'flows/sales.yaml');
  assert.equal(baseDir, join(process.cwd(), 'flows'));
  assert.equal(spec.flow, 'sales_report');
  assert.deepEqual(spec.schedule, [
    { cron: '0 6 * * *', timezone: 'Europe/Berlin' },
    { cron: '@hourly', timezone: 'UTC' },
  ]);
  assert.equal(spec.catchup, false);
  assert.equal(spec.maxActiveRuns, 1);
  assert.deepEqual(spec.params, {
    region: { type: 'string', default: 'eu', enum: ['eu', 'us'], required: false },
    day: { type: 'string', required: true },
  });
  const [extract, clean, report] = spec.tasks;
  assert.deepEqual(extract, {
    id: 'extract',
    run: { kind: 'shell', script: './bin/extract --region ${{ params.region }}' },
    needs: [],
    env: { LOG_LEVEL: 'debug', WORKERS: '4', VERBOSE: 'true' },
    trigger: 'all_success',
    retries: 2,
    retryDelayMs: 10_000,
    retryBackoff: 1,
    timeoutMs: 900_000,
    priority: 0,
    produces: { raw_sales: { path: 'data/raw/' }, audit: {} },
    consumes: [],
    resources: {},
  });
  assert.deepEqual(clean, {
    id: 'clean',
    run: { kind: 'argv', argv: ['python3', 'clean.py', '${{ item }}'] },
    needs: ['extract'],
    env: { LOG_LEVEL: 'info', WORKERS: '4' },
    trigger: 'all_success',
    retries: 2,
    retryDelayMs: 5_400_000,
    retryBackoff: 2,
    timeoutMs: 900_000,
    priority: 5,
    map: 'assets.raw_sales.partitions',
    maxParallel: 4,
    produces: {},
    consumes: ['raw_sales'],
    cache: { key: '${{ params.region }}', ttlMs: 172_800_000 },
    resources: { cpu: 1, memory: '${{ 256 * MiB }}' },
  });
  assert.equal(report?.id, 'report');
  assert.equal(report?.if, 'params.region == "eu"');
  assert.equal(report?.trigger, 'one_success');
  assert.equal(report?.retries, 0);
  assert.equal(report?.timeoutMs, 90_000);
  assert.deepEqual(report?.needs, ['clean', 'extract']);
});

test('tasks keep the order they were written in; a needed task moves up before its first user', () => {
  const flow = (tasks: string) =>
    parseFlow(`flow: f\ntasks:\n${tasks}`, 'f.yaml').spec.tasks.map((t) => t.id);
  assert.deepEqual(flow('  a: { run: x }\n  b: { run: x, needs: [a] }\n  c: { run: x }\n'), [
    'a',
    'b',
    'c',
  ]);
  assert.deepEqual(
    flow(
      '  d: { run: x, needs: [c] }\n  c: { run: x, needs: [a, b] }\n  b: { run: x }\n  a: { run: x }\n',
    ),
    ['b', 'a', 'c', 'd'],
  );
  assert.deepEqual(
    flow(
      '  x: { run: x }\n  c: { run: x, needs: [b] }\n  a: { run: x }\n  b: { run: x, needs: [a] }\n',
    ),
    ['x', 'a', 'b', 'c'],
  );
});

test('a 5,000-task chain written backwards is ordered without overflowing the stack', () => {
  const n = 5000;
  const lines = ['flow: chain', 'tasks:'];
  for (let i = n - 1; i >= 0; i--)
    lines.push(`  t${i}: { run: echo${i > 0 ? `, needs: [t${i - 1}]` : ''} }`);
  const ids = parseFlow(lines.join('\n'), 'chain.yaml').spec.tasks.map((t) => t.id);
  assert.deepEqual(
    ids,
    Array.from({ length: n }, (_, i) => `t${i}`),
  );
});

test('`if: true` means no condition; `if: false` and bare expressions are kept as expressions', () => {
  const spec = parseFlow(
    'flow: f\ntasks:\n  a: { run: x, if: true }\n  b: { run: x, if: false }\n  c: { run: x, if: params.full }\nparams:\n  full: { type: bool, default: false }\n',
    'f.yaml',
  ).spec;
  assert.deepEqual(
    spec.tasks.map((t) => t.if),
    [undefined, 'false', 'params.full'],
  );
});

test('every problem is reported at once, sorted by position', () => {
  const source = `flow: Bad Name
tasks:
  b:
    run: x
    needs: [a]
    retires: 1
  a:
    run: 3
    needs: [b]
`;
  assert.throws(
    () => parseFlow(source, 'flows/bad.yaml'),
    (error: unknown) => {
      assert.ok(error instanceof SpecError);
      assert.equal(
        error.message,
        [
          'flows/bad.yaml:1:7: flow name "Bad Name" is not allowed: use lower-case letters, digits, "_" and "-", starting with a letter',
          'flows/bad.yaml:5:13: tasks form a cycle: b -> a -> b (each needs the one before it)',
          'flows/bad.yaml:6:5: unknown key "retires" in task "b" (did you mean "retries"?)',
          'flows/bad.yaml:8:10: task "a": "run" must be a command string or a non-empty list of strings, got 3',
        ].join('\n'),
      );
      assert.deepEqual(
        error.problems.map((p) => p.code),
        ['spec.invalid', 'spec.cycle', 'spec.unknown_key', 'spec.invalid'],
      );
      return true;
    },
  );
});

test('loadFlowFile reads the file and resolves baseDir to its directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'baton-spec-'));
  const file = join(dir, 'flow.yaml');
  await writeFile(file, 'flow: f\ntasks:\n  a: { run: echo hi }\n');
  const loaded = await loadFlowFile(file);
  assert.equal(loaded.baseDir, dir);
  assert.equal(loaded.path, file);
  assert.deepEqual(loaded.spec.tasks[0]?.run, { kind: 'shell', script: 'echo hi' });
});

test('a missing flow file is a spec.file error naming the path', async () => {
  const file = join(tmpdir(), 'baton-no-such-dir', 'flow.yaml');
  await assert.rejects(loadFlowFile(file), (error: unknown) => {
    assert.ok(error instanceof SpecError);
    assert.equal(error.code, 'spec.file');
    assert.equal(error.message, `${file}:1:1: cannot read the flow file: no such file`);
    return true;
  });
});
