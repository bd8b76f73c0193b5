import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../../src/domain/errors.ts';
import { checkSanSyntax, findDisallowedName, validateNamePolicy, type DisallowedName } from '../../../src/domain/name-policy-check.ts';
import type { NamePolicy } from '../../../src/domain/name-policy.ts';
import type { SubjectAlternativeNames } from '../../../src/domain/x509/certificate-builder.ts';

function sans(partial: Partial<SubjectAlternativeNames>): SubjectAlternativeNames {
  return { dnsNames: [], ipAddresses: [], uris: [], ...partial };
}

function policy(partial: Partial<NamePolicy>): NamePolicy {
  return { dnsNames: [], ipAddresses: [], uris: [], ...partial };
}

describe('checkSanSyntax', () => {
  const valid: { name: string; sans: SubjectAlternativeNames }[] = [
    { name: 'a plain DNS name', sans: sans({ dnsNames: ['api.kyc.internal'] }) },
    { name: 'a single-label DNS name', sans: sans({ dnsNames: ['localhost'] }) },
    { name: 'digits and inner hyphens', sans: sans({ dnsNames: ['1-a.b2.x-y-z.internal'] }) },
    { name: 'an A-label', sans: sans({ dnsNames: ['xn--bcher-kva.example'] }) },
    { name: 'a leading wildcard label', sans: sans({ dnsNames: ['*.id-verification.svc'] }) },
    { name: 'a 63-character label', sans: sans({ dnsNames: [`${'a'.repeat(63)}.internal`] }) },
    { name: 'a 253-character name', sans: sans({ dnsNames: [`${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`] }) },
    { name: 'IPv4', sans: sans({ ipAddresses: ['10.0.0.1'] }) },
    { name: 'IPv6', sans: sans({ ipAddresses: ['2001:db8::1', '::1', 'FD00::AB'] }) },
    { name: 'an https URI', sans: sans({ uris: ['https://api.kyc.internal/path?q=1#f'] }) },
    { name: 'a urn', sans: sans({ uris: ['urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'] }) },
    { name: 'a SPIFFE workload ID', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod/sa/api-1_x.y'] }) },
    { name: 'a SPIFFE trust domain ID', sans: sans({ uris: ['spiffe://kyc.internal'] }) },
    { name: 'every type at once', sans: sans({ dnsNames: ['a.internal'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://td/x'] }) },
  ];
  for (const row of valid) {
    it(`accepts ${row.name}`, () => {
      assert.doesNotThrow(() => checkSanSyntax(row.sans));
    });
  }

  const invalid: { name: string; value: string; type: keyof SubjectAlternativeNames; detail: RegExp }[] = [
    { name: 'an empty DNS name', type: 'dnsNames', value: '', detail: /is empty/ },
    { name: 'upper case', type: 'dnsNames', value: 'API.kyc.internal', detail: /must be lower case/ },
    { name: 'a trailing dot', type: 'dnsNames', value: 'api.kyc.internal.', detail: /must not end with a dot/ },
    { name: 'an empty label', type: 'dnsNames', value: 'api..internal', detail: /empty label/ },
    { name: 'a leading dot', type: 'dnsNames', value: '.internal', detail: /empty label/ },
    { name: 'a 64-character label', type: 'dnsNames', value: `${'a'.repeat(64)}.internal`, detail: /longer than 63/ },
    { name: 'a 254-character name', type: 'dnsNames', value: `${'a'.repeat(62)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`, detail: /longer than 253/ },
    { name: 'a leading hyphen', type: 'dnsNames', value: '-api.internal', detail: /letters, digits and hyphens/ },
    { name: 'a trailing hyphen', type: 'dnsNames', value: 'api-.internal', detail: /letters, digits and hyphens/ },
    { name: 'an underscore', type: 'dnsNames', value: '_srv.internal', detail: /letters, digits and hyphens/ },
    { name: 'a space', type: 'dnsNames', value: 'a pi.internal', detail: /letters, digits and hyphens/ },
    { name: 'a U-label', type: 'dnsNames', value: 'bücher.example', detail: /A-labels/ },
    { name: 'a wildcard inside a label', type: 'dnsNames', value: 'a*.internal', detail: /"\*" only as the whole left-most label/ },
    { name: 'a wildcard in a later label', type: 'dnsNames', value: 'a.*.internal', detail: /"\*" only as the whole left-most label/ },
    { name: 'two wildcards', type: 'dnsNames', value: '*.*.internal', detail: /"\*" only as the whole left-most label/ },
    { name: 'a bare wildcard', type: 'dnsNames', value: '*', detail: /"\*" only as the whole left-most label/ },
    { name: 'an IP address as a DNS name', type: 'dnsNames', value: '10.0.0.1', detail: /is an IP address/ },
    { name: 'a non-IP', type: 'ipAddresses', value: 'api.internal', detail: /not an IPv4 or IPv6 address/ },
    { name: 'an IPv4 with leading zeros', type: 'ipAddresses', value: '010.0.0.1', detail: /not an IPv4 or IPv6 address/ },
    { name: 'an IPv4 out of range', type: 'ipAddresses', value: '256.0.0.1', detail: /not an IPv4 or IPv6 address/ },
    { name: 'a CIDR range', type: 'ipAddresses', value: '10.0.0.0/8', detail: /not an IPv4 or IPv6 address/ },
    { name: 'an IPv6 zone', type: 'ipAddresses', value: 'fe80::1%eth0', detail: /zone identifier/ },
    { name: 'a dotted IPv4-mapped IPv6', type: 'ipAddresses', value: '::ffff:10.0.0.1', detail: /in hex \(::ffff:a00:1\)/ },
    { name: 'a relative URI', type: 'uris', value: '/ns/prod', detail: /not an absolute URI/ },
    { name: 'a host without scheme', type: 'uris', value: 'api.internal', detail: /not an absolute URI/ },
    { name: 'a URI with a space', type: 'uris', value: 'https://api.internal/a b', detail: /printable ASCII/ },
    { name: 'a non-ASCII URI', type: 'uris', value: 'https://bücher.example/', detail: /printable ASCII/ },
    { name: 'an unparseable URI', type: 'uris', value: 'https://[::1/', detail: /not an absolute URI/ },
    { name: 'SPIFFE with an upper-case scheme', type: 'uris', value: 'SPIFFE://td/x', detail: /start with "spiffe:\/\/"/ },
    { name: 'SPIFFE without //', type: 'uris', value: 'spiffe:td/x', detail: /start with "spiffe:\/\/"/ },
    { name: 'SPIFFE with an upper-case trust domain', type: 'uris', value: 'spiffe://KYC.internal/x', detail: /trust domain of lower-case/ },
    { name: 'SPIFFE with a port', type: 'uris', value: 'spiffe://kyc.internal:8443/x', detail: /port/ },
    { name: 'SPIFFE with userinfo', type: 'uris', value: 'spiffe://user:pw@kyc.internal/x', detail: /userinfo/ },
    { name: 'SPIFFE with a query', type: 'uris', value: 'spiffe://kyc.internal/x?y=1', detail: /query/ },
    { name: 'SPIFFE with a fragment', type: 'uris', value: 'spiffe://kyc.internal/x#y', detail: /fragment/ },
    { name: 'SPIFFE without a trust domain', type: 'uris', value: 'spiffe:///x', detail: /trust domain/ },
    { name: 'SPIFFE with an empty segment', type: 'uris', value: 'spiffe://kyc.internal/ns//x', detail: /empty path segments/ },
    { name: 'SPIFFE with a trailing slash', type: 'uris', value: 'spiffe://kyc.internal/ns/', detail: /empty path segments/ },
    { name: 'SPIFFE with a dot segment', type: 'uris', value: 'spiffe://kyc.internal/ns/./x', detail: /"\." or "\.\."/ },
    { name: 'SPIFFE with a dot-dot segment', type: 'uris', value: 'spiffe://kyc.internal/ns/prod/../admin', detail: /"\." or "\.\."/ },
    { name: 'SPIFFE with percent-encoding', type: 'uris', value: 'spiffe://kyc.internal/ns/%2e%2e', detail: /letters, digits/ },
    { name: 'SPIFFE longer than 2048 bytes', type: 'uris', value: `spiffe://kyc.internal/${'a'.repeat(2048)}`, detail: /at most 2048 bytes/ },
  ];
  for (const row of invalid) {
    it(`refuses ${row.name} (${JSON.stringify(row.value.slice(0, 40))})`, () => {
      assert.throws(
        () => checkSanSyntax(sans({ dnsNames: ['ok.internal'], [row.type]: [row.value] })),
        (error: unknown) => {
          assert.ok(error instanceof DomainError);
          assert.equal(error.kind, 'bad_request');
          assert.match(error.detail, row.detail);
          assert.deepEqual(error.extensions, { name: row.value });
          return true;
        },
      );
    });
  }

  it('requires at least one name', () => {
    assert.throws(() => checkSanSyntax(sans({})), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.equal(error.kind, 'bad_request');
      assert.equal(error.detail, 'at least one subject alternative name is required');
      return true;
    });
  });

  it('reports the first malformed name and shortens what it echoes', () => {
    const long = `A${'b'.repeat(300)}.internal`;
    assert.throws(() => checkSanSyntax(sans({ dnsNames: ['ok.internal', long, 'BAD'] })), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.ok(error.detail.length < 200, error.detail);
      assert.equal(error.extensions.name, long);
      return true;
    });
  });
});

describe('findDisallowedName', () => {
  const kyc = policy({
    dnsNames: ['api.kyc.internal', '*.id-verification.svc', '*.wild.internal'],
    ipAddresses: ['10.20.0.0/16', '192.168.1.7', 'fd00::/8', '2001:db8::1'],
    uris: ['spiffe://kyc.internal/ns/prod/*', 'spiffe://kyc.internal/ns/ops/admin', 'https://kyc.internal/api/*'],
  });
  const rows: { name: string; policy?: NamePolicy; sans: SubjectAlternativeNames; expected: DisallowedName | undefined }[] = [
    { name: 'an exact DNS name', sans: sans({ dnsNames: ['api.kyc.internal'] }), expected: undefined },
    { name: 'an exact DNS name in another case', sans: sans({ dnsNames: ['API.Kyc.Internal'] }), expected: undefined },
    { name: 'a DNS name not in the policy', sans: sans({ dnsNames: ['api.kyc.internal', 'db.kyc.internal'] }), expected: { type: 'dns', value: 'db.kyc.internal' } },
    { name: 'one label under a wildcard', sans: sans({ dnsNames: ['a.id-verification.svc'] }), expected: undefined },
    { name: 'one label under a wildcard, upper case', sans: sans({ dnsNames: ['A.ID-verification.svc'] }), expected: undefined },
    { name: 'two labels under a wildcard', sans: sans({ dnsNames: ['a.b.id-verification.svc'] }), expected: { type: 'dns', value: 'a.b.id-verification.svc' } },
    { name: 'the wildcard base itself', sans: sans({ dnsNames: ['id-verification.svc'] }), expected: { type: 'dns', value: 'id-verification.svc' } },
    { name: 'a name ending like the base without a dot', sans: sans({ dnsNames: ['evilid-verification.svc'] }), expected: { type: 'dns', value: 'evilid-verification.svc' } },
    { name: 'an empty label under a wildcard', sans: sans({ dnsNames: ['.id-verification.svc'] }), expected: { type: 'dns', value: '.id-verification.svc' } },
    { name: 'a literal wildcard equal to a pattern', sans: sans({ dnsNames: ['*.id-verification.svc'] }), expected: undefined },
    { name: 'a literal wildcard under a broader pattern', policy: policy({ dnsNames: ['*.svc'] }), sans: sans({ dnsNames: ['*.svc', '*.a.svc'] }), expected: { type: 'dns', value: '*.a.svc' } },
    { name: 'a literal wildcard against an exact pattern list', policy: policy({ dnsNames: ['a.svc', 'b.svc'] }), sans: sans({ dnsNames: ['*.svc'] }), expected: { type: 'dns', value: '*.svc' } },
    { name: 'a pattern matching a label containing "*"', policy: policy({ dnsNames: ['*.svc'] }), sans: sans({ dnsNames: ['a*.svc'] }), expected: { type: 'dns', value: 'a*.svc' } },
    { name: 'a trailing-dot variant of an exact name', sans: sans({ dnsNames: ['api.kyc.internal.'] }), expected: { type: 'dns', value: 'api.kyc.internal.' } },
    { name: 'an invalid pattern matches nothing else', policy: policy({ dnsNames: ['a.*.svc'] }), sans: sans({ dnsNames: ['a.b.svc'] }), expected: { type: 'dns', value: 'a.b.svc' } },
    { name: 'an empty policy', policy: policy({}), sans: sans({ dnsNames: ['a.svc'] }), expected: { type: 'dns', value: 'a.svc' } },
    { name: 'an IPv4 inside a CIDR', sans: sans({ ipAddresses: ['10.20.255.1'] }), expected: undefined },
    { name: 'an IPv4 outside a CIDR', sans: sans({ ipAddresses: ['10.21.0.1'] }), expected: { type: 'ip', value: '10.21.0.1' } },
    { name: 'an exact IPv4', sans: sans({ ipAddresses: ['192.168.1.7'] }), expected: undefined },
    { name: 'a neighbour of an exact IPv4', sans: sans({ ipAddresses: ['192.168.1.8'] }), expected: { type: 'ip', value: '192.168.1.8' } },
    { name: 'an IPv6 inside a CIDR', sans: sans({ ipAddresses: ['fd12:3456::1'] }), expected: undefined },
    { name: 'an exact IPv6 written differently', sans: sans({ ipAddresses: ['2001:DB8:0:0::1'] }), expected: undefined },
    { name: 'an IPv6 outside', sans: sans({ ipAddresses: ['2001:db8::2'] }), expected: { type: 'ip', value: '2001:db8::2' } },
    { name: 'an IPv4-mapped IPv6 of an allowed IPv4', sans: sans({ ipAddresses: ['::ffff:10.20.0.1'] }), expected: { type: 'ip', value: '::ffff:10.20.0.1' } },
    { name: 'a zoned IPv6', policy: policy({ ipAddresses: ['fe80::/10'] }), sans: sans({ ipAddresses: ['fe80::1%eth0'] }), expected: { type: 'ip', value: 'fe80::1%eth0' } },
    { name: 'a non-IP', sans: sans({ ipAddresses: ['localhost'] }), expected: { type: 'ip', value: 'localhost' } },
    { name: 'an exact URI', sans: sans({ uris: ['spiffe://kyc.internal/ns/ops/admin'] }), expected: undefined },
    { name: 'a URI under a prefix', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod/sa/api'] }), expected: undefined },
    { name: 'a URI one segment under a prefix', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod/api'] }), expected: undefined },
    { name: 'the prefix itself', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/prod' } },
    { name: 'the prefix with a trailing slash', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod/'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/prod/' } },
    { name: 'a sibling sharing the prefix text', sans: sans({ uris: ['spiffe://kyc.internal/ns/production/api'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/production/api' } },
    { name: 'a dot-dot escape from a prefix', sans: sans({ uris: ['spiffe://kyc.internal/ns/prod/../ops/admin2'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/prod/../ops/admin2' } },
    { name: 'an encoded dot-dot escape from a prefix', sans: sans({ uris: ['https://kyc.internal/api/%2E%2e/admin'] }), expected: { type: 'uri', value: 'https://kyc.internal/api/%2E%2e/admin' } },
    { name: 'an empty segment under a prefix', sans: sans({ uris: ['https://kyc.internal/api//x'] }), expected: { type: 'uri', value: 'https://kyc.internal/api//x' } },
    { name: 'an exact URI in another case', sans: sans({ uris: ['spiffe://kyc.internal/ns/ops/Admin'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/ops/Admin' } },
    { name: 'a child of an exact URI', sans: sans({ uris: ['spiffe://kyc.internal/ns/ops/admin/x'] }), expected: { type: 'uri', value: 'spiffe://kyc.internal/ns/ops/admin/x' } },
    {
      name: 'DNS first, then IP, then URI',
      sans: sans({ uris: ['spiffe://other/x'], ipAddresses: ['1.1.1.1'], dnsNames: ['api.kyc.internal', 'nope.internal'] }),
      expected: { type: 'dns', value: 'nope.internal' },
    },
    {
      name: 'IP before URI',
      sans: sans({ uris: ['spiffe://other/x'], ipAddresses: ['10.20.0.1', '1.1.1.1'], dnsNames: ['api.kyc.internal'] }),
      expected: { type: 'ip', value: '1.1.1.1' },
    },
    {
      name: 'everything allowed',
      sans: sans({ dnsNames: ['api.kyc.internal', 'x.wild.internal'], ipAddresses: ['10.20.0.1', 'fd00::1'], uris: ['spiffe://kyc.internal/ns/prod/x', 'https://kyc.internal/api/v1/a'] }),
      expected: undefined,
    },
    { name: 'no names at all', sans: sans({}), expected: undefined },
  ];
  for (const row of rows) {
    it(`${row.expected ? 'refuses' : 'allows'} ${row.name}`, () => {
      assert.deepEqual(findDisallowedName(row.policy ?? kyc, row.sans), row.expected);
    });
  }
});

describe('validateNamePolicy', () => {
  it('accepts a valid policy', () => {
    assert.deepEqual(
      validateNamePolicy(
        policy({
          dnsNames: ['api.kyc.internal', '*.id-verification.svc', 'localhost', '*.test', 'Mixed.Case.internal'],
          ipAddresses: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1', '0.0.0.0/0', '2001:db8::/128'],
          uris: ['spiffe://kyc.internal/ns/prod/*', 'spiffe://kyc.internal', 'spiffe://kyc.internal/*', 'https://kyc.internal/api/*', 'urn:example:a'],
        }),
      ),
      [],
    );
  });

  const rows: { name: string; policy: NamePolicy; problem: RegExp }[] = [
    { name: 'an empty DNS pattern', policy: policy({ dnsNames: [''] }), problem: /^dnsNames\[0\] "" is empty$/ },
    { name: 'a wildcard in a later label', policy: policy({ dnsNames: ['ok.internal', 'a.*.svc'] }), problem: /^dnsNames\[1\] "a\.\*\.svc" may use "\*" only/ },
    { name: 'a partial-label wildcard', policy: policy({ dnsNames: ['api-*.svc'] }), problem: /may use "\*" only/ },
    { name: 'a bare wildcard', policy: policy({ dnsNames: ['*'] }), problem: /may use "\*" only/ },
    { name: 'a trailing dot', policy: policy({ dnsNames: ['a.svc.'] }), problem: /must not end with a dot/ },
    { name: 'an underscore', policy: policy({ dnsNames: ['a_b.svc'] }), problem: /letters, digits and hyphens/ },
    { name: 'an IP in dnsNames', policy: policy({ dnsNames: ['10.0.0.1'] }), problem: /is an IP address/ },
    { name: 'a non-IP', policy: policy({ ipAddresses: ['ten.0.0.1'] }), problem: /^ipAddresses\[0\] "ten\.0\.0\.1" is not an IPv4 or IPv6 address$/ },
    { name: 'an IPv4 prefix over 32', policy: policy({ ipAddresses: ['10.0.0.0/33'] }), problem: /prefix length from 0 to 32/ },
    { name: 'an IPv6 prefix over 128', policy: policy({ ipAddresses: ['fd00::/129'] }), problem: /prefix length from 0 to 128/ },
    { name: 'an empty prefix', policy: policy({ ipAddresses: ['10.0.0.0/'] }), problem: /prefix length/ },
    { name: 'a non-numeric prefix', policy: policy({ ipAddresses: ['10.0.0.0/x'] }), problem: /prefix length/ },
    { name: 'a prefix with a leading zero', policy: policy({ ipAddresses: ['10.0.0.0/08'] }), problem: /prefix length/ },
    { name: 'two prefixes', policy: policy({ ipAddresses: ['10.0.0.0/8/8'] }), problem: /prefix length/ },
    { name: 'a CIDR with a bad address', policy: policy({ ipAddresses: ['10.0.0/8'] }), problem: /has an address that is not an IPv4/ },
    { name: 'a zoned IPv6', policy: policy({ ipAddresses: ['fe80::1%eth0'] }), problem: /zone/ },
    { name: 'a relative URI', policy: policy({ uris: ['/ns/prod/*'] }), problem: /^uris\[0\] "\/ns\/prod\/\*" is not an absolute URI/ },
    { name: 'a URI without a scheme', policy: policy({ uris: ['kyc.internal/ns/*'] }), problem: /not an absolute URI/ },
    { name: 'a wildcard inside a URI', policy: policy({ uris: ['spiffe://kyc.internal/*/api'] }), problem: /only as a final "\/\*"/ },
    { name: 'a wildcard without a slash', policy: policy({ uris: ['spiffe://kyc.internal/ns*'] }), problem: /only as a final "\/\*"/ },
    { name: 'a bad SPIFFE prefix', policy: policy({ uris: ['spiffe://KYC.internal/ns/*'] }), problem: /trust domain of lower-case/ },
    { name: 'a SPIFFE prefix with dot-dot', policy: policy({ uris: ['spiffe://kyc.internal/ns/../*'] }), problem: /"\." or "\.\."/ },
  ];
  for (const row of rows) {
    it(`reports ${row.name}`, () => {
      const problems = validateNamePolicy(row.policy);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0] ?? '', row.problem);
    });
  }

  it('reports every problem, one line each', () => {
    const problems = validateNamePolicy(policy({ dnsNames: ['a.*.b', 'ok.internal', ''], ipAddresses: ['x'], uris: ['y'] }));
    assert.equal(problems.length, 4, JSON.stringify(problems));
  });
});
