// Airflow's TaskFlow tutorial (extract -> transform -> load), ported to Baton's SDK;
// docs/sdk.md walks through it. Each function runs in its own process; what one returns
// is what the next receives. Run it from the repository root:
//
//   node src/cli/main.ts run examples/taskflow/flow.ts
//   node src/cli/main.ts logs RUN load
import { flow } from 'baton/sdk';

export default flow(
  'order_totals',
  { description: "Sum a day's orders and report the total." },
  ({ task }) => {
    // Stands in for a call to an order API: order id -> amount.
    const extract = task('extract', () => {
      const orders: Record<string, number> = JSON.parse(
        '{"A-17": 120.5, "A-18": 79.25, "A-19": 300}',
      );
      return { orders };
    });

    const transform = task(
      'transform',
      { inputs: { orders: extract.outputs.orders } },
      ({ inputs }) => {
        const total = Object.values(inputs.orders).reduce((sum, amount) => sum + amount, 0);
        return { total, count: Object.keys(inputs.orders).length };
      },
    );

    task('load', { inputs: { total: transform.outputs.total } }, ({ inputs }) => {
      console.log(`Total order value: ${inputs.total.toFixed(2)}`);
    });
  },
);
