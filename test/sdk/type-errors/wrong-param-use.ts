// A parameter is used where its type does not fit.
import { flow, param } from 'baton/sdk';

export default flow(
  'types',
  { params: { region: param.string({ default: 'eu' }), days: param.int({ default: 7 }) } },
  ({ task, params }) => {
    task('extract', { run: './extract', resources: { cpu: params.region } }); // expect: TS2769 Type 'Ref<string>' is not assignable to type 'Ref<number>'
    task('check', { run: './check', if: params.days }); // expect: TS2769 Type 'Ref<number>' is not assignable to type 'Ref<boolean>'
    task('count', ({ params }) => {
      params.days.toUpperCase(); // expect: TS2339
    });
  },
);
