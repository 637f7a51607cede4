// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${{ }} templates are what these tests are about
/**
 * Substitutes hostile and random values into every shell context and runs the result
 * with dash (/bin/sh) and bash: the output must be the literal value and nothing may
 * run. Set BATON_FUZZ_SEED to replay a failure; the seed is printed when one fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ExpressionError } from '../../src/spec/errors.ts';
import { type ExprContext, renderShell } from '../../src/spec/expr.ts';

const sandbox = mkdtempSync(join(tmpdir(), 'baton-fuzz-'));
after(() => rmSync(sandbox, { recursive: true, force: true }));
const MARK = join(sandbox, 'pwned');

const hostile: string[] = [
  '',
  ' ',
  "'",
  '"',
  "''",
  '""',
  "'\\''",
  '\\',
  'a\\',
  '\\\\',
  "\\'",
  '\\"',
  '$',
  '$x',
  '${x}',
  '${x:-$(touch pwned)}',
  '$(touch pwned)',
  `$(touch ${MARK})`,
  `"$(touch ${MARK})"`,
  `'$(touch ${MARK})'`,
  `\`touch ${MARK}\``,
  `'; touch ${MARK}; '`,
  `"; touch ${MARK}; "`,
  `'"; touch ${MARK}; "'`,
  `\\'; touch ${MARK}; #`,
  `) ; touch ${MARK} ; (`,
  `\`; touch ${MARK}; \``,
  `a\ntouch ${MARK}\nb`,
  `a\r\ntouch ${MARK}`,
  '; ls',
  '&& echo hi',
  '| cat',
  '|| true',
  '& wait',
  '> out',
  '< /etc/passwd',
  '*',
  '/*',
  '?',
  '[a-z]*',
  '{a,b}',
  '~',
  '~root',
  '!',
  '!!',
  '!$',
  '#',
  '# comment',
  'a # b',
  '\t',
  'tab\there',
  '\n',
  'a\n',
  'a\n\n',
  '\r',
  'line1\nline2',
  'x=1',
  '-n',
  '--help',
  '%s%s%d',
  '\\n\\t\\0',
  '$((1+1))',
  'a[$(touch pwned)]',
  "$'\\x41'",
  'EOF',
  'ünïcödé ✓ 中文 🎉',
  '\u00a0\u2028\u2029',
  'x'.repeat(10_000),
  `${"'".repeat(200)}${'"'.repeat(200)}${'\\'.repeat(200)}`,
  '}}',
  '${{ params.v }}',
  '\x01\x02\x1b[31m\x7f',
];

/** Deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = `'"\\$\`;&|<>(){}[]*?~!#=%\n\r\t -`;
function randomString(rand: () => number): string {
  const length = Math.floor(rand() * (rand() < 0.1 ? 300 : 24));
  let s = '';
  for (let i = 0; i < length; i++) {
    const r = rand();
    if (r < 0.45) s += SPECIAL[Math.floor(rand() * SPECIAL.length)];
    else if (r < 0.75) s += String.fromCharCode(0x20 + Math.floor(rand() * 95));
    else if (r < 0.88) s += String.fromCharCode(rand() < 0.9 ? 1 + Math.floor(rand() * 31) : 0x7f);
    else
      s += String.fromCodePoint(
        [0xe9, 0x4e2d, 0x1f389, 0x2028, 0xfeff][Math.floor(rand() * 5)] as number,
      );
  }
  return s;
}

interface Case {
  readonly name: string;
  /** A script fragment that prints the value (or a derivative) followed by a NUL byte. */
  readonly template: string;
  readonly expect: (v: string) => string;
}

const stripNewlines = (v: string): string => v.replace(/\n+$/, '');
const cases: Case[] = [
  { name: 'bare', template: "printf '%s\\000' ${{ params.v }}", expect: (v) => v },
  {
    name: 'bare in a word',
    template: "printf '%s\\000' pre${{ params.v }}post",
    expect: (v) => `pre${v}post`,
  },
  {
    name: 'double-quoted',
    template: `printf '%s\\000' "pre \${{ params.v }} post"`,
    expect: (v) => `pre ${v} post`,
  },
  {
    name: 'single-quoted',
    template: "printf '%s\\000' 'pre ${{ params.v }} post'",
    expect: (v) => `pre ${v} post`,
  },
  {
    name: 'in $( ) bare',
    template: `printf '%s\\000' "$(printf '%s' \${{ params.v }})"`,
    expect: stripNewlines,
  },
  {
    name: 'in $( ) double-quoted, inside double quotes',
    template: `printf '%s\\000' "a$(printf '%s' "<\${{ params.v }}>")b"`,
    expect: (v) => `a<${v}>b`,
  },
  {
    name: 'in $( ) single-quoted',
    template: `printf '%s\\000' "$(printf '%s' 'x\${{ params.v }}y')"`,
    expect: (v) => `x${v}y`,
  },
  {
    name: 'in backticks, bare',
    template: "x=`printf '%s' ${{ params.v }}`; printf '%s\\000' \"$x\"",
    expect: stripNewlines,
  },
  {
    name: 'in backticks, double-quoted',
    template: 'x=`printf \'%s\' "[${{ params.v }}]"`; printf \'%s\\000\' "$x"',
    expect: (v) => `[${v}]`,
  },
  {
    name: 'here-document',
    template: "cat <<BATON_END\n<${{ params.v }}>\nBATON_END\nprintf '\\000'",
    expect: (v) => `<${v}>\n`,
  },
  {
    name: 'quoted here-document',
    template: "cat <<'BATON_END'\n<${{ params.v }}>\nBATON_END\nprintf '\\000'",
    expect: (v) => `<${v}>\n`,
  },
  { name: 'comment', template: "# ${{ params.v }}\nprintf 'ok\\000'", expect: () => 'ok' },
];

