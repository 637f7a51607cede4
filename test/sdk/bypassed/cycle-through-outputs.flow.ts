// expect: tasks form a cycle: a -> b -> a (each needs the one before it)
// at: 7
import { flow } from 'baton/sdk';

export default flow('cycle', ({ task }) => {
  // A task id as text instead of the task: the types cannot see the cycle this makes.
  const a = task('a', { run: './a', needs: ['b'], outputs: ['y'] });
  task('b', { run: ['./b', a.outputs.y] });
});
