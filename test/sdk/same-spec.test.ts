/**
 * A flow written with the SDK and the same flow written as YAML load to the same
 * FlowSpec: every example pipeline that has both (`examples/<name>/flow.{yaml,ts}`), and
 * a fixture that uses every key of the format. `baton export`'s YAML loads to it too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadFlow } from '../../src/cli/flow-files.ts';
import { parseFlow } from '../../src/spec/index.ts';
import { REPO, runBaton } from '../helpers/cli.ts';

const examples = readdirSync(join(REPO, 'examples'))
  .map((name) => join(REPO, 'examples', name))
  .filter((dir) => existsSync(join(dir, 'flow.yaml')) && existsSync(join(dir, 'flow.ts')));
const pairs = [
  ...examples.map((dir) => [join(dir, 'flow.yaml'), join(dir, 'flow.ts')] as const),
  [
    join(import.meta.dirname, 'fixtures/everything.yaml'),
    join(import.meta.dirname, 'fixtures/everything.flow.ts'),
  ] as const,
];

test('every example pipeline is written both ways', () => {
  assert.ok(examples.length >= 1, 'examples/sales has flow.yaml and flow.ts');
});

for (const [yamlPath, tsPath] of pairs) {
  test(`${tsPath.slice(REPO.length + 1)} and its YAML load to the same FlowSpec`, async () => {
    const [fromYaml, fromTs] = await Promise.all([loadFlow(yamlPath), loadFlow(tsPath)]);
    assert.deepEqual(fromTs.spec, fromYaml.spec);
    assert.equal(fromTs.baseDir, fromYaml.baseDir);
  });

  test(`baton export ${tsPath.slice(REPO.length + 1)} prints YAML with the same FlowSpec`, async () => {
    const r = await runBaton(['export', tsPath], REPO);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseFlow(r.stdout, yamlPath).spec, (await loadFlow(yamlPath)).spec);
  });
}
