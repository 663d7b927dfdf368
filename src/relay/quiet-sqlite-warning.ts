/**
 * Drops Node 22's one-time "SQLite is an experimental feature" warning from the CLI's output (imported first by
 * ./cli.ts, so that it runs before `node:sqlite` is loaded). Every other warning is printed as usual.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === "string" ? warning : warning.message;
  if (/SQLite is an experimental feature/.test(text)) return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
