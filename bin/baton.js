#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=20
// Node >= 22.18 runs Baton's TypeScript sources directly (type stripping): no build step.
// A 2 MB young generation instead of V8's default: the orchestrator's peak RSS on a
// 10,000-task flow drops by ~55 MB for a few percent more GC time (see bench/). And a
// full GC once the old generation grew 20% past what the last one kept, not V8's
// default of 1.5-4×: a run's old generation is mostly promoted per-task garbage, ~35 MB
// live on a 10,000-task flow; peak RSS drops from ~160 MB to ~130 MB for about six
// more full GCs of ~5 ms each.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `baton needs Node.js 22.18 or newer (it runs its TypeScript sources directly); this is ${process.version}.\n` +
      'In a checkout, `npm run baton -- …` uses the Node 24 that npm installed.\n',
  );
  process.exit(2);
}
// Node's compile cache keeps the stripped and compiled sources on disk (under the system
// temp dir): from the second run on, startup takes half the time and ~30 MB less memory,
// because the TypeScript stripper is not even loaded.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
await import('../src/cli/main.ts');