const ctxOf = (v: string): ExprContext => ({ params: { v }, run: {}, tasks: {}, assets: {} });

interface Job {
  readonly value: string;
  readonly kase: Case;
  readonly script: string;
}

/** Renders every (value, case); values a context must refuse are checked to be refused. */
function jobsFor(values: readonly string[]): Job[] {
  const jobs: Job[] = [];
  for (const value of values) {
    for (const kase of cases) {
      if (kase.name.includes('here-document') && value.includes('BATON_END')) {
        assert.throws(() => renderShell(kase.template, ctxOf(value)), ExpressionError);
        continue;
      }
      jobs.push({ value, kase, script: renderShell(kase.template, ctxOf(value)) });
    }
  }
  return jobs;
}

function run(
  shell: string,
  script: string,
): { out: string[]; status: number | null; stderr: string } {
  const r = spawnSync(shell, ['-c', script], {
    cwd: sandbox,
    encoding: 'buffer',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const fields: string[] = [];
  let at = 0;
  const out = r.stdout;
  for (let k = out.indexOf(0); k >= 0; k = out.indexOf(0, at)) {
    fields.push(out.subarray(at, k).toString('utf8'));
    at = k + 1;
  }
  if (at < out.length) fields.push(out.subarray(at).toString('utf8'));
  return { out: fields, status: r.status, stderr: r.stderr.toString('utf8') };
}

/**
 * Runs the jobs in batches (one shell per ~100 KB of script: -c arguments are capped at
 * 128 KiB) and, if a batch goes wrong, each of its jobs alone to name the culprit.
 */
function check(shell: string, jobs: readonly Job[], seed: string): void {
  const batches: Job[][] = [[]];
  let size = 0;
  for (const job of jobs) {
    if (size + job.script.length > 100_000) {
      batches.push([]);
      size = 0;
    }
    (batches[batches.length - 1] as Job[]).push(job);
    size += job.script.length + 1;
  }
  for (const batch of batches) {
    const r = run(shell, batch.map((j) => j.script).join('\n'));
    const expected = batch.map((j) => j.kase.expect(j.value));
    if (
      r.status === 0 &&
      r.out.length === expected.length &&
      r.out.every((o, k) => o === expected[k])
    )
      continue;
    for (const job of batch) {
      const one = run(shell, job.script);
      assert.deepEqual(
        one.out,
        [job.kase.expect(job.value)],
        `${shell}, ${job.kase.name}, seed ${seed}, value ${JSON.stringify(job.value)}\n` +
          `script: ${JSON.stringify(job.script)}\nstderr: ${one.stderr}`,
      );
    }
    assert.fail(`${shell}: a batch failed but each job alone passed (seed ${seed}): ${r.stderr}`);
  }
  assert.deepEqual(readdirSync(sandbox), [], `${shell}: a value ran a command (seed ${seed})`);
}

// A fixed seed keeps CI deterministic; set BATON_FUZZ_SEED to explore others. Random seeds
// found one real shell bug that no quoting can avoid: dash 0.5.12 drops a byte >= 0x80 that
// follows a here-document line beginning with a prefix of the delimiter (e.g. "B" then
// U+1F389 under <<BATON_END). Values stay literal elsewhere; no seed has found an injection.
const seed = process.env.BATON_FUZZ_SEED ?? '20261125';
const rand = prng(Number(seed));
const randomValues = Array.from({ length: 400 }, () => randomString(rand));

for (const shell of ['/bin/sh', 'bash']) {
  describe(`shell quoting under ${shell}`, () => {
    it('keeps hostile values literal in every context', () => {
      check(shell, jobsFor(hostile), 'none (fixed corpus)');
    });

    it(`keeps random values literal in every context (seed ${seed})`, () => {
      check(shell, jobsFor(randomValues), seed);
    });
  });
}
