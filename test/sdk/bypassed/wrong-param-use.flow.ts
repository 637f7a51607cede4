// expect: task "extract": "resources.cpu" must be a number, got params.region (a string)
// at: 10
import { flow, param } from 'baton/sdk';

export default flow(
  'types',
  { params: { region: param.string({ default: 'eu' }) } },
  ({ task, params }) => {
    // @ts-expect-error: the wrong type the types catch; here it reaches the runtime check.
    task('extract', {
      run: './extract',
      resources: { cpu: params.region },
    });
  },
);
