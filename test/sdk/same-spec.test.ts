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

const exampleDirs = readdirSync(join(REPO, 'examples')).map((name) => join(REPO, 'examples', name));
const examples = exampleDirs.filter(
  (dir) => existsSync(join(dir, 'flow.yaml')) && existsSync(join(dir, 'flow.ts')),
);
const pairs = [
  ...examples.map((dir) => [join(dir, 'flow.yaml'), join(dir, 'flow.ts')] as const),
  [
    join(import.meta.dirname, 'fixtures/everything.yaml'),
    join(import.meta.dirname, 'fixtures/everything.flow.ts'),
  ] as const,
];

test('the example pipeline is written both ways', () => {
  assert.ok(examples.includes(join(REPO, 'examples/sales')), 'examples/sales has both');
});

// Flows with function tasks have no hand-written YAML (it would name the module's hash);
// their YAML is what `baton export` prints.
for (const dir of exampleDirs.filter(
  (d) => !examples.includes(d) && existsSync(join(d, 'flow.ts')),
)) {
  const tsPath = join(dir, 'flow.ts');
  test(`baton export ${tsPath.slice(REPO.length + 1)} prints YAML with the same FlowSpec`, async () => {
    const r = await runBaton(['export', tsPath], REPO);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseFlow(r.stdout, tsPath).spec, (await loadFlow(tsPath)).spec);
  });
}

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
