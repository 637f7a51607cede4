// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${{ }} templates are what these tests are about

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ExpressionError } from '../../src/spec/errors.ts';
import { type ExprContext, renderShell } from '../../src/spec/expr.ts';

const ctx: ExprContext = {
  params: { w: 'x\nEOF\nrm -rf ~', region: 'eu', v: 'it\'s "$HOME"', empty: '', nul: 'a\0b' },
  run: {},
  tasks: { a: { outputs: { n: 2 } } },
  assets: {},
};

const refused = (script: string, message: RegExp): void =>
  assert.throws(
    () => renderShell(script, ctx),
    (e: unknown) => e instanceof ExpressionError && message.test(e.message),
  );

describe('rendering shell scripts', () => {
  it('quotes for the context each value lands in', () => {
    assert.equal(renderShell('echo ${{ params.region }}', ctx), "echo 'eu'");
    assert.equal(renderShell('echo ${{ params.empty }}', ctx), "echo ''");
    assert.equal(renderShell('echo ${{ params.v }}', ctx), `echo 'it'\\''s "$HOME"'`);
    assert.equal(renderShell('echo "x ${{ params.v }}"', ctx), 'echo "x it\'s \\"\\$HOME\\""');
    assert.equal(renderShell("echo 'x ${{ params.v }}'", ctx), `echo 'x it'\\''s "$HOME"'`);
    assert.equal(renderShell('echo "$(echo ${{ params.region }})"', ctx), `echo "$(echo 'eu')"`);
  });

  it('prints computed JSON through /bin/sh', () => {
    const script = renderShell('echo "{\\"n\\": ${{ tasks.a.outputs.n * 3 }}}"', ctx);
    assert.equal(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }), '{"n": 6}\n');
  });

  it('keeps a quote in a comment or a here-document from confusing later values', () => {
    const script = "# don't\ncat <<EOF\nit's\nEOF\necho ${{ params.v }}";
    assert.equal(
      execFileSync('/bin/sh', ['-c', renderShell(script, ctx)], { encoding: 'utf8' }),
      `it's\nit's "$HOME"\n`,
    );
  });

  it('substitutes integers into shell arithmetic and refuses anything else there', () => {
    assert.equal(renderShell('echo $(( ${{ tasks.a.outputs.n }} + 1 ))', ctx), 'echo $(( 2 + 1 ))');
    refused(
      'echo $(( ${{ params.region }} + 1 ))',
      /\$\{\{ params.region \}\}: only integers can be substituted/,
    );
    refused('[[ 1 -eq "${{ params.v }}" ]]', /cannot be substituted inside \[\[/);
  });

  it('refuses places it cannot quote safely', () => {
    refused('echo ${{ params.nul }}', /NUL byte/);
    refused('echo $${{ params.region }}', /right after "\$"/);
    refused('echo \\${{ params.region }}', /right after "\\"/);
    refused('echo ${x:-${{ params.region }}}', /inside \$\{…\}/);
    refused("echo $'${{ params.region }}'", /inside \$'…'/);
    refused('echo "`echo ${{ params.region }}`"', /backticks inside "…"/);
    refused('cat <<EOF\n${{ params.w }}\nEOF', /here-document delimiter "EOF"/);
  });
});
