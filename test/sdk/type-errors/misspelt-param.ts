// A task uses a parameter the flow does not declare.
import { flow, param } from 'baton/sdk';

export default flow(
  'typos',
  { params: { region: param.string({ default: 'eu' }) } },
  ({ task, params }) => {
    task('extract', { run: `./extract --region ${params.regoin}` }); // expect: TS2551 Did you mean 'region'?
  },
);
