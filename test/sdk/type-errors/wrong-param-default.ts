// A parameter's default does not fit its type or its enum.
import { flow, param } from 'baton/sdk';

export default flow(
  'types',
  {
    params: {
      days: param.int({ default: 'seven' }), // expect: TS2322 Type 'string' is not assignable to type 'number'
      region: param.string({ default: 'asia', enum: ['eu', 'us'] }), // expect: TS2322 Type '"asia"' is not assignable
    },
  },
  ({ task }) => {
    task('extract', { run: './extract' });
  },
);
