// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
// The example pipeline of flow.yaml, written with the TypeScript SDK: the same tasks,
// and the same FlowSpec once loaded (test/sdk/same-spec.test.ts checks it). Run it from
// the repository root:
//
//   node src/cli/main.ts run examples/sales/flow.ts -p currency=USD
//   node src/cli/main.ts export examples/sales/flow.ts     # the YAML it stands for
//
// No `needs` here: a task that uses another's outputs runs after it.
import { expr, flow, param } from 'baton/sdk';

export default flow(
  'sales_report',
  {
    description: 'Monthly sales per region from a CSV export, in EUR or USD.',
    params: {
      currency: param.string({
        default: 'EUR',
        enum: ['EUR', 'USD'],
        description: 'Currency of the report.',
      }),
      top: param.int({ default: 5, description: 'How many products the report ranks.' }),
    },
    defaults: { timeout: '5m' },
  },
  ({ task, params }) => {
    // POSIX sh + awk: one CSV per region; outputs the region list, the row count, the run dir.
    const extract = task('extract', {
      description: 'Split the export by region.',
      run: 'sh scripts/extract.sh data/sales.csv',
      outputs: ['regions', 'rows', 'skipped', 'dir'],
      produces: { raw_sales: { path: 'out/${{ run.id }}/raw' } },
    });
    const raw = extract.assets.raw_sales;

    // Fan-out over the regions extract found; the region arrives as BATON_ITEM.
    const clean = task('clean', {
      description: 'Drop and count bad rows, one region per task run.',
      consumes: ['raw_sales'],
      map: extract.outputs.regions,
      max_parallel: expr`min(4, max(1, ${raw.rows} / 10000))`,
      resources: { memory: expr`max(64 * MiB, ${raw.bytes} / ${raw.files} * 8)` },
      run: ['node', 'scripts/clean.mjs', '--raw-dir', extract.outputs.dir],
    });

    // A flaky upstream: fails its first attempt on purpose, then succeeds.
    const fxRates = task('fx_rates', {
      description: "Fetch today's exchange rates (fails once, then the retry succeeds).",
      run: 'sh scripts/fx-rates.sh data/fx-rates.json',
      retries: 2,
      retry_delay: '1s',
      outputs: ['rates'],
    });

    // Fan-in: every region's output (a list in map order), and the chosen currency's rate.
    task('report', {
      description: 'Merge the regions into report.md and report.json.',
      run: [
        'node',
        'scripts/report.mjs',
        '--out-dir',
        extract.outputs.dir,
        '--currency',
        params.currency,
        '--rate',
        fxRates.outputs.rates.get(params.currency),
      ],
      env: { CLEAN: clean.outputs },
      produces: { sales_report: { description: "The month's sales report (markdown)." } },
    });
  },
);
