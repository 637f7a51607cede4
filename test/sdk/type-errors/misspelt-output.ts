// A task uses an output its upstream does not declare.
import { flow } from 'baton/sdk';

export default flow('typos', ({ task }) => {
  const extract = task('extract', { run: './extract', outputs: ['path', 'rows'] });
  task('load', { run: ['./load', extract.outputs.pth] }); // expect: TS2551 Did you mean 'path'?
  const sum = task('sum', () => ({ total: 3 }));
  task('print', { run: `echo ${sum.outputs.totl}` }); // expect: TS2551 Did you mean 'total'?
});
