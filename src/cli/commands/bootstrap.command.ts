import { X509Certificate } from 'node:crypto';
import { KEY_TYPES, type KeyType } from '../../client/key-type.ts';
import { spkiSha256Fingerprint } from '../../client/sha256-fingerprint.ts';
import type { CliCommand } from '../cli-command.ts';
import { CliFailure } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { CREDENTIAL_FILES, CredentialDirectory } from '../credential-directory.ts';
import { ExitCode } from '../exit-codes.ts';
import { namesFromOptions } from '../san-options.ts';
import { formatFields, writeJson, writeResult } from '../write-output.ts';

/** `trustroot bootstrap`: a service's first certificate, from a locally generated key and a bootstrap token. */
export const bootstrapCommand: CliCommand = {
  path: ['bootstrap'],
  summary: "get a service's first certificate with a single-use bootstrap token",
  synopsis: '--name NAME --out DIR [--san NAME]… [options]',
  description: `
Generates the key on this host (it never leaves it), sends a CSR with the names, and exchanges
the bootstrap token (TRUSTROOT_TOKEN) for the certificate. The root is fetched from the CA's
public listener and must match --root-fingerprint before the token is sent. Writes key.pem
(0600), cert.pem, chain.pem (issuing CA, then root) and ca.pem (the root) to DIR, all or
nothing: a failure leaves DIR's previous files as they were.`,
  groups: [
    {
      title: 'Options',
      options: {
        name: { type: 'string', value: 'NAME', description: 'primary name: the subject CN and first SAN (e.g. billing.svc)' },
        san: { type: 'string', value: 'NAME', multiple: true, description: 'another DNS name, IP address or URI (SPIFFE ID); repeatable' },
        profile: { type: 'string', value: 'PROFILE', default: 'peer', description: 'certificate profile (peer, server, client…)' },
        'key-type': { type: 'string', value: 'TYPE', default: 'p256', description: `key to generate: ${KEY_TYPES.join(', ')}` },
        ttl: { type: 'string', value: 'DURATION', description: "requested lifetime (e.g. 24h); default the profile's, clamped to its maximum" },
        out: { type: 'string', value: 'DIR', description: 'directory for key.pem, cert.pem, chain.pem and ca.pem (created 0700 if missing)' },
      },
    },
    TOKEN_OPTIONS,
    connectionOptions('60s'),
  ],
  examples: [
    'TRUSTROOT_TOKEN=trb_… trustroot bootstrap --name billing.svc --san spiffe://corp/ns/prod/billing --out /etc/billing/tls',
  ],
  async run(context) {
    const { options, io } = context;
    const out = options.requiredString('out');
    const names = namesFromOptions(options.requiredString('name'), options.list('san'));
    const keyType = options.choice<KeyType>('key-type', KEY_TYPES) ?? 'p256';
    const profile = options.requiredString('profile');
    const ttl = options.string('ttl');
    if (ttl !== undefined) options.duration('ttl');
    const token = await requireToken(context, 'a bootstrap token');
    const directory = new CredentialDirectory(out);
    await directory.prepare();

    // The key exists before the token is spent, so that a key-generation failure costs nothing.
    // (Loaded here, not at start-up: @peculiar/x509 is slow to load and most commands need none of it.)
    const { generateKeyAndCsr } = await import('../../client/generate-key-and-csr.ts');
    const generated = await generateKeyAndCsr(keyType, { commonName: names[0], sans: names });
    const client = await connectToCa(context, { token });
    const issued = await client.issueCertificate({ csr: generated.csrPem, profile, ...(ttl !== undefined ? { ttl } : {}) });

    const certificate = new X509Certificate(issued.certificate);
    if (spkiSha256Fingerprint(certificate.publicKey) !== generated.spkiSha256) {
      throw new CliFailure(`the CA returned certificate ${issued.serial} for another key; nothing was written`);
    }
    await directory.write({ keyPem: generated.privateKeyPem, certificatePem: issued.certificate, chainPem: issued.chain, rootPem: client.rootPem });
    const files = {
      key: directory.file(CREDENTIAL_FILES.key),
      certificate: directory.file(CREDENTIAL_FILES.certificate),
      chain: directory.file(CREDENTIAL_FILES.chain),
      root: directory.file(CREDENTIAL_FILES.root),
    };
    if (context.json) {
      writeJson(io, {
        service: issued.service,
        serial: issued.serial,
        profile: issued.profile,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        spkiSha256: generated.spkiSha256,
        rootFingerprint: client.rootFingerprint,
        files,
      });
    } else {
      writeResult(
        io,
        formatFields([
          ['service', issued.service],
          ['serial', issued.serial],
          ['profile', issued.profile],
          ['not after', issued.notAfter],
          ['root sha256', client.rootFingerprint],
          ['files', Object.values(files).join(' ')],
        ]),
      );
    }
    return ExitCode.ok;
  },
};
