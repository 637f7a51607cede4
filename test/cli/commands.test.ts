import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { COMMAND_LOADERS } from '../../src/cli/command-loaders.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { runBaton, runIdFrom, tempProject, writeFlow } from '../helpers/cli.ts';

describe('every command has --help', () => {
  for (const [def] of COMMANDS) {
    test(`baton ${def.name} --help`, async () => {
      const r = await runBaton([def.name, '--help'], tempProject());
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: baton ${def.name}`));
      assert.match(r.stdout, /--help/);
    });
  }
  test('each command loads on its own as the one --help lists', async () => {
    assert.deepEqual(
      Object.keys(COMMAND_LOADERS),
      COMMANDS.map(([def]) => def.name),
    );
    for (const [def, handler] of COMMANDS) {
      const load = COMMAND_LOADERS[def.name];
      assert.deepEqual(await load?.(), [def, handler], def.name);
    }
  });
  test('baton --help lists every command; an unknown command exits 2', async () => {
    const dir = tempProject();
    const help = await runBaton(['--help'], dir);
    for (const [def] of COMMANDS) assert.match(help.stdout, new RegExp(`\\n  ${def.name} `));
    const r = await runBaton(['frobnicate'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});

describe('baton init, validate, run by name, runs, show, logs, db migrate', () => {
  test('a scaffolded project validates and its example flow runs by name', async () => {
    const dir = tempProject();
    const init = await runBaton(['init', 'proj'], dir);
    assert.equal(init.code, 0, init.stderr);
    const proj = join(dir, 'proj');
    const again = await runBaton(['init', 'proj'], dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exist/);

    const v = await runBaton(['validate'], proj);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /ok {2}.*hello\.yaml: flow "hello", 3 tasks/);

    const r = await runBaton(['run', 'hello', '-p', 'who=Ada Lovelace; rm -rf /'], proj);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const runId = runIdFrom(r.stderr);
    assert.match(r.stdout, new RegExp(`Run ${runId} success`));

    const logs = await runBaton(['logs', runId, 'greet'], proj);
    assert.equal(logs.stdout, 'hello, Ada Lovelace; rm -rf /\n');
    const item = await runBaton(['logs', runId, 'count[2]'], proj);
    assert.equal(item.stdout, `item 2 of run ${runId}\n`);
    const done = await runBaton(['logs', runId, 'done'], proj);
    assert.equal(done.stdout, 'all 3 items done\n');

    const runs = await runBaton(['runs', '--json'], proj);
    const list = JSON.parse(runs.stdout) as { id: string; state: string; flow: string }[];
    assert.deepEqual(
      list.map((x) => [x.id, x.flow, x.state]),
      [[runId, 'hello', 'success']],
    );
    const text = await runBaton(['runs'], proj);
    assert.match(text.stdout, new RegExp(`${runId}\\s+hello\\s+success\\s+manual`));

    const show = await runBaton(['show', runId], proj);
    assert.match(show.stdout, /count\[1\]\s+1\s+success/);
    assert.match(show.stdout, /greet\s+1\s+success\s+\S+\s+0\s+\{"greeted":3\}/);

    const migrate = await runBaton(['db', 'migrate'], proj);
    assert.equal(migrate.code, 0);
    assert.match(migrate.stdout, /schema is current/);
  });

  test('validate: every problem as file:line:col, exit 2', async () => {
    const dir = tempProject();
    const bad = writeFlow(
      dir,
      'bad',
      'flow: bad\ntasks:\n  a: { run: "true", needs: [b] }\n  b: { run: "true", needs: [a] }\n',
    );
    const r = await runBaton(['validate', bad], dir);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /bad\.yaml:\d+:\d+: .*cycle.*a -> b -> a|bad\.yaml:\d+:\d+: .*cycle.*b -> a -> b/,
    );
    const json = await runBaton(['validate', bad, '--json'], dir);
    const parsed = JSON.parse(json.stdout) as { problems: { file: string; line: number }[] };
    assert.equal(parsed.problems[0]?.file, bad);
  });

  test('show and logs name what is missing', async () => {
    const dir = tempProject();
    const show = await runBaton(['show', 'no-such-run'], dir);
    assert.equal(show.code, 2);
    assert.match(show.stderr, /no run "no-such-run"/);
    const flow = writeFlow(dir, 'one', 'flow: one\ntasks:\n  a: { run: "echo hi" }\n');
    const r = await runBaton(['run', flow], dir);
    const logs = await runBaton(['logs', runIdFrom(r.stderr), 'b'], dir);
    assert.equal(logs.code, 2);
    assert.match(logs.stderr, /has no task run "b" \(tasks: a\)/);
  });

  test('a bad database URL is refused with the accepted forms', async () => {
    const r = await runBaton(['runs', '--db', 'mysql://x'], tempProject());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mysql:\/\/x/);
  });

  test('the flow version a run used is stored with it', async () => {
    const dir = tempProject();
    const flow = writeFlow(dir, 'v', 'flow: v\ntasks:\n  a: { run: "echo one" }\n');
    const r = await runBaton(['run', flow], dir);
    const show = await runBaton(['show', runIdFrom(r.stderr), '--json'], dir);
    const parsed = JSON.parse(show.stdout) as {
      flowVersion: { version: number; sourcePath: string };
    };
    assert.equal(parsed.flowVersion.version, 1);
    assert.equal(readFileSync(parsed.flowVersion.sourcePath, 'utf8').includes('echo one'), true);
  });
});
