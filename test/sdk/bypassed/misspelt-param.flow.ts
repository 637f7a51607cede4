// expect: unknown parameter "regoin" (did you mean "region"?); declared: region
// at: 10
import { flow, param } from 'baton/sdk';

export default flow(
  'typos',
  { params: { region: param.string({ default: 'eu' }) } },
  ({ task, params }) => {
    // @ts-expect-error: the misspelling the types catch; here it reaches the runtime check.
    task('extract', { run: `./extract --region ${params.regoin}` });
  },
);
