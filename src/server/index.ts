/**
 * The dashboard's server: REST API, server-sent events and the single-page app's files.
 * It reads the store (and the log store) only; actions become command rows.
 */
export { type App, type AppOptions, createApp, ROUTES } from './app.ts';
export { openApiDocument } from './openapi.ts';
export { type RunHold, runHold } from './run-hold.ts';
export {
  type Dashboard,
  type DashboardOptions,
  DEFAULT_PORT,
  startDashboard,
} from './start-dashboard.ts';
export { whyWaiting } from './why-waiting.ts';
