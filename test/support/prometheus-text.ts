/**
 * A strict parser of the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests.
 *
 * Written here because the npm parser (`parse-prometheus-text-format` 1.1.1) ships no types,
 * accepts non-numeric values and collapses labelled histograms into one bucket set. This one
 * rejects anything the format does not allow, so that a test passing means Prometheus would
 * accept the scrape:
 * - metric and label names match the format's grammars; `__` label names are reserved;
 * - label values use only the `\\`, `\"` and `\n` escapes; HELP text only `\\` and `\n`;
 * - values are Go floats (`NaN`, `+Inf`, `-Inf` included), timestamps integer milliseconds;
 * - at most one HELP and one TYPE per family, both before its first sample;
 * - a family's lines form one group; no sample (name + label set) appears twice;
 * - histograms have cumulative `_bucket`s ending at `le="+Inf"` equal to `_count`, and `_sum`;
 * - counters are not negative; the input ends with a line feed.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PrometheusSample {
  /** The sample's own name (`x_bucket`, `x_sum`… for histograms and summaries). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: PrometheusSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TIMESTAMP = /^-?\d+$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

class ParseError extends Error {
  constructor(lineNumber: number, message: string) {
    super(`line ${lineNumber}: ${message}`);
    this.name = 'PrometheusTextParseError';
  }
}

function parseFloatStrict(text: string, where: () => ParseError): number {
  if (/^[+]?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!FLOAT.test(text)) throw where();
  return Number(text);
}

function unescapeHelp(text: string, lineNumber: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else throw new ParseError(lineNumber, `invalid escape "\\${next ?? ''}" in HELP`);
  }
  return out;
}

/** Reads `name{labels} value [timestamp]` from one line (leading/trailing blanks allowed). */
function parseSampleLine(line: string, lineNumber: number): PrometheusSample {
  let i = 0;
  const fail = (message: string): ParseError => new ParseError(lineNumber, `${message}: ${JSON.stringify(line)}`);
  const skipBlanks = (): void => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  skipBlanks();
  const nameStart = i;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line.charAt(i))) i++;
  const name = line.slice(nameStart, i);
  if (!METRIC_NAME.test(name)) throw fail('invalid metric name');
  const labels: Record<string, string> = {};
  const afterName = i;
  skipBlanks();
  if (line[i] !== '{') {
    // No label set: the blank(s) just skipped separate the name from the value.
    i = afterName;
  } else {
    i++;
    for (;;) {
      skipBlanks();
      if (line[i] === '}') {
        i++;
        break;
      }
      const labelStart = i;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line.charAt(i))) i++;
      const labelName = line.slice(labelStart, i);
      if (!LABEL_NAME.test(labelName)) throw fail('invalid label name');
      if (labelName.startsWith('__')) throw fail(`reserved label name ${labelName}`);
      if (Object.hasOwn(labels, labelName)) throw fail(`label ${labelName} repeated`);
      skipBlanks();
      if (line[i] !== '=') throw fail('expected "=" after label name');
      i++;
      skipBlanks();
      if (line[i] !== '"') throw fail('expected a quoted label value');
      i++;
      let value = '';
      for (;;) {
        if (i >= line.length) throw fail('unterminated label value');
        const c = line.charAt(i++);
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = line.charAt(i++);
        if (escaped === '\\') value += '\\';
        else if (escaped === '"') value += '"';
        else if (escaped === 'n') value += '\n';
        else throw fail(`invalid escape "\\${escaped}" in label value`);
      }
      labels[labelName] = value;
      skipBlanks();
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      throw fail('expected "," or "}" after a label');
    }
  }
  if (line[i] !== ' ' && line[i] !== '\t') throw fail('expected a blank before the value');
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw fail('expected a value and an optional timestamp');
  const [valueText = '', timestampText] = rest;
  const value = parseFloatStrict(valueText, () => fail(`invalid value ${JSON.stringify(valueText)}`));
  const sample: PrometheusSample = { name, labels, value };
  if (timestampText !== undefined) {
    if (!TIMESTAMP.test(timestampText)) throw fail(`invalid timestamp ${JSON.stringify(timestampText)}`);
    sample.timestampMs = Number(timestampText);
  }
  return sample;
}

