import path from 'node:path';
import type { IssuerNameDto } from '../../contracts/ca.ts';
import type { CliCommand } from '../cli-command.ts';
import { connectToCa, connectionOptions } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { writeFilesAtomically } from '../write-files-atomically.ts';
import { writeJson, writeMessage } from '../write-output.ts';

const ISSUERS: readonly IssuerNameDto[] = ['intermediate', 'test-intermediate', 'root', 'test-root'];

/** `trustroot crl fetch`: an issuer's latest CRL, verified before it is written. */
export const crlFetchCommand: CliCommand = {
  path: ['crl', 'fetch'],
  summary: "fetch an issuer's latest CRL and verify its signature",
  synopsis: '[--issuer intermediate] [--out FILE] [--format pem|der] [options]',
  description: `
Fetches the CRL from the public listener (plain HTTP) and checks it against the issuer's
certificate obtained over the pinned HTTPS: a CRL that does not verify is never written.
Without --out the CRL is printed on stdout. No token is needed.`,
  groups: [
    {
      title: 'Options',
      options: {
        issuer: { type: 'string', value: 'ISSUER', default: 'intermediate', description: ISSUERS.join(', ') },
        out: { type: 'string', value: 'FILE', description: 'write the CRL here (atomically) instead of stdout' },
        format: { type: 'string', value: 'FORMAT', default: 'pem', description: 'pem or der' },
      },
    },
    connectionOptions('10s'),
  ],
  examples: ['trustroot crl fetch --issuer intermediate --out /etc/billing/tls/crl.pem'],
  async run(context) {
    const { options, io } = context;
    const issuer = options.choice('issuer', ISSUERS) ?? 'intermediate';
    const format = options.choice('format', ['pem', 'der'] as const) ?? 'pem';
    const out = options.string('out');
    const client = await connectToCa(context);
    const crl = await client.fetchCrl(issuer);
    const content = format === 'pem' ? crl.pem : crl.der;
    if (out !== undefined) {
      const target = path.resolve(out);
      await writeFilesAtomically(path.dirname(target), [{ name: path.basename(target), content, mode: 0o644 }]);
    }
    const summary = {
      issuer,
      crlNumber: crl.crlNumber,
      thisUpdate: crl.thisUpdate.toISOString(),
      nextUpdate: crl.nextUpdate?.toISOString(),
      revokedSerials: crl.revokedSerials,
      ...(out !== undefined ? { file: path.resolve(out) } : {}),
    };
    if (context.json) writeJson(io, out !== undefined || format === 'der' ? summary : { ...summary, pem: crl.pem });
    else if (out === undefined) io.stdout.write(content);
    writeMessage(
      io,
      `CRL of ${issuer} verified: number ${crl.crlNumber ?? '-'}, ${crl.revokedSerials.length} revoked, next update ${summary.nextUpdate ?? '-'}${out !== undefined ? `, written to ${path.resolve(out)}` : ''}`,
    );
    return ExitCode.ok;
  },
};
