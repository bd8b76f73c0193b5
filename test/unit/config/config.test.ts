import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseDurationSeconds } from '../../../src/config/config.ts';

const CWD = '/srv/trustroot';

describe('loadConfig defaults', () => {
  const config = loadConfig({}, CWD);

  it('listens on 8443 (HTTPS) and 8080 (HTTP) on all interfaces', () => {
    assert.equal(config.httpsPort, 8443);
    assert.equal(config.httpPort, 8080);
    assert.equal(config.listenHost, '0.0.0.0');
  });

  it('names localhost and 127.0.0.1 in the API certificate', () => {
    assert.deepEqual(config.hostnames, ['localhost', '127.0.0.1']);
  });

  it('derives the public HTTP URL from the first hostname and the HTTP port', () => {
    assert.equal(config.publicHttpUrl, 'http://localhost:8080');
  });

  it('resolves the data directory against cwd', () => {
    assert.equal(config.dataDir, path.join(CWD, 'data'));
  });

  it('gives the API certificate a 24h lifetime and uses an embedded database', () => {
    assert.equal(config.tlsCertificateTtlSeconds, 86_400);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.keyPassphrase, undefined);
    assert.equal(config.embeddedPostgresPort, 54329);
    assert.equal(config.databaseStartupTimeoutSeconds, 60);
    assert.equal(config.databaseQueryTimeoutSeconds, 5);
    assert.equal(config.bodyLimit, '64kb');
    assert.equal(config.logLevel, 'info');
  });
});

describe('loadConfig with explicit values', () => {
  it('derives the public URL from the configured first hostname and HTTP port', () => {
    const config = loadConfig({ TRUSTROOT_HOSTNAMES: ' ca.internal , 10.0.0.5 ,', TRUSTROOT_HTTP_PORT: '9080' }, CWD);
    assert.deepEqual(config.hostnames, ['ca.internal', '10.0.0.5']);
    assert.equal(config.publicHttpUrl, 'http://ca.internal:9080');
  });

  it('keeps an absolute data directory and a relative one under cwd', () => {
    assert.equal(loadConfig({ TRUSTROOT_DATA_DIR: '/var/lib/trustroot' }, CWD).dataDir, '/var/lib/trustroot');
    assert.equal(loadConfig({ TRUSTROOT_DATA_DIR: 'state/ca' }, CWD).dataDir, path.join(CWD, 'state/ca'));
  });

  it(
    'brackets an IPv6 first hostname in the derived public URL',
    () => {
      const config = loadConfig({ TRUSTROOT_HOSTNAMES: '::1,localhost' }, CWD);
      assert.equal(config.publicHttpUrl, 'http://[::1]:8080');
    },
  );

  it('strips trailing slashes from an explicit public URL', () => {
    assert.equal(loadConfig({ TRUSTROOT_PUBLIC_HTTP_URL: 'http://pki.example.org/' }, CWD).publicHttpUrl, 'http://pki.example.org');
  });

  it('accepts postgres:// and postgresql:// URLs and a 12-character passphrase', () => {
    for (const url of ['postgres://u:p@db:5432/ca', 'postgresql://u:p@db/ca']) {
      assert.equal(loadConfig({ DATABASE_URL: url }, CWD).databaseUrl, url);
    }
    assert.equal(loadConfig({ TRUSTROOT_KEY_PASSPHRASE: '123456789012' }, CWD).keyPassphrase, '123456789012');
  });

  it('parses the durations', () => {
    const config = loadConfig(
      { TRUSTROOT_TLS_CERT_TTL: '15m', TRUSTROOT_DB_CONNECT_TIMEOUT: '2m', TRUSTROOT_DB_QUERY_TIMEOUT: '10' },
      CWD,
    );
    assert.equal(config.tlsCertificateTtlSeconds, 900);
    assert.equal(config.databaseStartupTimeoutSeconds, 120);
    assert.equal(config.databaseQueryTimeoutSeconds, 10);
  });
});

