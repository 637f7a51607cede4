import assert from 'node:assert/strict';
import { test } from 'node:test';
import { didYouMean, editDistance, suggest } from '../../src/spec/suggest.ts';

test('editDistance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('retries', 'retires'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
});

test('suggest finds close names only, ignoring case', () => {
  assert.equal(suggest('retires', ['retry_delay', 'retries', 'run']), 'retries');
  assert.equal(suggest('Retries', ['retries']), 'retries');
  assert.equal(suggest('xyz', ['retries', 'run']), undefined);
  // Short words allow one edit, so "ab" does not become "xy".
  assert.equal(suggest('ab', ['xy']), undefined);
});

test('didYouMean phrases the suggestion, or says nothing', () => {
  assert.equal(didYouMean('extrct', ['extract', 'clean']), ' (did you mean "extract"?)');
  assert.equal(didYouMean('zzz', ['extract']), '');
});
