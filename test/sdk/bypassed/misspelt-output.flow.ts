// expect: task "extract" has no output "pth" (did you mean "path"?); declared: path, rows
// at: 9
import { flow } from 'baton/sdk';

export default flow('typos', ({ task }) => {
  const extract = task('extract', { run: './extract', outputs: ['path', 'rows'] });
  task('load', {
    // @ts-expect-error: the misspelling the types catch; here it reaches the runtime check.
    run: ['./load', extract.outputs.pth],
  });
});
