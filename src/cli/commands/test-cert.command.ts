import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyAlgorithmDto } from '../../contracts/requests.ts';
import type { CliCommand } from '../cli-command.ts';
import { CliFailure, UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { CREDENTIAL_FILES, CredentialDirectory } from '../credential-directory.ts';
import { ExitCode } from '../exit-codes.ts';
import { namesFromOptions } from '../san-options.ts';
import { formatFields, writeJson, writeResult } from '../write-output.ts';

/** The CLI's key type names → the API's `generateKey` values. */
const GENERATED_KEY_TYPES: Readonly<Record<string, KeyAlgorithmDto>> = {
  p256: 'ecdsa-p256',
  p384: 'ecdsa-p384',
  ed25519: 'ed25519',
  rsa2048: 'rsa-2048',
  rsa3072: 'rsa-3072',
  rsa4096: 'rsa-4096',
};

/** `trustroot test-cert`: a short-lived certificate from the separate test CA, for CI. */
export const testCertCommand: CliCommand = {
  path: ['test-cert'],
  summary: 'get a short-lived CI test certificate (test CA, server-generated key) with a ci token',
  synopsis: '--name NAME --out DIR [--san NAME]… [--p12 --password-env VAR] [options]',
  description: `
Asks for a certificate of the test profile with a ci API token (TRUSTROOT_TOKEN); the CA
generates the key and returns it once. Writes key.pem (0600), cert.pem, chain.pem and ca.pem —
the TEST root, which never verifies production certificates (nor the other way round) — and,
with --p12, bundle.p12 (0600) protected by the password in the environment variable VAR.
Names must fit the test policy: localhost, *.test, 127.0.0.1, ::1, spiffe://test/*.`,
  groups: [
    {
      title: 'Options',
      options: {
        name: { type: 'string', value: 'NAME', description: 'primary name (e.g. localhost or app.test)' },
        san: { type: 'string', value: 'NAME', multiple: true, description: 'another name; repeatable' },
        ttl: { type: 'string', value: 'DURATION', description: "lifetime (default the profile's: 1h; at most 24h)" },
        'key-type': { type: 'string', value: 'TYPE', default: 'p256', description: `key the CA generates: ${Object.keys(GENERATED_KEY_TYPES).join(', ')}` },
        profile: { type: 'string', value: 'PROFILE', default: 'test', description: 'certificate profile (a test profile)' },
        out: { type: 'string', value: 'DIR', description: 'directory for key.pem, cert.pem, chain.pem, ca.pem (and bundle.p12)' },
        p12: { type: 'boolean', description: 'also write bundle.p12 (PKCS#12 with key, certificate and chain)' },
        'password-env': { type: 'string', value: 'VAR', description: 'environment variable holding the PKCS#12 password (with --p12)' },
      },
    },
    TOKEN_OPTIONS,
    connectionOptions('60s'),
  ],
  examples: ['TRUSTROOT_TOKEN=$CI_TOKEN P12_PASSWORD=changeit trustroot test-cert --name localhost --san 127.0.0.1 --out ./tls --p12 --password-env P12_PASSWORD'],
  async run(context) {
    const { options, io } = context;
    const out = options.requiredString('out');
    const names = namesFromOptions(options.requiredString('name'), options.list('san'));
    const keyType = options.choice('key-type', Object.keys(GENERATED_KEY_TYPES)) ?? 'p256';
    const generateKey = GENERATED_KEY_TYPES[keyType];
    if (generateKey === undefined) throw new UsageError(`--key-type ${keyType} is not supported`);
    const ttl = options.string('ttl');
    if (ttl !== undefined) options.duration('ttl');
    let password: string | undefined;
    if (options.flag('p12')) {
      const variable = options.string('password-env');
      if (variable === undefined) throw new UsageError('--p12 needs --password-env VAR (the password is never taken from the command line)');
      password = io.env[variable];
      if (password === undefined || password === '') throw new UsageError(`the environment variable ${variable} (--password-env) is not set`);
    } else if (options.string('password-env') !== undefined) {
      throw new UsageError('--password-env goes with --p12');
    }
    const token = await requireToken(context, 'a ci API token');
    const directory = new CredentialDirectory(out);
    await directory.prepare();

    const client = await connectToCa(context, { token });
    const issued = await client.issueCertificate({
      profile: options.requiredString('profile'),
      generateKey,
      sans: names,
      ...(ttl !== undefined ? { ttl } : {}),
      ...(password !== undefined ? { pkcs12Password: password } : {}),
    });
    if (issued.privateKey === undefined) throw new CliFailure('the CA returned no private key; nothing was written');
    if (password !== undefined && issued.pkcs12 === undefined) throw new CliFailure('the CA returned no PKCS#12 bundle; nothing was written');
    if (!new X509Certificate(issued.certificate).checkPrivateKey(createPrivateKey(issued.privateKey))) {
      throw new CliFailure('the returned key does not belong to the returned certificate; nothing was written');
    }
    // The test root comes from the public listener, checked against the fingerprint the CA reports over the pinned HTTPS.
    const testRootPem = await client.issuerCertificatePem('test-root');
    await directory.write({
      keyPem: issued.privateKey,
      certificatePem: issued.certificate,
      chainPem: issued.chain,
      rootPem: testRootPem,
      ...(issued.pkcs12 !== undefined ? { pkcs12: Buffer.from(issued.pkcs12, 'base64') } : {}),
    });
    const files = {
      key: directory.file(CREDENTIAL_FILES.key),
      certificate: directory.file(CREDENTIAL_FILES.certificate),
      chain: directory.file(CREDENTIAL_FILES.chain),
      root: directory.file(CREDENTIAL_FILES.root),
      ...(issued.pkcs12 !== undefined ? { pkcs12: directory.file(CREDENTIAL_FILES.pkcs12) } : {}),
    };
    if (context.json) {
      writeJson(io, { serial: issued.serial, profile: issued.profile, notBefore: issued.notBefore, notAfter: issued.notAfter, names, files });
    } else {
      writeResult(io, formatFields([['serial', issued.serial], ['profile', issued.profile], ['not after', issued.notAfter], ['files', Object.values(files).join(' ')]]));
    }
    return ExitCode.ok;
  },
};
