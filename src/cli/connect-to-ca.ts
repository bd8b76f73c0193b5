import { readFile } from 'node:fs/promises';
import { formatDuration } from '../client/parse-duration.ts';
import { normalizeFingerprint } from '../client/sha256-fingerprint.ts';
import { TrustrootClient, type ClientCertificate } from '../client/trustroot-client.ts';
import type { CommandContext, OptionGroup } from './cli-command.ts';
import { UsageError } from './cli-failure.ts';
import { writeMessage } from './write-output.ts';

/** `--ca-url`, `--public-url`, `--root-fingerprint` and `--wait`, with `wait` defaulting to `defaultWait`. */
export function connectionOptions(defaultWait: string): OptionGroup {
  return {
    title: 'Connection',
    options: {
      'ca-url': { type: 'string', value: 'URL', env: 'TRUSTROOT_CA_URL', description: 'HTTPS API of the CA, e.g. https://trustroot.internal:8443' },
      'public-url': {
        type: 'string',
        value: 'URL',
        env: 'TRUSTROOT_PUBLIC_URL',
        description: "the CA's plain-HTTP listener (root, CRLs); default: the CA URL's host on port 8080, over http",
      },
      'root-fingerprint': {
        type: 'string',
        value: 'SHA256',
        env: 'TRUSTROOT_ROOT_FINGERPRINT',
        description: 'SHA-256 of the root CA certificate (hex, colons and "sha256:" allowed); checked before any token is sent',
      },
      wait: { type: 'string', value: 'DURATION', default: defaultWait, description: 'keep retrying an unreachable or unavailable (503) CA this long' },
    },
  };
}

/** `--token` and `--token-file`; the environment variable is the recommended way. */
export const TOKEN_OPTIONS: OptionGroup = {
  title: 'Credentials',
  options: {
    token: { type: 'string', value: 'TOKEN', env: 'TRUSTROOT_TOKEN', description: 'API or bootstrap token (prefer the environment variable: argv is visible to other users)' },
    'token-file': { type: 'string', value: 'FILE', description: 'read the token from this file instead' },
  },
};

/** The token from `--token-file`, `--token` or TRUSTROOT_TOKEN; `undefined` when none is given. */
export async function resolveToken(context: CommandContext): Promise<string | undefined> {
  const file = context.options.string('token-file');
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--token-file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    const token = text.trim();
    if (token === '') throw new UsageError(`--token-file ${file} is empty`);
    return token;
  }
  if (context.options.given('token')) {
    writeMessage(context.io, 'note: a token on the command line is visible to other users of this host; prefer TRUSTROOT_TOKEN or --token-file');
  }
  return context.options.string('token');
}

/** Like {@link resolveToken}, but a usage error when there is none. */
export async function requireToken(context: CommandContext, what: string): Promise<string> {
  const token = await resolveToken(context);
  if (token === undefined || token === '') throw new UsageError(`${what} is needed: set TRUSTROOT_TOKEN, or give --token-file (or --token)`);
  return token;
}

export interface ConnectRequest {
  token?: string;
  clientCertificate?: ClientCertificate;
  /** A root already held (renewal's ca.pem); the fingerprint then defaults to its own. */
  rootPem?: string;
  rootFingerprint?: string;
}

/**
 * Validates the connection options (usage errors first, before anything is sent), then pins the
 * root and returns a client. Retries are reported on stderr.
 */
export async function connectToCa(context: CommandContext, request: ConnectRequest = {}): Promise<TrustrootClient> {
  const { options, io } = context;
  const caUrl = options.requiredString('ca-url');
  const publicUrl = options.string('public-url');
  const fingerprint = options.string('root-fingerprint') ?? request.rootFingerprint;
  if (fingerprint === undefined) throw new UsageError(`${options.label('root-fingerprint')} is required`);
  try {
    normalizeFingerprint(fingerprint);
  } catch (error) {
    throw new UsageError(`${options.label('root-fingerprint')}: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const [name, value] of [['ca-url', caUrl], ['public-url', publicUrl]] as const) {
    if (value === undefined) continue;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (name === 'ca-url' ? url.protocol !== 'https:' : !['http:', 'https:'].includes(url.protocol))) {
      throw new UsageError(`${options.label(name)} must be an ${name === 'ca-url' ? 'https' : 'http(s)'} URL, not "${value}"`);
    }
  }
  const waitMs = options.duration('wait') ?? 0;
  return TrustrootClient.connect({
    caUrl,
    rootFingerprint: fingerprint,
    ...(publicUrl !== undefined ? { publicUrl } : {}),
    ...(request.rootPem !== undefined ? { rootPem: request.rootPem } : {}),
    ...(request.token !== undefined ? { token: request.token } : {}),
    ...(request.clientCertificate !== undefined ? { clientCertificate: request.clientCertificate } : {}),
    retry: { budgetMs: waitMs },
    onRetry: (event) =>
      writeMessage(io, `CA unavailable (${event.reason}); retrying ${event.operation} in ${formatDuration(event.delayMs)} (attempt ${event.attempt + 1}, waiting up to ${formatDuration(waitMs)})`),
  });
}
