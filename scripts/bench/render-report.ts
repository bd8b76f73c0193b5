/**
 * `node --import tsx scripts/bench/render-report.ts bench/results/<timestamp>.json`: renders a
 * stored full run again (after a change to the report's wording) into BENCHMARKS.md's latest
 * section and next to the JSON, without measuring anything.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderMarkdown, updateBenchmarksMd, type BenchResults } from './bench-report.ts';

const file = process.argv[2];
if (file === undefined || !file.endsWith('.json')) {
  process.stderr.write('usage: node --import tsx scripts/bench/render-report.ts bench/results/<timestamp>.json\n');
  process.exit(2);
}
const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
const markdown = renderMarkdown(results);
await writeFile(file.replace(/\.json$/, '.md'), markdown);
if (results.mode === 'full') await updateBenchmarksMd(path.resolve(import.meta.dirname, '../../BENCHMARKS.md'), markdown);
process.stdout.write(markdown);
