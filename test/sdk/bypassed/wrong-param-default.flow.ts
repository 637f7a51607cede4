// expect: param "days": default must be an integer (type int), got "seven"
// at: 5
import { flow, param } from 'baton/sdk';

export default flow(
  'types',
  // @ts-expect-error: the wrong default the types catch; here it reaches validation.
  { params: { days: param.int({ default: 'seven' }) } },
  ({ task }) => {
    task('extract', { run: './extract' });
  },
);
