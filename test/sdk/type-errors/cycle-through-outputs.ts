// Two tasks use each other's outputs: one of them must use the other before it exists.
import { flow } from 'baton/sdk';

export default flow('cycle', ({ task }) => {
  const a = task('a', { run: ['./a', b.outputs.x], outputs: ['y'] }); // expect: TS2448 TS2454 TS7022 Block-scoped variable 'b' used before its declaration
  const b = task('b', { run: ['./b', a.outputs.y], outputs: ['x'] }); // expect: TS7022
});
