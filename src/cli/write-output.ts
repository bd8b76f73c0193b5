import type { CliIo } from './cli-io.ts';

/** A message or progress line on stderr, prefixed so that it stands out in a service's boot log. */
export function writeMessage(io: CliIo, message: string): void {
  io.stderr.write(`trustroot: ${message}\n`);
}

/** A result value as pretty JSON on stdout (`--json`). */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Result text on stdout, newline-terminated. */
export function writeResult(io: CliIo, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** `key  value` lines with the keys aligned, for a single record. */
export function formatFields(fields: [string, string | number | boolean | undefined][]): string {
  const shown = fields.filter((field): field is [string, string | number | boolean] => field[1] !== undefined && field[1] !== '');
  const width = Math.max(0, ...shown.map(([key]) => key.length)) + 2;
  return shown.map(([key, value]) => `${key.padEnd(width)}${String(value)}`).join('\n');
}

/**
 * A plain-text table: a header row, then one row per record, columns padded to their widest
 * cell (the last column is not padded). `(none)` when there are no rows.
 */
export function formatTable(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
