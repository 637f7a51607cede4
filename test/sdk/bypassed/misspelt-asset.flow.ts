// expect: unknown asset "raw_sale" (did you mean "raw_sales"?); declared: raw_sales
// at: 11
import { flow } from 'baton/sdk';

export default flow('typos', ({ task }) => {
  const extract = task('extract', {
    run: './extract',
    produces: { raw_sales: { path: 'data/raw/' } },
  });
  // @ts-expect-error: the misspelling the types catch; here it reaches the runtime check.
  task('clean', { run: './clean', map: extract.assets.raw_sale.partitions });
});