/** The sample names a family of `type` may contain. */
function memberNames(family: string, type: MetricType): string[] {
  switch (type) {
    case 'histogram':
      return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
    case 'summary':
      return [family, `${family}_sum`, `${family}_count`];
    default:
      return [family];
  }
}

function labelKey(labels: Record<string, string>, without?: string): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([name]) => name !== without)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function checkFamily(family: MetricFamily): void {
  const fail = (message: string): Error => new Error(`family ${family.name}: ${message}`);
  if (family.type === 'counter') {
    for (const sample of family.samples) if (sample.value < 0) throw fail('counter value is negative');
  }
  if (family.type === 'summary') {
    for (const sample of family.samples) {
      if (sample.name === family.name && sample.labels.quantile === undefined) throw fail('summary sample without quantile');
    }
  }
  if (family.type !== 'histogram') return;
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const key = labelKey(sample.labels, 'le');
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le;
      if (le === undefined) throw fail('bucket without le');
      entry.buckets.push([parseFloatStrict(le, () => fail(`invalid le ${JSON.stringify(le)}`)), sample.value]);
    } else if (sample.name === `${family.name}_sum`) {
      if (sample.labels.le !== undefined) throw fail('_sum with an le label');
      entry.sum = sample.value;
    } else {
      if (sample.labels.le !== undefined) throw fail('_count with an le label');
      entry.count = sample.value;
    }
  }
  for (const [key, entry] of series) {
    const buckets = [...entry.buckets].sort((a, b) => a[0] - b[0]);
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw fail(`series ${key} has no le="+Inf" bucket`);
    for (let i = 1; i < buckets.length; i++) {
      const previous = buckets[i - 1];
      const current = buckets[i];
      if (previous && current && current[1] < previous[1]) throw fail(`series ${key} buckets are not cumulative`);
    }
    if (entry.count === undefined || entry.sum === undefined) throw fail(`series ${key} lacks _count or _sum`);
    if (entry.count !== last[1]) throw fail(`series ${key}: _count ${entry.count} differs from the +Inf bucket ${last[1]}`);
  }
}

/**
 * Parses a whole exposition into its metric families, keyed by family name, in document order.
 * Throws on the first violation of the format, naming the line.
 */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, MetricFamily>();
  const seenSamples = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  const open = (name: string, lineNumber: number): MetricFamily => {
    if (current?.name === name) return current;
    if (families.has(name)) throw new ParseError(lineNumber, `lines of ${name} are not one group`);
    current = { name, type: 'untyped', help: undefined, samples: [] };
    families.set(name, current);
    return current;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.replace(/^[ \t]+/, '');
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name)) throw new ParseError(lineNumber, `invalid metric name ${JSON.stringify(name)}`);
      const family = open(name, lineNumber);
      if (family.samples.length > 0) throw new ParseError(lineNumber, `${keyword} of ${name} after its samples`);
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new ParseError(lineNumber, `second HELP for ${name}`);
        family.help = unescapeHelp(rest, lineNumber);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.includes(type)) throw new ParseError(lineNumber, `unknown type ${JSON.stringify(rest)}`);
        if (typed.has(name)) throw new ParseError(lineNumber, `second TYPE for ${name}`);
        typed.add(name);
        family.type = type;
      }
      return;
    }
    const sample = parseSampleLine(line, lineNumber);
    const family = current && memberNames(current.name, current.type).includes(sample.name) ? current : open(sample.name, lineNumber);
    if (family.type === 'histogram' && sample.name === `${family.name}_bucket` && sample.labels.le === undefined) {
      throw new ParseError(lineNumber, `histogram bucket of ${family.name} without le`);
    }
    const key = `${sample.name}${labelKey(sample.labels)}`;
    if (seenSamples.has(key)) throw new ParseError(lineNumber, `duplicate sample ${sample.name} ${labelKey(sample.labels)}`);
    seenSamples.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) checkFamily(family);
  return families;
}
