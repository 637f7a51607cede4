/**
 * Finds where in a YAML file a document path lives, so every problem can say
 * `file:line:col` however it was found (YAML parser, schema, document checks).
 */
import type { LineCounter, Node, Pair, Scalar } from 'yaml';
import type { NodePath } from './path-problem.ts';
import { yamlLib } from './yaml-lib.ts';

/** A 1-based line and column. */
export interface LineCol {
  readonly line: number;
  readonly col: number;
}

/** Maps document paths (and offsets inside string values) to lines and columns. */
export class YamlLocator {
  readonly #root: unknown;
  readonly #lines: LineCounter;
  readonly #source: string;

  /** `root` is `document.contents`; `lines` must be the counter the parser filled. */
  constructor(root: unknown, lines: LineCounter, source: string) {
    this.#root = root;
    this.#lines = lines;
    this.#source = source;
  }

  /** Position of a source offset. */
  at(offset: number): LineCol {
    return this.#lines.linePos(offset);
  }

  /**
   * Position of the value (or of its key) at `path`. A path that goes further than the
   * document (a missing key) lands on the deepest key that exists, which is where the
   * missing key belongs. `offset` moves inside a string value (expression problems).
   */
  locate(path: NodePath, target: 'key' | 'value', offset?: number): LineCol {
    let node: unknown = this.#root;
    let pair: Pair | undefined;
    let complete = true;
    for (const part of path) {
      const next = child(node, part);
      if (next === undefined) {
        complete = false;
        break;
      }
      node = next.node;
      pair = next.pair ?? pair;
    }
    if (!complete || target === 'key') {
      const key = pair?.key;
      if (isNodeWithRange(key)) return this.at(key.range[0]);
    }
    if (!isNodeWithRange(node)) return { line: 1, col: 1 };
    if (offset !== undefined && yamlLib().isScalar(node))
      return this.at(this.#scalarOffset(node, offset));
    return this.at(node.range[0]);
  }

  // Quoted and block scalars differ from their value by quotes, escapes and indentation;
  // this gets quotes and block indentation right and escapes approximately.
  #scalarOffset(node: Scalar & { range: [number, number, number] }, offset: number): number {
    const start = node.range[0];
    if (
      node.type === yamlLib().Scalar.QUOTE_DOUBLE ||
      node.type === yamlLib().Scalar.QUOTE_SINGLE
    ) {
      return start + 1 + offset;
    }
    if (
      node.type === yamlLib().Scalar.BLOCK_LITERAL ||
      node.type === yamlLib().Scalar.BLOCK_FOLDED
    ) {
      const text = String(node.value);
      const before = text.slice(0, offset);
      const lineIndex = before.split('\n').length - 1;
      const column = offset - (before.lastIndexOf('\n') + 1);
      let pos = this.#source.indexOf('\n', start);
      if (pos < 0) return start;
      // Skip to the value's line, then over its indentation.
      for (let i = 0; i < lineIndex && pos >= 0; i++) pos = this.#source.indexOf('\n', pos + 1);
      if (pos < 0) return start;
      let lineStart = pos + 1;
      while (this.#source[lineStart] === ' ') lineStart++;
      return lineStart + column;
    }
    return start + offset;
  }
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as Node).range);
}

function child(node: unknown, part: string | number): { node: unknown; pair?: Pair } | undefined {
  if (yamlLib().isMap(node)) {
    for (const item of node.items) {
      if (!yamlLib().isPair(item)) continue;
      const key = yamlLib().isScalar(item.key) ? item.key.value : item.key;
      if (String(key) === String(part)) return { node: item.value ?? item.key, pair: item };
    }
    return undefined;
  }
  if (yamlLib().isSeq(node) && typeof part === 'number') {
    const item = node.items[part];
    return item === undefined ? undefined : { node: item };
  }
  return undefined;
}
