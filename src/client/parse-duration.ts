const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration as Trustroot writes them — whole seconds (`90`) or units (`90s`, `15m`,
 * `24h`, `7d`, also combined: `1h30m`) — into milliseconds. Zero is allowed (`--wait 0`: try
 * once); anything else that is not a whole, finite duration throws a `RangeError` naming the input.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return checked(Number(trimmed) * 1_000, text);
  const parts = [...trimmed.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== trimmed) {
    throw new RangeError(`"${text}" is not a duration (use e.g. 90s, 15m, 24h, 7d)`);
  }
  return checked(parts.reduce((sum, part) => sum + Number(part[1]) * (UNIT_MS[part[2] ?? ''] ?? Number.NaN), 0), text);
}

function checked(ms: number, text: string): number {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`"${text}" is too long a duration`);
  return ms;
}

/** A duration in milliseconds as a short human text: `45s`, `12m30s`, `3h05m`, `2d04h`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1_000);
  const sign = ms < 0 && seconds > 0 ? '-' : '';
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const rest = seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (days > 0) return `${sign}${days}d${two(hours)}h`;
  if (hours > 0) return `${sign}${hours}h${two(minutes)}m`;
  if (minutes > 0) return `${sign}${minutes}m${two(rest)}s`;
  return `${sign}${rest}s`;
}