describe('loadConfig refuses invalid values, naming the option', () => {
  const cases: { name: string; env: NodeJS.ProcessEnv; option: string }[] = [
    { name: 'HTTPS port out of range', env: { TRUSTROOT_HTTPS_PORT: '70000' }, option: 'TRUSTROOT_HTTPS_PORT' },
    { name: 'HTTPS port not a number', env: { TRUSTROOT_HTTPS_PORT: 'https' }, option: 'TRUSTROOT_HTTPS_PORT' },
    { name: 'HTTP port negative', env: { TRUSTROOT_HTTP_PORT: '-1' }, option: 'TRUSTROOT_HTTP_PORT' },
    { name: 'HTTP port fractional', env: { TRUSTROOT_HTTP_PORT: '80.5' }, option: 'TRUSTROOT_HTTP_PORT' },
    { name: 'HTTP port empty', env: { TRUSTROOT_HTTP_PORT: '' }, option: 'TRUSTROOT_HTTP_PORT' },
    { name: 'embedded PostgreSQL port', env: { TRUSTROOT_EMBEDDED_PG_PORT: '65536' }, option: 'TRUSTROOT_EMBEDDED_PG_PORT' },
    { name: 'TLS TTL not a duration', env: { TRUSTROOT_TLS_CERT_TTL: '1 day' }, option: 'TRUSTROOT_TLS_CERT_TTL' },
    { name: 'TLS TTL zero', env: { TRUSTROOT_TLS_CERT_TTL: '0h' }, option: 'TRUSTROOT_TLS_CERT_TTL' },
    { name: 'DB connect timeout', env: { TRUSTROOT_DB_CONNECT_TIMEOUT: '1.5m' }, option: 'TRUSTROOT_DB_CONNECT_TIMEOUT' },
    { name: 'DB query timeout', env: { TRUSTROOT_DB_QUERY_TIMEOUT: 'soon' }, option: 'TRUSTROOT_DB_QUERY_TIMEOUT' },
    { name: 'public URL over https', env: { TRUSTROOT_PUBLIC_HTTP_URL: 'https://pki.example.org' }, option: 'TRUSTROOT_PUBLIC_HTTP_URL' },
    { name: 'public URL not a URL', env: { TRUSTROOT_PUBLIC_HTTP_URL: 'pki.example.org' }, option: 'TRUSTROOT_PUBLIC_HTTP_URL' },
    { name: 'DATABASE_URL not PostgreSQL', env: { DATABASE_URL: 'mysql://u:p@db/ca' }, option: 'DATABASE_URL' },
    { name: 'DATABASE_URL without scheme', env: { DATABASE_URL: 'db:5432/ca' }, option: 'DATABASE_URL' },
    { name: 'passphrase of 11 characters', env: { TRUSTROOT_KEY_PASSPHRASE: '12345678901' }, option: 'TRUSTROOT_KEY_PASSPHRASE' },
    { name: 'empty hostnames', env: { TRUSTROOT_HOSTNAMES: '' }, option: 'TRUSTROOT_HOSTNAMES' },
    { name: 'only separators in hostnames', env: { TRUSTROOT_HOSTNAMES: ' , ,' }, option: 'TRUSTROOT_HOSTNAMES' },
  ];
  for (const { name, env, option } of cases) {
    it(name, () => {
      assert.throws(
        () => loadConfig(env, CWD),
        (error: unknown) => error instanceof ConfigError && error.name === 'ConfigError' && error.message.includes(option),
      );
    });
  }
});

describe('parseDurationSeconds', () => {
  it(
    'refuses an amount whose value in seconds is not a safe integer',
    () => {
      assert.throws(() => parseDurationSeconds('9007199254740991d', 'MY_OPTION'), ConfigError);
    },
  );

  const valid: [string, number][] = [
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['24h', 86_400],
    ['7d', 604_800],
    [' 5m ', 300],
  ];
  for (const [input, seconds] of valid) {
    it(`parses ${JSON.stringify(input)} as ${seconds}s`, () => {
      assert.equal(parseDurationSeconds(input, 'OPTION'), seconds);
    });
  }

  const invalid = ['0', '0s', '-1', '1.5h', 'abc', '', '10w', 'h', '99999999999999999999'];
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input)} with a ConfigError naming the option`, () => {
      assert.throws(
        () => parseDurationSeconds(input, 'MY_OPTION'),
        (error: unknown) => error instanceof ConfigError && error.message.includes('MY_OPTION'),
      );
    });
  }
});
