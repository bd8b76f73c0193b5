import assert from 'node:assert/strict';
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it, type TestContext } from 'node:test';
import { OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import fc from 'fast-check';
import pg from 'pg';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Hostile input, property-based. Mutated CSRs (bit flips, byte insertions and deletions,
 * truncations, corrupted DER length fields, deep nesting — some re-signed with the seed's key so
 * that the checks after signature verification are reached too), near-valid and arbitrary JSON
 * bodies, raw non-JSON bytes and mutated OCSP requests go into the real routes of a real server
 * over TLS. For every request:
 *   - never a 5xx, never a hang (each request has REQUEST_TIMEOUT_MS);
 *   - API errors are problem+json (status = HTTP status, request id, no internals);
 *   - the OCSP responder answers an OCSPResponse, never internalError (OCSP's own 500), or a 4xx;
 *   - never a row written: the database is counted after every request and must equal the
 *     count before it — or, on the two routes where a near-valid body may legitimately succeed
 *     (POST /v1/services, bootstrap-token minting), the count before plus exactly one success's
 *     worth, measured on a deliberate success during set-up. Successful issuance is made
 *     impossible by construction (every name sent is outside every policy, see `couldIssue`),
 *     so the bootstrap token used throughout must survive and still issue exactly once at the end.
 *
 * Deterministic by default (fixed seed and number of runs) so that CI is reproducible:
 *   FUZZ_SEED   fast-check seed (default DEFAULT_SEED)
 *   FUZZ_RUNS   runs of the CSR property; the others run a fixed share of it (default DEFAULT_RUNS)
 * `npm run fuzz` (scripts/fuzz.ts) runs this file with a large FUZZ_RUNS and a random seed.
 */

const DEFAULT_SEED = 0x7e57f022;
const DEFAULT_RUNS = 400;
const REQUEST_TIMEOUT_MS = 5_000;

function integerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

const SEED = integerFromEnv('FUZZ_SEED', DEFAULT_SEED);
const RUNS = Math.max(1, integerFromEnv('FUZZ_RUNS', DEFAULT_RUNS));
/** Runs of a property that gets `share` of FUZZ_RUNS. */
const runs = (share: number): number => Math.max(1, Math.round(RUNS * share));
/** node:test's time limit per property: a guard against a stuck run, not the fuzzing budget. */
const PROPERTY_TIMEOUT_MS = 120_000 + RUNS * 200;

/** The only names any policy here allows for the fuzzed service; no generator produces them. */
const ALLOWED_DNS_NAME = 'fuzz-allowed.svc';
const TARGET_SERVICE = 'fuzz-target';
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

/**
 * The CSRs under mutation, with their throwaway keys (PKCS#8), as DER in base64. Fixed bytes, so
 * that FUZZ_SEED reproduces a counterexample byte for byte on any machine. Made once with OpenSSL
 * 3.0: `openssl req -new -newkey <key> -nodes -subj /CN=<name>/O=Fuzz/OU=a+OU=b -multivalue-rdn`
 * with `-addext subjectAltName=DNS:mutant.fuzz.invalid,DNS:*.mutant.fuzz.invalid,IP:192.0.2.7,
 * IP:2001:db8::7,URI:spiffe://fuzz.invalid/mutant` (all but no-extensions) and: p256 keyUsage
 * digitalSignature, extendedKeyUsage serverAuth+clientAuth, basicConstraints CA:FALSE; ed25519
 * keyUsage digitalSignature; rsa2048 extendedKeyUsage clientAuth; ca-true basicConstraints
 * CA:TRUE, keyUsage keyCertSign+cRLSign. Their names are outside every policy here, so even an
 * intact seed is refused (403), and nothing trusts these keys.
 */
const CSR_SEEDS: readonly { name: string; csr: string; key: string }[] = [
  {
    name: 'p256',
    csr: `
      MIIBrzCCAVUCAQAwNDENMAsGA1UEAwwEcDI1NjENMAsGA1UECgwERnV6ejEUMAgGA1UECwwBYTAIBgNVBAsMAWIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
      AASqVgDW+HU0ecglfN7n1hm2wPaP/G9g3WipDroFpc+lUFytShlz1aDvi+8XlRSr/Pm8tXwQWJT/o6NeSalDjYwWoIG+MIG7BgkqhkiG9w0BCQ4xga0wgaow
      awYDVR0RBGQwYoITbXV0YW50LmZ1enouaW52YWxpZIIVKi5tdXRhbnQuZnV6ei5pbnZhbGlkhwTAAAIHhxAgAQ24AAAAAAAAAAAAAAAHhhxzcGlmZmU6Ly9m
      dXp6LmludmFsaWQvbXV0YW50MA4GA1UdDwEB/wQEAwIHgDAdBgNVHSUEFjAUBggrBgEFBQcDAQYIKwYBBQUHAwIwDAYDVR0TAQH/BAIwADAKBggqhkjOPQQD
      AgNIADBFAiAfkGT+hWUwJ16guF7WUE3PPzJpVYijFp4BTAskHe/uwgIhAIymo9nENavpYcYSeak9vGDrrDGFWPlmxqwaE8f5VYnb
    `,
    key: `
      MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh78TLW2r9SKHzJ2BZHHQpIKOYH6lCKStlETv7g4ADlKhRANCAASqVgDW+HU0ecglfN7n1hm2
      wPaP/G9g3WipDroFpc+lUFytShlz1aDvi+8XlRSr/Pm8tXwQWJT/o6NeSalDjYwW
    `,
  },
  {
    name: 'p384',
    csr: `
      MIIBqjCCATECAQAwNDENMAsGA1UEAwwEcDM4NDENMAsGA1UECgwERnV6ejEUMAgGA1UECwwBYTAIBgNVBAsMAWIwdjAQBgcqhkjOPQIBBgUrgQQAIgNiAAQc
      eBcr3JU+8fUe4up2wihYjYX6CR7pxr+SiJ5GF5BrxgwOVyUskfVjvtlgJWxJuk+4N8CpUNFfC+cM6c+JyeZHagqkgKrjM+Al61kGnfgAAO1i/Nw+aky/d7Tu
      J0UnHHGgfjB8BgkqhkiG9w0BCQ4xbzBtMGsGA1UdEQRkMGKCE211dGFudC5mdXp6LmludmFsaWSCFSoubXV0YW50LmZ1enouaW52YWxpZIcEwAACB4cQIAEN
      uAAAAAAAAAAAAAAAB4Ycc3BpZmZlOi8vZnV6ei5pbnZhbGlkL211dGFudDAKBggqhkjOPQQDAgNnADBkAjBWN2OFNU6VxtTY/isG45ngldI8rcXW4O5CGzp0
      x5ouK0Lpw89QeOFh75if2ys33K4CMDF5GMyCJN+vcdTrMTlxqgp3h9WlppGzyooTFf0EdljEbN0ITR5ZGn1t2ryqjK+Qqg==
    `,
    key: `
      MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBLvxlT0bQHkQqubPbFilmMbkiUjzvxnSUe+1Jh/jTcHEbIorPjBmhZ/oJ8txTGyLuhZANiAAQc
      eBcr3JU+8fUe4up2wihYjYX6CR7pxr+SiJ5GF5BrxgwOVyUskfVjvtlgJWxJuk+4N8CpUNFfC+cM6c+JyeZHagqkgKrjM+Al61kGnfgAAO1i/Nw+aky/d7Tu
      J0UnHHE=
    `,
  },
  {
    name: 'ed25519',
    csr: `
      MIIBRzCB+gIBADA3MRAwDgYDVQQDDAdlZDI1NTE5MQ0wCwYDVQQKDARGdXp6MRQwCAYDVQQLDAFhMAgGA1UECwwBYjAqMAUGAytlcAMhAGjIu175dZqOOOSN
      wzPxA7wKfFbbLM/I84FQr+GWL/fuoIGPMIGMBgkqhkiG9w0BCQ4xfzB9MGsGA1UdEQRkMGKCE211dGFudC5mdXp6LmludmFsaWSCFSoubXV0YW50LmZ1enou
      aW52YWxpZIcEwAACB4cQIAENuAAAAAAAAAAAAAAAB4Ycc3BpZmZlOi8vZnV6ei5pbnZhbGlkL211dGFudDAOBgNVHQ8BAf8EBAMCB4AwBQYDK2VwA0EAckEV
      X75BhK8gu2VIwrHnbePl7ewqeQJlBLZG9ZhHsNU7l5DuQ0MugYqD7zukCM1RRRMpTqi9n32yiBOeSbAoCA==
    `,
    key: `
      MC4CAQAwBQYDK2VwBCIEIFFgoCWLyGZVmB2oKhH2TgbZOFVKGREBgZ936/EbaRhc
    `,
  },
  {
    name: 'rsa2048',
    csr: `
      MIIDEzCCAfsCAQAwNzEQMA4GA1UEAwwHcnNhMjA0ODENMAsGA1UECgwERnV6ejEUMAgGA1UECwwBYTAIBgNVBAsMAWIwggEiMA0GCSqGSIb3DQEBAQUAA4IB
      DwAwggEKAoIBAQC262z+Wm49Z6Bze+qKj2NTvloHLhresuv/JBvOct4Y9P7yUAmHIZmdhauWXweMnV+Eor0R0onDJ4RZyo8xWLh7SGF19K7hfH1ETR+aapoG
      SBdb5bp6rPIXW2s1h0nd9mjgR4Lqknm4J/n1dyRG0Ic+izyOyqTZOyT/OqV9qOQCGzmGCYkk9d8OhktsWiybrWGIawcpOJ4pPY1BPjmUew2ht81s2nbBN3Y1
      ILJymqN0oPrT/EGOCDDT2kTy1rf44ZkbP/VXIjaeAEJeuvMgYMLxGviwlUIppwJZmy/LKELliVGoNgC6bMybFnwZzn3Z4DKYoxyDpJcSOqAom1pAjKM3AgMB
      AAGggZYwgZMGCSqGSIb3DQEJDjGBhTCBgjBrBgNVHREEZDBighNtdXRhbnQuZnV6ei5pbnZhbGlkghUqLm11dGFudC5mdXp6LmludmFsaWSHBMAAAgeHECAB
      DbgAAAAAAAAAAAAAAAeGHHNwaWZmZTovL2Z1enouaW52YWxpZC9tdXRhbnQwEwYDVR0lBAwwCgYIKwYBBQUHAwIwDQYJKoZIhvcNAQELBQADggEBACCSzG4o
      m4jrdn6tHrHY/gpqmK9XpFHTM74ixbAYENICHXzfyqmskgpQJ7saR3ILw2gPeYl907JdQLqmJ6RC7mymBPWaArLgaMC5Sa8YoDFPHBfyaYDj9RMKe+CTFZiP
      fhVa5Fl8D73E93IpMimOQX7Oc1TJaF8JQD/+y2bFgWARKz4m2tRvrCWFakkvH0ir0nOe5DOFFPQueDAfFdmhR63a0nft2obJwLV/1hjC84cwK3ejJMCg/pe0
      JSkUzQ06jCKKnGAmnDU9FRaTUnkdwZo5ZVk7ZUdjbXmvmzS022BsVf/AiDt1qw7Vsn0R2dRaXoDIRWJ0E5ngxUS1htu4KZ4=
    `,
    key: `
      MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC262z+Wm49Z6Bze+qKj2NTvloHLhresuv/JBvOct4Y9P7yUAmHIZmdhauWXweMnV+Eor0R
      0onDJ4RZyo8xWLh7SGF19K7hfH1ETR+aapoGSBdb5bp6rPIXW2s1h0nd9mjgR4Lqknm4J/n1dyRG0Ic+izyOyqTZOyT/OqV9qOQCGzmGCYkk9d8OhktsWiyb
      rWGIawcpOJ4pPY1BPjmUew2ht81s2nbBN3Y1ILJymqN0oPrT/EGOCDDT2kTy1rf44ZkbP/VXIjaeAEJeuvMgYMLxGviwlUIppwJZmy/LKELliVGoNgC6bMyb
      FnwZzn3Z4DKYoxyDpJcSOqAom1pAjKM3AgMBAAECggEAPiboNdSMOJkJT7P/EW1/FmlLNb1Yq+qnfV3LhO5KwLgeGD9RvXSROZC9qK5JZmHinrKdA31CCelX
      cxr8ZIv8wwbo9qdY9IzUE20RG+q0wwWjyjnYju5Mo9sQJnP9iUm8gNhLh2CVsxkCOYFt9hHMole1D9+S+6y4+W/34yaLsprx6ECnI7ELYXRI6q/naXHswx1/
      1CwujiOuU0/nND0WbznpoNkS/jtvZen/5eHaBsz6xgxKVVM65K4eyg9wrBMtv+ispa5mZRTOWYwkaAjUuC5tDedoIOEsV4LnNa1C1sWf034AjSOEJf6iu2M7
      YjSddLI3f7yjX01l+qKj80cFQQKBgQDsCueCQKRo+mUUeipPzGPVFpmxZARnkk/ZnZuGAtjojFCU7hLrRbiOJ9WWqgYtqwhiCmvbdjmWY0r0ooMfiaZxVeBk
      kkoE9/DsIskOGhrY4qCw+q+tf/MWogBV90F599OEXgJHy/VxXX2+9klZBexcfD02UhYpynXT4OR44OB2KQKBgQDGYq9wSUD2lCgVzW9voAuI+9bpUV3vvt0w
      CnqejU6yZIo0pY9aSUB8VsMEbKKf5wm/nC/2mytC1ro5XXPkRRB1xcJhpyYjWmxfINS3rlXFQbcO9f62F0VP6UcUlxqDKyQi/lnvhqF20HzRQc1DTLW202xV
      uzwT1vVAcEQp0w+6XwKBgG8pc33UE5mc0p2iKusJxrpDun3gLHLaZOCHaQbjsGNUMV7x/9btLs1D1ULvL5myQnBpmAHy24wHlvU+06G2obweRV8XxeQxIDUU
      7LrHcH1TvXmblcCP0VuHT8EsgJmALQzZeRl25FBPRzj3o/NY5sdneyxp3CYyQutVrkN/JDaBAoGAD0u6lSDAxoJD2PJ+/g9L9GLefhzM7lg7+6FDNQhWIgEI
      euis9dwiAbQ60xOBMm0A3movdIcgPcYKk7O15MrCayI1S4w0r5MgOfFxFTx21n+rmpay7d07dd7ZoSfJXoWsApqz2nj56AxJI2U8a0z10cPZXX7TMgBn5nEB
      gGwKkWcCgYEA6afJgnPp3Kq6xdNzakA0AOJCZPiL6QQgkhDxqYPf1Kz9Zd2ljvHNPxZiBgeOeW5yh06TuYHwuSprP2hMAwgfdMudqbGtl3gy9t31FQ/e1uaA
      U0wuYbs2GTs7QdqAQWuuyj31d9XoukCM/MM4JTXDTAqYwJDpjPJJ/S8L0bALHZA=
    `,
  },
  {
    name: 'no-extensions',
    csr: `
      MIH4MIGfAgEAMD0xFjAUBgNVBAMMDW5vLWV4dGVuc2lvbnMxDTALBgNVBAoMBEZ1enoxFDAIBgNVBAsMAWEwCAYDVQQLDAFiMFkwEwYHKoZIzj0CAQYIKoZI
      zj0DAQcDQgAE3cQIuBsvEIf9xXoQbw5wUA6tZPJW9bI3kVmMHmT19BD1d5sfo4E8eMO5mh8baMm9A58vMMzFKSrakbusmnmljaAAMAoGCCqGSM49BAMCA0gA
      MEUCIFpLCUK4GBpMZHXFUJCdS1pfoeaQEqAR+VNYgtg/C9KlAiEA+94Wo6dRdUbsjrY6RkRO00ilBdmG5AX3JBh02JdimBQ=
    `,
    key: `
      MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXfj3LD1lYfT70KvUDFfn+o7Oa5GW8KCwJz2HwwmRd/ehRANCAATdxAi4Gy8Qh/3FehBvDnBQ
      Dq1k8lb1sjeRWYweZPX0EPV3mx+jgTx4w7maHxtoyb0Dny8wzMUpKtqRu6yaeaWN
    `,
  },
  {
    name: 'ca-true',
    csr: `
      MIIBljCCATwCAQAwNzEQMA4GA1UEAwwHY2EtdHJ1ZTENMAsGA1UECgwERnV6ejEUMAgGA1UECwwBYTAIBgNVBAsMAWIwWTATBgcqhkjOPQIBBggqhkjOPQMB
      BwNCAASonkSgcurnC4JQBOKq5d00xQvU4dUivzTWshz3wohNVZMCv+y1VxAaQ13zp5R8CMTx9S/AGBq54Zz2GDQlQB7JoIGiMIGfBgkqhkiG9w0BCQ4xgZEw
      gY4wawYDVR0RBGQwYoITbXV0YW50LmZ1enouaW52YWxpZIIVKi5tdXRhbnQuZnV6ei5pbnZhbGlkhwTAAAIHhxAgAQ24AAAAAAAAAAAAAAAHhhxzcGlmZmU6
      Ly9mdXp6LmludmFsaWQvbXV0YW50MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0gAMEUCIQCgzHVrQTrPk048uCY2jC/Z
      E5gi1qB0eHYmNoGJsdxblQIgLmc7uW040xDfeDVRHoe1r40h24HkYW7qWc3OqnM0YFo=
    `,
    key: `
      MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcqFEHZqO3Pn6USmiVNRg0SIExK89totzidydWnlKIBOhRANCAASonkSgcurnC4JQBOKq5d00
      xQvU4dUivzTWshz3wohNVZMCv+y1VxAaQ13zp5R8CMTx9S/AGBq54Zz2GDQlQB7J
    `,
  },
];

// ---------------------------------------------------------------------------------------------
// HTTP over keep-alive, with a hard per-request deadline
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  ms: number;
}

interface Outgoing {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

class HangError extends Error {
  override readonly name = 'HangError';
}

/**
 * One request on `agent`; rejects with HangError when no complete response arrives within
 * REQUEST_TIMEOUT_MS. A request that lost the race with the server closing an idle keep-alive
 * socket (ECONNRESET on a reused socket before any response) is retried once, as Node documents.
 */
function send(base: URL, agent: http.Agent, request: Outgoing, retried = false): Promise<Reply> {
  const transport = base.protocol === 'https:' ? https : http;
  const started = performance.now();
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    let responded = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      action();
    };
    const req = transport.request(
      { protocol: base.protocol, hostname: base.hostname, port: base.port, method: request.method, path: request.path, headers: request.headers, agent },
      (response) => {
        responded = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          settle(() => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, text: body.toString('utf8'), ms: performance.now() - started }));
        });
        response.on('error', (error) => settle(() => reject(error)));
      },
    );
    const deadline = setTimeout(() => {
      req.destroy(new HangError(`no complete response to ${request.method} ${request.path.slice(0, 200)} within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!responded && !retried && req.reusedSocket && error.code === 'ECONNRESET') {
        settle(() => resolve(send(base, agent, request, true)));
        return;
      }
      settle(() => reject(error));
    });
    req.end(request.body);
  });
}

// ---------------------------------------------------------------------------------------------
// DER: a small tree model of the seed inputs, and the mutations applied to them
// ---------------------------------------------------------------------------------------------

/**
 * A DER element: constructed (children), primitive (content), or opaque pre-encoded bytes. An
 * OCTET STRING or BIT STRING whose content is itself DER (extension values, an RSA key, an ECDSA
 * signature) is kept as `children` behind a `prefix` (the BIT STRING's unused-bits octet), so
 * that mutations reach inside it and re-encoding keeps the outer lengths right.
 */
type DerNode = { tag: number; children: DerNode[]; prefix?: Uint8Array } | { tag: number; content: Uint8Array } | { raw: Uint8Array };

function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return [0x80 | octets.length, ...octets];
}

/** Parses strictly-formed DER (the seeds, which OpenSSL made). Low tag numbers only. */
function parseDer(bytes: Uint8Array, offset = 0): { node: DerNode; end: number } {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) throw new Error(`unexpected DER at ${offset}`);
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const octets = first & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (bytes[offset + 2 + i] ?? 0);
    header += octets;
  }
  const start = offset + header;
  const end = start + length;
  if (end > bytes.length) throw new Error(`DER element at ${offset} overruns its input`);
  if ((tag & 0x20) === 0) return { node: encapsulated(tag, bytes.slice(start, end)) ?? { tag, content: bytes.slice(start, end) }, end };
  const children: DerNode[] = [];
  for (let at = start; at < end; ) {
    const child = parseDer(bytes, at);
    children.push(child.node);
    at = child.end;
  }
  return { node: { tag, children }, end };
}

/** The OCTET STRING or BIT STRING as a wrapper around one DER element, when its content is exactly that. */
function encapsulated(tag: number, content: Uint8Array): DerNode | undefined {
  if (tag !== 0x04 && tag !== 0x03) return undefined;
  const prefix = content.subarray(0, tag === 0x03 ? 1 : 0);
  if (tag === 0x03 && prefix[0] !== 0) return undefined;
  const inner = content.subarray(prefix.length);
  if (inner.length < 2) return undefined;
  try {
    const parsed = parseDer(inner);
    return parsed.end === inner.length ? { tag, prefix: Uint8Array.from(prefix), children: [parsed.node] } : undefined;
  } catch {
    return undefined;
  }
}

function encodeDer(node: DerNode): Uint8Array {
  if ('raw' in node) return node.raw;
  const content = 'content' in node ? node.content : Buffer.concat([node.prefix ?? new Uint8Array(), ...node.children.map(encodeDer)]);
  return Buffer.concat([Uint8Array.from([node.tag, ...encodeLength(content.length)]), content]);
}

/** `inner` inside `depth` layers of `tag`, built outside-in without quadratic copying. */
function wrapMany(inner: Uint8Array, tag: number, depth: number): Uint8Array {
  const lengths: number[] = [];
  let length = inner.length;
  for (let i = 0; i < depth; i++) {
    lengths.push(length);
    length += 1 + encodeLength(length).length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (let i = depth - 1; i >= 0; i--) {
    const header = [tag, ...encodeLength(lengths[i] ?? 0)];
    out.set(header, at);
    at += header.length;
  }
  out.set(inner, at);
  return out;
}

/** Pre-order list of the tree's nodes with their parents, for picking mutation targets. */
function preorder(root: DerNode): { node: DerNode; parent: DerNode | undefined }[] {
  const out: { node: DerNode; parent: DerNode | undefined }[] = [];
  const walk = (node: DerNode, parent: DerNode | undefined): void => {
    out.push({ node, parent });
    if ('children' in node) for (const child of node.children) walk(child, node);
  };
  walk(root, undefined);
  return out;
}

/** Header positions of the elements reachable in `bytes` (iterative: nesting may be thousands deep). */
function headerOffsets(bytes: Uint8Array, limit = 20_000): { start: number; lengthEnd: number }[] {
  const out: { start: number; lengthEnd: number }[] = [];
  const ranges: [number, number][] = [[0, bytes.length]];
  while (ranges.length > 0 && out.length < limit) {
    const [from, to] = ranges.pop() ?? [0, 0];
    for (let at = from; at + 2 <= to && out.length < limit; ) {
      const tag = bytes[at] ?? 0;
      const first = bytes[at + 1] ?? 0;
      let length = first;
      let header = 2;
      if (first >= 0x80) {
        const octets = first & 0x7f;
        if (octets === 0 || octets > 4) break;
        length = 0;
        for (let i = 0; i < octets; i++) length = length * 256 + (bytes[at + 2 + i] ?? 0);
        header += octets;
      }
      if (at + header + length > to) break;
      out.push({ start: at, lengthEnd: at + header });
      if ((tag & 0x20) !== 0) ranges.push([at + header, at + header + length]);
      // Into OCTET and BIT STRINGs that look like they hold DER (the walk stops at the first misfit).
      else if (tag === 0x04 && [0x30, 0x31, 0x03, 0x04].includes(bytes[at + header] ?? 0)) ranges.push([at + header, at + header + length]);
      else if (tag === 0x03 && bytes[at + header] === 0 && [0x30, 0x31].includes(bytes[at + header + 1] ?? 0)) ranges.push([at + header + 1, at + header + length]);
      at += header + length;
    }
  }
  return out;
}

type Structural =
  | { kind: 'wrap'; node: number; tag: number; depth: number }
  | { kind: 'nest'; node: number; tag: number; depth: number }
  | { kind: 'duplicate'; node: number }
  | { kind: 'remove'; node: number }
  | { kind: 'retag'; node: number; tag: number }
  | { kind: 'content'; node: number; bytes: Uint8Array };

type LengthCorruption = 'plus-one' | 'minus-one' | 'zero' | 'indefinite' | 'reserved-ff' | 'non-minimal' | 'huge' | 'too-many-octets' | 'random';

type ByteOp =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; keep: number };

interface DerMutation {
  structural: Structural[];
  lengths: { node: number; how: LengthCorruption; value: number }[];
  bytes: ByteOp[];
  /** Re-encode the outermost length to fit what follows it, so that the first gate is passed. */
  repairOuter: boolean;
}

function applyStructural(root: DerNode, change: Structural): DerNode {
  const all = preorder(root);
  // New content goes into primitive elements only, so that it changes values, not structure.
  const primitives = all.filter(({ node }) => 'content' in node);
  const nodes = change.kind === 'content' && primitives.length > 0 ? primitives : all;
  const target = nodes[change.node % nodes.length];
  if (!target) return root;
  const replace = (replacement: DerNode | undefined): DerNode => {
    const parent = target.parent;
    if (!parent || !('children' in parent)) return replacement ?? { raw: new Uint8Array() };
    const index = parent.children.indexOf(target.node);
    if (replacement) parent.children.splice(index, 1, replacement);
    else parent.children.splice(index, 1);
    return root;
  };
  switch (change.kind) {
    case 'wrap':
      return replace({ raw: wrapMany(encodeDer(target.node), change.tag, change.depth) });
    case 'nest':
      // The element replaced by a deep tower of constructed elements around a NULL.
      return replace({ raw: wrapMany(new Uint8Array([0x05, 0x00]), change.tag, change.depth) });
    case 'duplicate': {
      const parent = target.parent;
      if (parent && 'children' in parent) parent.children.splice(parent.children.indexOf(target.node), 0, { raw: encodeDer(target.node) });
      return root;
    }
    case 'remove':
      return replace(undefined);
    case 'retag': {
      const node = target.node;
      if ('raw' in node) return root;
      return replace('children' in node ? { ...node, tag: change.tag | 0x20 } : { tag: change.tag & ~0x20, content: node.content });
    }
    case 'content':
      // The element keeps its tag and gets hostile content: bad UTF-8, odd-length IPs, empty INTEGERs…
      return replace({ tag: 'tag' in target.node ? target.node.tag & ~0x20 : 0x04, content: change.bytes });
  }
}

function corruptLength(bytes: Uint8Array, header: { start: number; lengthEnd: number }, how: LengthCorruption, value: number): Uint8Array {
  const current = bytes.subarray(header.start + 1, header.lengthEnd);
  let length = 0;
  if ((current[0] ?? 0) < 0x80) length = current[0] ?? 0;
  else for (const octet of current.subarray(1)) length = length * 256 + octet;
  const replacement: Record<LengthCorruption, () => number[]> = {
    'plus-one': () => encodeLength(length + 1),
    'minus-one': () => encodeLength(Math.max(0, length - 1)),
    zero: () => [0x00],
    indefinite: () => [0x80],
    'reserved-ff': () => [0xff],
    'non-minimal': () => [0x84, ...[24, 16, 8, 0].map((shift) => Math.floor(length / 2 ** shift) % 256)],
    huge: () => [0x84, 0xff, 0xff, 0xff, 0xff],
    'too-many-octets': () => [0x89, 0, 0, 0, 0, 0, 0, 0, 0, length % 256],
    random: () => encodeLength(value),
  };
  return Buffer.concat([bytes.subarray(0, header.start + 1), Uint8Array.from(replacement[how]()), bytes.subarray(header.lengthEnd)]);
}

function applyByteOp(bytes: Uint8Array, op: ByteOp): Uint8Array {
  const size = bytes.length;
  switch (op.op) {
    case 'flip': {
      if (size === 0) return bytes;
      const out = Uint8Array.from(bytes);
      const at = op.at % size;
      out[at] = (out[at] ?? 0) ^ (1 << op.bit);
      return out;
    }
    case 'set': {
      if (size === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[op.at % size] = op.value;
      return out;
    }
    case 'insert': {
      const at = op.at % (size + 1);
      return Buffer.concat([bytes.subarray(0, at), op.bytes, bytes.subarray(at)]);
    }
    case 'delete': {
      if (size === 0) return bytes;
      const at = op.at % size;
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + op.count)]);
    }
    case 'truncate':
      return bytes.subarray(0, op.keep % (size + 1));
  }
}

/** The first element's tag and a correct definite length over everything after its old header. */
function repairOuter(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 2) return bytes;
  const first = bytes[1] ?? 0;
  const header = first < 0x80 ? 2 : Math.min(bytes.length, 2 + Math.min(first & 0x7f, 4));
  const content = bytes.subarray(header);
  return Buffer.concat([Uint8Array.from([bytes[0] ?? 0x30, ...encodeLength(content.length)]), content]);
}

/** Seed DER → structural changes (re-encoded with correct lengths) → corrupted lengths → byte edits. */
function mutateDer(seed: Uint8Array, mutation: DerMutation): Uint8Array {
  let tree = parseDer(seed).node;
  for (const change of mutation.structural) tree = applyStructural(tree, change);
  let bytes = encodeDer(tree);
  if (mutation.lengths.length > 0) {
    const headers = headerOffsets(bytes);
    // Right to left, so that an edit never moves a header still to be edited.
    const picked = mutation.lengths
      .map((corruption) => ({ corruption, header: headers[corruption.node % Math.max(1, headers.length)] }))
      .filter((entry): entry is { corruption: (typeof mutation.lengths)[number]; header: { start: number; lengthEnd: number } } => entry.header !== undefined)
      .sort((a, b) => b.header.start - a.header.start);
    const done = new Set<number>();
    for (const { corruption, header } of picked) {
      if (done.has(header.start)) continue;
      done.add(header.start);
      bytes = corruptLength(bytes, header, corruption.how, corruption.value);
    }
  }
  for (const op of mutation.bytes) bytes = applyByteOp(bytes, op);
  return mutation.repairOuter ? repairOuter(bytes) : bytes;
}

/** Mostly small depths (cheap, shrinkable), sometimes deep enough to threaten a recursive parser. */
const depthArb = (deep: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) },
    { weight: 3, arbitrary: fc.integer({ min: 65, max: Math.min(1_000, deep) }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.min(1_001, deep), max: deep }) },
  );

/** Primitive contents that parsers get wrong: empty, sign bits, overlong UTF-8, surrogates, odd IP lengths, bad OIDs. */
const INTERESTING_CONTENTS = [
  [], [0x00], [0x01], [0x7f], [0x80], [0xff], [0x00, 0x00], [0x00, 0x80], [0xff, 0xff], Array(9).fill(0xff), Array(21).fill(0x7f),
  [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xff, 0x00, 0x41], [0x61, 0x00, 0x62], [0x2a], [0x2a, 0x86, 0x48, 0x86],
  [0x80, 0x80, 0x80, 0x01], Array(40).fill(0x81), [0x0a, 0x01, 0x02], [0x0a, 0x01, 0x02, 0x03, 0x04], [0x0a, 0, 0, 0, 0xff, 0, 0, 0], Array(17).fill(0x20),
  [...Buffer.from('fuzz-denied.svc')], [...Buffer.from('*.*')], [...Buffer.from('a..b')], [...Buffer.from('spiffe://fuzz.invalid/../x')], Array(300).fill(0x61),
].map((bytes) => Uint8Array.from(bytes));

const contentBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...INTERESTING_CONTENTS) }, { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) });

const constructedTag = fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa3, 0x24, 0x2c, 0xbe);

/** `contentWeight` high: mostly new primitive contents, which keep the structure (and so reach deeper checks). */
const structuralArb = (deep: number, contentWeight: number): fc.Arbitrary<Structural> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('wrap' as const), node: fc.nat(), tag: constructedTag, depth: depthArb(deep) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('nest' as const), node: fc.nat(), tag: constructedTag, depth: depthArb(deep) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), node: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), node: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('retag' as const), node: fc.nat(), tag: fc.integer({ min: 0, max: 0x1e }) }) },
    { weight: contentWeight, arbitrary: fc.record({ kind: fc.constant('content' as const), node: fc.nat(), bytes: contentBytesArb }) },
  );

const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff, 0x30, 0xa0) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }) },
);

const lengthCorruptionArb = fc.record({
  node: fc.nat(),
  how: fc.constantFrom<LengthCorruption>('plus-one', 'minus-one', 'zero', 'indefinite', 'reserved-ff', 'non-minimal', 'huge', 'too-many-octets', 'random'),
  value: fc.nat({ max: 70_000 }),
});

/** Mostly nothing, sometimes one to `max` of `arb`: keeps most mutations small. */
const fewArb = <T>(arb: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant<T[]>([]) }, { weight: 1, arbitrary: fc.array(arb, { minLength: 1, maxLength: max }) });

/**
 * At least one change, so that a seed is rarely sent intact. `rough`: anything goes (most
 * results die at the first parser gates); gentle: mostly new primitive contents and few byte
 * edits, so that more results are still well-formed and reach the checks behind the parser.
 */
const derMutationArb = (deep: number, rough = true): fc.Arbitrary<DerMutation> =>
  fc
    .record({
      structural: rough ? fc.array(structuralArb(deep, 3), { maxLength: 2 }) : fc.array(structuralArb(deep, 24), { minLength: 1, maxLength: 2 }),
      lengths: rough ? fc.array(lengthCorruptionArb, { maxLength: 2 }) : fewArb(lengthCorruptionArb, 1),
      bytes: rough ? fc.array(byteOpArb, { maxLength: 4 }) : fewArb(byteOpArb, 2),
      repairOuter: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    })
    .filter((m) => m.structural.length + m.lengths.length + m.bytes.length > 0);

/** PEM armour around DER (base64 in 64-character lines). */
function armour(der: Uint8Array, label = 'CERTIFICATE REQUEST'): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A seed CSR split for re-signing: the CertificationRequestInfo is mutated, then signed again. */
interface CsrSeed {
  der: Uint8Array;
  info: Uint8Array;
  algorithm: Uint8Array;
  key: KeyObject;
}

interface CsrMutation {
  seed: number;
  /** `signed-info`: mutate the CertificationRequestInfo and sign it again with the seed's key. */
  scope: 'whole' | 'signed-info';
  der: DerMutation;
  label: 'CERTIFICATE REQUEST' | 'NEW CERTIFICATE REQUEST';
}

function resign(seed: CsrSeed, info: Uint8Array): Uint8Array {
  const signature = sign(seed.key.asymmetricKeyType === 'ed25519' ? null : 'sha256', info, seed.key);
  return encodeDer({ tag: 0x30, children: [{ raw: info }, { raw: seed.algorithm }, { tag: 0x03, content: Buffer.concat([Uint8Array.of(0), signature]) }] });
}

function mutateCsr(seeds: readonly CsrSeed[], mutation: CsrMutation): Uint8Array {
  const seed = seeds[mutation.seed % seeds.length];
  assert.ok(seed);
  if (mutation.scope === 'whole') return mutateDer(seed.der, mutation.der);
  return resign(seed, mutateDer(seed.info, mutation.der));
}

const labelArb = fc.oneof({ weight: 9, arbitrary: fc.constant('CERTIFICATE REQUEST' as const) }, { weight: 1, arbitrary: fc.constant('NEW CERTIFICATE REQUEST' as const) });

/** Half rough mutations of the whole DER; half gentle ones of the signed part, signed again. */
const csrMutationArb: fc.Arbitrary<CsrMutation> = fc.oneof(
  fc.record({ seed: fc.nat(), scope: fc.constant('whole' as const), der: derMutationArb(12_000), label: labelArb }),
  fc.record({ seed: fc.nat(), scope: fc.constant('signed-info' as const), der: derMutationArb(12_000, false), label: labelArb }),
);

/** Text around a seed CSR that is not quite a CSR PEM block (for the `csr` member of JSON bodies). */
const PEM_VARIANTS: Record<string, (pem: string) => string> = {
  crlf: (pem) => pem.replace(/\n/g, '\r\n'),
  'cr-only': (pem) => pem.replace(/\n/g, '\r'),
  'one-line': (pem) => pem.replace(/\n/g, ''),
  'no-final-newline': (pem) => pem.trimEnd(),
  'leading-text': (pem) => `subject=/CN=x\n${pem}`,
  'trailing-text': (pem) => `${pem}trailing`,
  'two-blocks': (pem) => `${pem}${pem}`,
  'mismatched-end': (pem) => pem.replace('END CERTIFICATE REQUEST', 'END CERTIFICATE'),
  'lower-case-label': (pem) => pem.replace(/CERTIFICATE REQUEST/g, 'certificate request'),
  'certificate-label': (pem) => pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'),
  'pkcs7-label': (pem) => pem.replace(/CERTIFICATE REQUEST/g, 'PKCS7'),
  'encrypted-headers': (pem) => pem.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n'),
  'blanks-in-base64': (pem) => pem.replace(/([A-Za-z0-9+/]{10})/g, '$1 \t'),
  'url-safe-base64': (pem) => pem.replace(/\+/g, '-').replace(/\//g, '_'),
  'no-padding': (pem) => pem.replace(/=/g, ''),
  'extra-padding': (pem) => pem.replace(/\n-----END/, '==\n-----END'),
  'padding-in-the-middle': (pem) => pem.replace(/\n/, '\n=='),
  'nul-inside': (pem) => pem.replace(/\n/, '\n\u0000'),
  'unicode-dashes': (pem) => pem.replace(/-----/g, '\u2014\u2014\u2014\u2014\u2014'),
  'nbsp-in-label': (pem) => pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE\u00a0REQUEST'),
  'armour-only': () => '-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n',
  'begin-flood': () => '-----BEGIN '.repeat(5_900),
  'begin-flood-lines': () => '-----BEGIN CERTIFICATE REQUEST\n'.repeat(2_000),
  'dash-flood': () => '-'.repeat(65_000),
  'long-label': () => `-----BEGIN ${'A'.repeat(64_000)}-----`,
  'blank-flood': (pem) => pem.replace(/\n/, `\n${' '.repeat(60_000)}`),
  'newline-flood': (pem) => pem.replace(/\n/, '\n'.repeat(30_000)),
  'whitespace-only': () => ' \t\r\n ',
  'base64-of-text': () => armour(new Uint8Array(Buffer.from('not DER at all, just text'))),
};

const csrTextArb = (seeds: readonly CsrSeed[]): fc.Arbitrary<string> =>
  fc.record({ seed: fc.nat(), variant: fc.constantFrom(...Object.keys(PEM_VARIANTS)) }).map(({ seed, variant }) => {
    const der = seeds[seed % seeds.length]?.der ?? new Uint8Array();
    return (PEM_VARIANTS[variant] ?? String)(armour(der));
  });

// ---------------------------------------------------------------------------------------------
// JSON: hostile values and near-valid bodies, as raw text (so 1e309, -0, duplicate keys… survive)
// ---------------------------------------------------------------------------------------------

const jsonText = (value: unknown): string => JSON.stringify(value) ?? 'null';

/** JSON texts of any type: what a field of the wrong type receives. */
const HOSTILE_TOKENS = [
  '1e309', '-1e309', '-0', '0', '-1', '1.5', '1e-400', '1e21', '123456789012345678901234567890', '9007199254740993', '-9007199254740993',
  'null', 'true', 'false', '"NaN"', '"Infinity"', '"-0"', '"1e309"', '""', '" "', '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"\\udfff\\ud800"',
  '[]', '{}', '[null]', '[[]]', '[{}]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '[1e309]', '["\\u0000"]',
];

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e', '\ufeff', '\u200b', 'ｆｕｌｌｗｉｄｔｈ', '🦀🦀', 'e\u0301', 'x\ny', 'x\r\ny', '\t',
  '<script>alert(1)</script>', "' OR 1=1 --", '"; DROP TABLE services; --', '../../etc/passwd', '%00', '%s%s%n', '${jndi:ldap://x}', '{{7*7}}',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null', 'undefined', 'NaN', 'a'.repeat(200), 'a'.repeat(201), '\u00e9'.repeat(199),
  '🦀'.repeat(100), 'a'.repeat(2049), 'a'.repeat(65_537),
];

const HOSTILE_NAMES = [
  '*', '*.', '*.*', '**.a.example', 'a.*.example', '*a.example', '.', '..', 'a..b', '.a.example', 'a.example.', '-a.example', 'a-.example', 'xn--', 'xn--zz',
  'xn--80ak6aa92e.com', 'ａ.example', 'A.EXAMPLE', 'ß.example', 'a_b.example', 'a b.example', 'a\u0000.example', `${'a'.repeat(64)}.example`,
  `${`${'a'.repeat(63)}.`.repeat(4)}example`, '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '01.02.03.04', '1.2.3.4.5', '0x7f.0.0.1', '10.0.0.0/8',
  '10.0.0.0/33', '10.0.0.1/32', '10.0.0.0/-1', '10.0.0.0/', '::', '::ffff:10.0.0.1', '2001:db8::/129', '[2001:db8::1]', 'fe80::1%eth0', '2001:db8:::1',
  '1:2:3:4:5:6:7:8:9', 'spiffe://', 'spiffe:///', 'spiffe://a/*', 'spiffe://a/../b', 'spiffe://A/B', 'spiffe://a/b?c#d', 'spiffe://a:1/b', 'spiffe://u@a/b',
  'http://a.example/', 'urn:x:y', 'mailto:a@example.com', 'a@example.com', '', ' ',
];

const HOSTILE_TTLS = [
  '0', '0s', '1s', '59s', '86400', '86401', '24h', '25h', '1d', '1d1s', '99999999999999999999', '99999999999999999999d', '9007199254740993', '9007199254740993s',
  '1s'.repeat(1_000), `${'9'.repeat(400)}`, '00000000001m', ' 5m', '5m ', '5M', '5w', '-5m', '+5m', '5.5m', '1e3', '1e3s', '0x10', 'Infinity', '',
];

const HOSTILE_DATES = [
  '2020-01-01T00:00:00Z', '2020-02-30T00:00:00Z', '2021-02-29T00:00:00Z', '2020-13-01T00:00:00Z', '2020-01-01T24:00:00Z', '2020-01-01T23:59:60Z',
  '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:01Z', '2020-01-01T00:00:00+99:99', '2020-01-01T00:00:00.123456789Z',
  '2099-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2020-01-01', '2020-01-01T00:00:00', '2020-01-01 00:00:00Z', 'now', '', '1e309',
];

const HOSTILE_URLS = [
  'http://169.254.169.254/latest/meta-data', 'http://[::]/', 'http://[fe80::1%25eth0]/', 'http://[::ffff:169.254.169.254]/', 'http://0x7f.1/', 'http://0177.0.0.1/',
  'http://2852039166/', 'http://metadata.google.internal./', 'http://METADATA/', 'https://user:pw@example.com/', 'file:///etc/passwd', 'ftp://x', 'javascript:alert(1)',
  'http://', 'http:///x', 'https://a.example:99999/', 'https://a.example/\u0000', 'https://ｅｘａｍｐｌｅ.com/', `https://a.example/${'x'.repeat(2_040)}`, 'not a url', '',
];

const PROFILE_NAMES = ['peer', 'server', 'client', 'test', 'root-ca', 'intermediate-ca', 'PEER', 'peer ', '', 'a'.repeat(33), '__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const REASONS = ['unspecified', 'keyCompromise', 'caCompromise', 'superseded', 'certificateHold', 'removeFromCRL', 'aACompromise', 'KEYCOMPROMISE', 'keyCompromise ', '', '__proto__', 'constructor'];
const KEY_ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'rsa-1024', 'ECDSA-P256', 'ed448', '', '__proto__'];
const SERVICE_NAMES = ['a', 'a-', 'a'.repeat(63), 'a'.repeat(64), 'constructor', 'prototype', 'tostring', 'hasownproperty', 'fuzz-target', 'no-such-service', 'A', '1a', '-a', 'a_b', ''];

const stringish = (constants: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...constants) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) });

const hugeStringArb = fc
  .record({ length: fc.integer({ min: 1_000, max: 80_000 }), unit: fc.constantFrom('a', '\u00e9', '\ud83e\udd80', '\\\\', '\\u0000') })
  .map(({ length, unit }) => `"${unit.repeat(Math.ceil(length / 2))}"`);
const deepArrayArb = fc.integer({ min: 100, max: 30_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
const deepObjectArb = fc.integer({ min: 100, max: 10_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

/** A value of any JSON type at all. */
const anyValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_TOKENS) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(jsonText) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(jsonText) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...HOSTILE_TOKENS), { minLength: 1, maxLength: 5 }).map((items) => `[${items.join(',')}]`) },
  { weight: 1, arbitrary: hugeStringArb },
  { weight: 1, arbitrary: deepArrayArb },
  { weight: 1, arbitrary: deepObjectArb },
);

/** What a field holds; a typed mutation keeps the JSON type so that the schema may still pass. */
type FieldType = 'csr' | 'string' | 'names' | 'ttl' | 'date' | 'profile' | 'profiles' | 'reason' | 'keyAlgorithm' | 'serviceName' | 'url';

const nameListArb = fc.oneof(
  { weight: 5, arbitrary: fc.array(stringish(HOSTILE_NAMES), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(101, 1_000).map((n) => Array.from({ length: n }, (_, i) => `n${i}.fuzz.invalid`)) },
);

const typedValueArb = (type: FieldType, csrSeeds: readonly CsrSeed[]): fc.Arbitrary<string> => {
  switch (type) {
    case 'csr':
      return csrTextArb(csrSeeds).map(jsonText);
    case 'string':
      return fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 60 })).map(jsonText);
    case 'names':
      return nameListArb.map(jsonText);
    case 'ttl':
      return fc.oneof(
        { weight: 3, arbitrary: stringish(HOSTILE_TTLS).map(jsonText) },
        { weight: 1, arbitrary: fc.constantFrom('0', '-1', '1', '86400', '86401', '2147483648', '9007199254740993', '1e21', '1e300', '1.0', '-0', '1E2') },
      );
    case 'date':
      return stringish(HOSTILE_DATES).map(jsonText);
    case 'profile':
      return stringish(PROFILE_NAMES).map(jsonText);
    case 'profiles':
      return fc.array(stringish(PROFILE_NAMES), { maxLength: 22 }).map(jsonText);
    case 'reason':
      return stringish(REASONS).map(jsonText);
    case 'keyAlgorithm':
      return stringish(KEY_ALGORITHMS).map(jsonText);
    case 'serviceName':
      return stringish(SERVICE_NAMES).map(jsonText);
    case 'url':
      return stringish(HOSTILE_URLS).map(jsonText);
  }
};

interface FieldSpec {
  key: string;
  type: FieldType;
  /** The valid value, as JSON text. */
  valid: string;
  /** Part of every base body (else sometimes). */
  required?: boolean;
}

type Field = [key: string, value: string];

type BodyMutation = { op: 'set'; key: string; value: string } | { op: 'add'; key: string; value: string } | { op: 'delete'; field: number } | { op: 'rekey'; field: number; key: string };

type Envelope = 'plain' | 'array' | 'bom' | 'trailing-comma' | 'trailing-garbage' | 'truncated' | 'two-documents' | 'whitespace';

type BodyChoice =
  | { kind: 'near-valid'; optional: string[]; mutations: BodyMutation[]; envelope: Envelope }
  | { kind: 'json-value'; value: string }
  | { kind: 'raw'; bytes: Uint8Array };

const keyArb = (known: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'Profile', 'CSR', '', ' csr', 'csr\u0000', 'toString', 'hasOwnProperty', '$ref') },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  );

const rawBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 256 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 90_000 }).map((n) => new Uint8Array(n).fill(0x7b)) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('', '{', '}', '{"', '{"a":', '{"a":1,}', "{'a':1}", 'NaN', 'undefined', '{"a":1}garbage', '\u0000', '\ufeff\ufeff{}', '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":Infinity}', '{"a":"\ud800"}')
      .map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => new Uint8Array(Buffer.concat([Buffer.from('{"csr":"'), b, Buffer.from('"}')]))) },
);

/** Near-valid bodies (a valid one with one to four hostile edits), arbitrary JSON values, raw bytes. */
function bodyChoiceArb(specs: readonly FieldSpec[], csrSeeds: readonly CsrSeed[]): fc.Arbitrary<BodyChoice> {
  const known = specs.map((s) => s.key);
  const typedSet = fc.constantFrom(...specs).chain((spec) => typedValueArb(spec.type, csrSeeds).map((value): BodyMutation => ({ op: 'set', key: spec.key, value })));
  const mutation: fc.Arbitrary<BodyMutation> = fc.oneof(
    { weight: 6, arbitrary: typedSet },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...known), value: anyValueArb }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const), key: keyArb(known), value: anyValueArb }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), field: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('rekey' as const), field: fc.nat(), key: keyArb(known) }) },
  );
  const nearValid = fc.record({
    kind: fc.constant('near-valid' as const),
    optional: fc.subarray(specs.filter((s) => !s.required).map((s) => s.key)),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    envelope: fc.oneof(
      { weight: 15, arbitrary: fc.constant<Envelope>('plain') },
      { weight: 1, arbitrary: fc.constantFrom<Envelope>('array', 'bom', 'trailing-comma', 'trailing-garbage', 'truncated', 'two-documents', 'whitespace') },
    ),
  });
  return fc.oneof(
    { weight: 7, arbitrary: nearValid },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): BodyChoice => ({ kind: 'json-value', value: jsonText(value) })) },
    { weight: 2, arbitrary: rawBytesArb.map((bytes): BodyChoice => ({ kind: 'raw', bytes })) },
  );
}

function renderNearValid(specs: readonly FieldSpec[], choice: Extract<BodyChoice, { kind: 'near-valid' }>): string {
  const fields: Field[] = specs.filter((s) => s.required || choice.optional.includes(s.key)).map((s) => [s.key, s.valid]);
  for (const mutation of choice.mutations) {
    switch (mutation.op) {
      case 'set': {
        const field = fields.find(([key]) => key === mutation.key);
        if (field) field[1] = mutation.value;
        else fields.push([mutation.key, mutation.value]);
        break;
      }
      case 'add':
        fields.push([mutation.key, mutation.value]);
        break;
      case 'delete':
        if (fields.length > 0) fields.splice(mutation.field % fields.length, 1);
        break;
      case 'rekey': {
        const field = fields[mutation.field % Math.max(1, fields.length)];
        if (field) field[0] = mutation.key;
        break;
      }
    }
  }
  const object = `{${fields.map(([key, value]) => `${jsonText(key)}:${value}`).join(',')}}`;
  switch (choice.envelope) {
    case 'plain':
      return object;
    case 'array':
      return `[${object}]`;
    case 'bom':
      return `\ufeff${object}`;
    case 'trailing-comma':
      return `${object.slice(0, -1)},}`;
    case 'trailing-garbage':
      return `${object}\u0000garbage`;
    case 'truncated':
      return object.slice(0, Math.max(1, Math.floor(object.length / 2)));
    case 'two-documents':
      return `${object}${object}`;
    case 'whitespace':
      return ` \t\r\n${object}\n\n`;
  }
}

function bodyBytes(specs: readonly FieldSpec[], choice: BodyChoice): Buffer {
  switch (choice.kind) {
    case 'near-valid':
      return Buffer.from(renderNearValid(specs, choice), 'utf8');
    case 'json-value':
      return Buffer.from(choice.value, 'utf8');
    case 'raw':
      return Buffer.from(choice.bytes);
  }
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=utf-16le', 'application/json; charset=latin1',
  'application/json; charset="utf-8"; boundary=x', 'application/problem+json', 'application/merge-patch+json', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/ocsp-request', 'application/json;;;', 'json',
];

/** Mostly `application/json`, so that the JSON parser and the validator are what gets tested. */
const contentTypeArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 20, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const contentEncodingArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 25, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip') },
);

/**
 * True when a body could possibly be a successful issuance: it names something that a policy
 * here allows (the target service's name, or the `test` profile's localhost / *.test /
 * 127.0.0.1 / ::1 / spiffe://test). Such bodies are never sent with the bootstrap token.
 */
function couldIssue(text: string): boolean {
  return /fuzz-allowed|localhost|\.test\b|127\.0\.0\.1|::1|spiffe:\/\/test/i.test(text);
}

// ---------------------------------------------------------------------------------------------
// The database: what a refused request must leave untouched
// ---------------------------------------------------------------------------------------------

const COUNTS = {
  certificates: 'SELECT count(*) FROM certificates',
  activeCertificates: "SELECT count(*) FROM certificates WHERE status = 'active'",
  auditEvents: 'SELECT count(*) FROM audit_events',
  services: 'SELECT count(*) FROM services',
  enabledServices: 'SELECT count(*) FROM services WHERE enabled',
  apiTokens: 'SELECT count(*) FROM api_tokens',
  bootstrapTokens: 'SELECT count(*) FROM bootstrap_tokens',
  usedBootstrapTokens: 'SELECT count(*) FROM bootstrap_tokens WHERE used_at IS NOT NULL',
  blockedKeys: 'SELECT count(*) FROM blocked_keys',
  crls: 'SELECT count(*) FROM crls',
  notifications: 'SELECT count(*) FROM notifications',
} as const;

type Snapshot = Record<keyof typeof COUNTS, number>;
const SNAPSHOT_SQL = `SELECT ${Object.entries(COUNTS)
  .map(([name, sql]) => `(${sql})::int AS "${name}"`)
  .join(', ')}`;

function plus(a: Snapshot, b: Snapshot, times = 1): Snapshot {
  const out = { ...a };
  for (const key of Object.keys(out) as (keyof Snapshot)[]) out[key] = a[key] + b[key] * times;
  return out;
}

function minus(a: Snapshot, b: Snapshot): Snapshot {
  return plus(a, b, -1);
}

// ---------------------------------------------------------------------------------------------
// Assertions on one response
// ---------------------------------------------------------------------------------------------

function header(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function describeRequest(request: Outgoing): string {
  const body = request.body === undefined ? '' : ` body(${Buffer.byteLength(request.body)} B)=${JSON.stringify(Buffer.from(request.body).toString('utf8').slice(0, 300))}`;
  return `${request.method} ${request.path.slice(0, 300)}${body}`;
}

/** RFC 9457 problem with status = HTTP status, a stable type and the request id. */
function assertProblem(reply: Reply, context: string): void {
  assert.match(String(header(reply, 'content-type')), /^application\/problem\+json/, `${context}: an error without problem+json`);
  let problem: { type?: unknown; title?: unknown; status?: unknown; requestId?: unknown };
  try {
    problem = JSON.parse(reply.text) as typeof problem;
  } catch {
    assert.fail(`${context}: the problem body is not JSON`);
  }
  assert.equal(problem.status, reply.status, `${context}: problem.status differs from the HTTP status`);
  assert.match(String(problem.type), /^urn:trustroot:problem:[a-z_]+$/, context);
  assert.equal(typeof problem.title, 'string', context);
  assert.equal(problem.requestId, header(reply, 'x-request-id'), `${context}: problem.requestId differs from X-Request-Id`);
  // Stack frames and source paths (not merely words a hostile input might make a detail echo).
  assert.doesNotMatch(reply.text, /node_modules\/|\.ts:\d+:\d+|\bat\s+\S+\s+\([^)]*:\d+:\d+\)/, `${context}: the problem leaks internals`);
}

/** The OCSP responder's answer: an OCSPResponse, never internalError (OCSP's own 500), or a 4xx problem. */
function assertOcspAnswer(reply: Reply, context: string): void {
  if (reply.status >= 400) {
    assertProblem(reply, context);
    return;
  }
  assert.equal(reply.status, 200, context);
  assert.match(String(header(reply, 'content-type')), /^application\/ocsp-response/, context);
  let status: OCSPResponseStatus;
  try {
    status = AsnConvert.parse(reply.body, OCSPResponse).responseStatus;
  } catch {
    assert.fail(`${context}: the body is not an OCSPResponse: ${reply.body.toString('hex').slice(0, 200)}`);
  }
  assert.ok(
    [OCSPResponseStatus.successful, OCSPResponseStatus.malformedRequest, OCSPResponseStatus.unauthorized].includes(status),
    `${context}: OCSPResponseStatus ${OCSPResponseStatus[status] ?? status}`,
  );
}

/** `status kind` (or the OCSPResponseStatus), with the problem detail when asked: what a report tallies. */
function outcome(reply: Reply, withDetail: boolean): string {
  const type = String(header(reply, 'content-type'));
  if (/^application\/ocsp-response/.test(type)) {
    try {
      return `${reply.status} ${OCSPResponseStatus[AsnConvert.parse(reply.body, OCSPResponse).responseStatus] ?? '?'}`;
    } catch {
      return `${reply.status} (not an OCSPResponse)`;
    }
  }
  if (!/problem\+json/.test(type)) return String(reply.status);
  try {
    const problem = JSON.parse(reply.text) as { type?: string; detail?: string };
    const kind = String(problem.type).replace('urn:trustroot:problem:', '');
    if (!withDetail) return `${reply.status} ${kind}`;
    // Numbers and the names of unknown members vary without telling anything new.
    const detail = String(problem.detail)
      .replace(/^body\.[^:]*: must NOT have additional properties/, 'body.<unknown>: must NOT have additional properties')
      .replace(/\d+/g, 'N');
    return `${reply.status} ${kind}: ${detail.slice(0, 100)}`;
  } catch {
    return `${reply.status} (unparsable problem)`;
  }
}

/** What one property saw: outcomes tallied, and its slowest request. */
class Tally {
  readonly outcomes = new Map<string, number>();
  slowestMs = 0;
  slowest = '';

  count(key: string, ms: number, context: string): void {
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    if (ms > this.slowestMs) {
      this.slowestMs = ms;
      this.slowest = context.slice(0, 160);
    }
  }

  matching(pattern: RegExp): number {
    return [...this.outcomes.entries()].filter(([key]) => pattern.test(key)).reduce((n, [, count]) => n + count, 0);
  }

  report(t: TestContext, name: string, top = 25): void {
    const total = [...this.outcomes.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`${name}: ${total} requests, slowest ${this.slowestMs.toFixed(0)} ms (${this.slowest})`);
    const sorted = [...this.outcomes.entries()].sort((a, b) => b[1] - a[1]);
    for (const [key, n] of sorted.slice(0, top)) t.diagnostic(`  ${String(n).padStart(5)} × ${key}`);
    if (sorted.length > top) t.diagnostic(`  … and ${sorted.slice(top).reduce((a, [, n]) => a + n, 0)} more of ${sorted.length - top} other outcomes`);
  }
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

type Route = 'issue' | 'services' | 'bootstrap-tokens' | 'revoke' | 'ocsp';

describe(`hostile input never gets a 5xx, a hang or a row (FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS})`, () => {
  let trustroot: TestTrustroot;
  let db: pg.Client;
  let apiAgent: https.Agent;
  let publicAgent: http.Agent;
  let apiBase: URL;
  let publicBase: URL;
  let adminToken: string;
  let bootstrapToken: string;
  let goodCsr: string;
  let caSerials: string[] = [];
  const csrSeeds: CsrSeed[] = [];
  const ocspSeeds: Uint8Array[] = [];
  /** What one success of each route adds, measured on a deliberate success during set-up. */
  const successDelta: Partial<Record<Route, Snapshot>> = {};
  const successes: Record<Route, number> = { issue: 0, services: 0, 'bootstrap-tokens': 0, revoke: 0, ocsp: 0 };
  let baseline: Snapshot;
  let last: Snapshot;
  let requests = 0;
  const started = performance.now();

  async function snapshot(): Promise<Snapshot> {
    // A named (prepared) statement: it runs after every one of thousands of requests.
    const { rows } = await db.query<Snapshot>({ name: 'hostile-input-snapshot', text: SNAPSHOT_SQL });
    const [row] = rows;
    assert.ok(row);
    return row;
  }

  /** The server's own account of its latest failure, for the assertion message. */
  function serverError(): string {
    const line = [...trustroot.logs.lines].reverse().find((l) => /unhandled error|OCSP response failed/.test(l));
    if (!line) return '';
    try {
      const entry = JSON.parse(line) as { err?: { type?: string; message?: string } };
      return ` — server logged ${entry.err?.type ?? 'Error'}: ${entry.err?.message ?? ''}`;
    } catch {
      return ` — server logged: ${line.slice(0, 300)}`;
    }
  }

  /**
   * Sends one hostile request and checks everything a hostile request must respect. A 2xx is
   * allowed only on routes with a `successDelta` and must change the counts by exactly that;
   * anything else must change nothing.
   */
  async function hostile(listener: 'api' | 'public', route: Route, request: Outgoing, tally: Tally, withDetail = false): Promise<Reply> {
    const context = describeRequest(request);
    requests++;
    const reply = await send(listener === 'api' ? apiBase : publicBase, listener === 'api' ? apiAgent : publicAgent, request);
    const after = await snapshot();
    const before = last;
    // Move the baseline first, so that one failure does not cascade into every later request.
    last = after;
    tally.count(outcome(reply, withDetail), reply.ms, context);
    assert.ok(reply.status < 500, `${context} → ${reply.status} ${reply.text.slice(0, 300)}${serverError()}`);
    if (route === 'ocsp') {
      assertOcspAnswer(reply, context);
      assert.deepEqual(after, before, `${context}: an OCSP request changed the database`);
      return reply;
    }
    assert.ok(!reply.text.includes(adminToken) && !reply.text.includes(bootstrapToken), `${context}: a response echoes a bearer token`);
    if (reply.status >= 400) {
      assertProblem(reply, context);
      assert.deepEqual(after, before, `${context} → ${reply.status}: a refused request changed the database`);
      return reply;
    }
    assert.ok(reply.status >= 200 && reply.status < 300, `${context} → ${reply.status}`);
    const delta = successDelta[route];
    assert.ok(delta, `${context} → ${reply.status} ${reply.text.slice(0, 300)}: this route must never succeed here`);
    successes[route]++;
    assert.deepEqual(minus(after, before), delta, `${context} → ${reply.status}: a success changed the database by more than one success's worth`);
    return reply;
  }

  const jsonHeaders = (token: string | undefined, contentType: string | undefined, contentEncoding?: string): Record<string, string> => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (contentEncoding !== undefined) headers['content-encoding'] = contentEncoding;
    return headers;
  };

  async function succeeds<T>(path: string, token: string, body: unknown): Promise<T> {
    const reply = await send(apiBase, apiAgent, { method: 'POST', path, headers: jsonHeaders(token, 'application/json'), body: JSON.stringify(body) });
    assert.ok(reply.status === 200 || reply.status === 201, `${path} → ${reply.status} ${reply.text}`);
    return JSON.parse(reply.text) as T;
  }

  /** Seeds split for re-signing (each checked by OpenSSL), the final good CSR, and an OCSP request signer. */
  async function makeSetupFiles(): Promise<Record<string, string>> {
    const files = await pemFiles({});
    try {
      const [good, signer] = await Promise.all([
        openssl(['req', '-new', ...P256, '-nodes', '-keyout', files.path('good.key'), '-out', files.path('good.csr'), '-subj', '/CN=good', '-addext', `subjectAltName=DNS:${ALLOWED_DNS_NAME}`]),
        openssl(['req', '-x509', ...P256, '-nodes', '-subj', '/CN=ocsp-client', '-days', '1', '-keyout', files.path('signer.key'), '-out', files.path('signer.pem')]),
      ]);
      assert.equal(good.code, 0, good.stderr);
      assert.equal(signer.code, 0, signer.stderr);
      goodCsr = await readFile(files.path('good.csr'), 'utf8');
      for (const { csr, key } of CSR_SEEDS) {
        const der = new Uint8Array(Buffer.from(csr.replace(/\s+/g, ''), 'base64'));
        const root = parseDer(der).node;
        assert.ok('children' in root && root.children.length === 3, 'a CSR is a SEQUENCE of three');
        const [info, algorithm] = root.children.map(encodeDer);
        assert.ok(info && algorithm);
        assert.ok(Buffer.from(encodeDer(root)).equals(der), 'the DER model re-encodes a seed to itself');
        csrSeeds.push({ der, info, algorithm, key: createPrivateKey({ key: Buffer.from(key.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'pkcs8' }) });
      }
      // Re-signing must be right, or every re-signed mutation would die at the signature check.
      const checks = await Promise.all(csrSeeds.map((seed) => openssl(['req', '-verify', '-noout'], armour(resign(seed, seed.info)))));
      for (const check of checks) assert.equal(check.code, 0, `a re-signed seed does not verify: ${check.stderr}`);
      return { 'signer.pem': await readFile(files.path('signer.pem'), 'utf8'), 'signer.key': await readFile(files.path('signer.key'), 'utf8') };
    } finally {
      await files.cleanup();
    }
  }

  before(async () => {
    // OpenSSL's work runs while the server starts; warnings and errors only (debug lines for
    // thousands of requests cost time; a 5xx is logged at error).
    const [instance, setupFiles] = await Promise.allSettled([startTestTrustroot({ env: { LOG_LEVEL: 'warn' } }), makeSetupFiles()]);
    // Kept even if the other half failed, so that `after` stops it.
    if (instance.status === 'fulfilled') trustroot = instance.value;
    if (instance.status === 'rejected') throw instance.reason;
    if (setupFiles.status === 'rejected') throw setupFiles.reason;
    apiBase = new URL(trustroot.apiUrl);
    publicBase = new URL(trustroot.publicUrl);
    publicAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const rootPem = (await send(publicBase, publicAgent, { method: 'GET', path: '/ca/root.pem' })).text;
    const intermediatePem = (await send(publicBase, publicAgent, { method: 'GET', path: '/ca/intermediate.pem' })).text;
    assert.match(rootPem, /BEGIN CERTIFICATE/);
    assert.match(intermediatePem, /BEGIN CERTIFICATE/);
    apiAgent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: rootPem });
    db = new pg.Client({ connectionString: trustroot.database.url });
    await db.connect();
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database gets an initial admin token');
    adminToken = initial;

    const files = await pemFiles({ 'intermediate.pem': intermediatePem, ...setupFiles.value });
    try {
      const ocsp = async (name: string, args: string[]): Promise<Uint8Array> => {
        const made = await openssl(['ocsp', '-issuer', files.path('intermediate.pem'), ...args, '-reqout', files.path(`${name}.der`)]);
        assert.equal(made.code, 0, made.stderr);
        return new Uint8Array(await readFile(files.path(`${name}.der`)));
      };
      // In a fixed order: FUZZ_SEED picks seeds by index.
      ocspSeeds.push(
        ...(await Promise.all([
          ocsp('nonce', ['-serial', '0x0123456789abcdef01']),
          ocsp('no-nonce', ['-no_nonce', '-serial', '0x7fffffffffffffff']),
          ocsp('sha256-three', ['-sha256', '-serial', '0x01', '-serial', '0x00ff', '-serial', '0x1234567890abcdef1234567890abcdef']),
          ocsp('signed', ['-signer', files.path('signer.pem'), '-signkey', files.path('signer.key'), '-serial', '0x42']),
        ])),
      );
    } finally {
      await files.cleanup();
    }

    const issuers = (await send(apiBase, apiAgent, { method: 'GET', path: '/v1/ca' })).text;
    caSerials = (issuers.match(/"serial":"[0-9a-f]+"/g) ?? []).map((s) => s.slice('"serial":"'.length, -1));

    // Deliberate successes, to learn exactly what one success of each allowed route writes.
    let mark = await snapshot();
    await succeeds('/v1/services', adminToken, { name: TARGET_SERVICE, owner: 'fuzz', dnsNames: [ALLOWED_DNS_NAME], profiles: ['peer'] });
    let now = await snapshot();
    successDelta.services = minus(now, mark);
    mark = now;
    bootstrapToken = (await succeeds<{ token: string }>(`/v1/services/${TARGET_SERVICE}/bootstrap-tokens`, adminToken, {})).token;
    now = await snapshot();
    successDelta['bootstrap-tokens'] = minus(now, mark);
    assert.equal(successDelta.services.services, 1);
    assert.equal(successDelta['bootstrap-tokens'].bootstrapTokens, 1);
    baseline = now;
    last = now;
  });

  after(async () => {
    apiAgent?.destroy();
    publicAgent?.destroy();
    if (db !== undefined) await db.end();
    if (trustroot !== undefined) await trustroot.destroy();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`# hostile-input: ${requests} hostile requests, ${seconds} s with set-up (FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}); accounted successes ${JSON.stringify(successes)}\n`);
  });

  const assertOptions = (numRuns: number) => ({ seed: SEED, numRuns, verbose: 1 as const, includeErrorInReport: true });

  it('(a) mutated CSRs (valid PEM armour) to POST /v1/certificates with a valid bootstrap token: 4xx problem, the token survives', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(csrMutationArb, async (mutation) => {
        const pem = armour(mutateCsr(csrSeeds, mutation), mutation.label);
        const body = JSON.stringify({ csr: pem, profile: 'peer' });
        const reply = await hostile('api', 'issue', { method: 'POST', path: '/v1/certificates', headers: jsonHeaders(bootstrapToken, 'application/json'), body }, tally, true);
        assert.notEqual(reply.status, 401, `the bootstrap token stopped working: ${reply.text}`);
      }),
      assertOptions(runs(1)),
    );
    tally.report(t, 'CSR mutations', 40);
    // The CSR checks were reached (not stopped by the body limit or the schema)…
    const stoppedEarly = tally.matching(/^413 |^400 bad_request: (body\.|the request body)/);
    assert.ok(stoppedEarly <= runs(1) * 0.2, `${stoppedEarly} of ${runs(1)} mutated CSRs never reached the CSR checks`);
    // …and some got past the signature check, to the requested extensions and names.
    const deep = tally.matching(/^4\d\d (policy_violation|bad_request: (DNS|IP|URI|at least one)|invalid_csr: the CSR (has|requests|extensionRequest|'s requested|subject))/);
    if (runs(1) >= 200) assert.ok(deep > 0, 'no mutated CSR got past its signature check');
  });

  const issueSpecs = (): FieldSpec[] => [
    { key: 'csr', type: 'csr', valid: jsonText(armour(csrSeeds[0]?.der ?? new Uint8Array())), required: true },
    { key: 'profile', type: 'profile', valid: '"peer"', required: true },
    { key: 'ttl', type: 'ttl', valid: '"1h"' },
    { key: 'sans', type: 'names', valid: '["mutant.fuzz.invalid"]' },
    { key: 'service', type: 'serviceName', valid: jsonText(TARGET_SERVICE) },
    { key: 'generateKey', type: 'keyAlgorithm', valid: '"ecdsa-p256"' },
    { key: 'pkcs12Password', type: 'string', valid: '"secret"' },
  ];

  it('(b1) near-valid and arbitrary JSON bodies to POST /v1/certificates (bootstrap token)', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const specs = issueSpecs();
    const arb = fc
      .record({ choice: bodyChoiceArb(specs, csrSeeds), contentType: contentTypeArb })
      .map(({ choice, contentType }) => ({ body: bodyBytes(specs, choice), contentType }))
      .filter(({ body }) => !couldIssue(body.toString('utf8')));
    await fc.assert(
      fc.asyncProperty(arb, async ({ body, contentType }) => {
        const reply = await hostile('api', 'issue', { method: 'POST', path: '/v1/certificates', headers: jsonHeaders(bootstrapToken, contentType), body }, tally, true);
        assert.notEqual(reply.status, 401, `the bootstrap token stopped working: ${reply.text}`);
      }),
      assertOptions(runs(0.4)),
    );
    tally.report(t, 'issuance bodies');
  });

  it('(b2) near-valid and arbitrary JSON bodies to POST /v1/services (admin token)', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const specs = (name: string): FieldSpec[] => [
      { key: 'name', type: 'serviceName', valid: jsonText(name), required: true },
      { key: 'owner', type: 'string', valid: '"fuzz-team"', required: true },
      { key: 'contact', type: 'string', valid: '"fuzz@example.com"' },
      { key: 'webhookUrl', type: 'url', valid: '"https://hooks.example.com/trustroot"' },
      { key: 'dnsNames', type: 'names', valid: '["a.fuzz.invalid","*.b.fuzz.invalid"]' },
      { key: 'ipAddresses', type: 'names', valid: '["10.9.0.0/16","2001:db8::/32"]' },
      { key: 'uris', type: 'names', valid: '["spiffe://fuzz.invalid/ns/*"]' },
      { key: 'profiles', type: 'profiles', valid: '["peer","server"]' },
    ];
    const arb = fc
      .record({
        name: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 1, maxLength: 20 }).map((s) => `fz-${s}`),
        choice: bodyChoiceArb(specs('fz'), csrSeeds),
        contentType: contentTypeArb,
        contentEncoding: contentEncodingArb,
      })
      .map(({ name, choice, contentType, contentEncoding }) => ({ body: bodyBytes(specs(name), choice), contentType, contentEncoding }))
;
    await fc.assert(
      fc.asyncProperty(arb, async ({ body, contentType, contentEncoding }) => {
        await hostile('api', 'services', { method: 'POST', path: '/v1/services', headers: jsonHeaders(adminToken, contentType, contentEncoding), body }, tally, true);
      }),
      assertOptions(runs(0.4)),
    );
    tally.report(t, 'service bodies');
  });

  it(
    "(b2′) POST /v1/services with U+0000 or an unpaired surrogate in owner, contact or webhookUrl",
    {
      timeout: PROPERTY_TIMEOUT_MS,
    },
    async (t) => {
      const tally = new Tally();
      const poison = fc.constantFrom('\\u0000', '\\ud800', '\\udfff', '\\udbff\\udbff');
      const arb = fc.record({
        name: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 20 }).map((s) => `fz-poison-${s}`),
        field: fc.constantFrom('owner', 'contact', 'webhookUrl'),
        before: fc.string({ unit: fc.constantFrom(...'abcxyz'), maxLength: 5 }),
        poison,
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ name, field, before: text, poison: bad }) => {
          const value = field === 'webhookUrl' ? `"https://hooks.example.com/${text}${bad}"` : `"${text}${bad}"`;
          const fields: Field[] = [['name', jsonText(name)], ['owner', '"fuzz-team"']];
          const existing = fields.find(([key]) => key === field);
          if (existing) existing[1] = value;
          else fields.push([field, value]);
          const body = `{${fields.map(([key, v]) => `${jsonText(key)}:${v}`).join(',')}}`;
          await hostile('api', 'services', { method: 'POST', path: '/v1/services', headers: jsonHeaders(adminToken, 'application/json'), body }, tally, true);
        }),
        assertOptions(runs(0.05)),
      );
      tally.report(t, 'services, unstorable text');
    },
  );

  /** A path segment: mostly `valid`, sometimes hostile (percent-encoded or raw). */
  const pathSegmentArb = (valid: fc.Arbitrary<string>): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 10, arbitrary: valid },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map((s) => encodeURIComponent(s)) },
      { weight: 1, arbitrary: fc.constantFrom('..', '%2e%2e', '%2F', '%00', 'a%20b', 'A', 'a'.repeat(64), '0'.repeat(61), ':::', '-1', 'x'.repeat(3000), '%E2%80%AE', '%C0%AF') },
    );

  it('(b3) near-valid and arbitrary JSON bodies to POST /v1/services/{name}/bootstrap-tokens (admin token)', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const specs: FieldSpec[] = [
      { key: 'ttl', type: 'ttl', valid: '"15m"' },
      { key: 'sans', type: 'names', valid: jsonText([ALLOWED_DNS_NAME]) },
    ];
    const arb = fc.record({
      service: pathSegmentArb(fc.oneof({ weight: 8, arbitrary: fc.constant(TARGET_SERVICE) }, { weight: 1, arbitrary: fc.constantFrom('no-such-service', 'constructor', '__proto__') })),
      choice: bodyChoiceArb(specs, csrSeeds),
      contentType: contentTypeArb,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ service, choice, contentType }) => {
        const path = `/v1/services/${service}/bootstrap-tokens`;
        await hostile('api', 'bootstrap-tokens', { method: 'POST', path, headers: jsonHeaders(adminToken, contentType), body: bodyBytes(specs, choice) }, tally, true);
      }),
      assertOptions(runs(0.4)),
    );
    tally.report(t, 'bootstrap-token bodies');
  });

  it('(b4) near-valid and arbitrary JSON bodies to POST /v1/certificates/{serial}/revoke (admin token, no such certificate)', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const specs: FieldSpec[] = [
      { key: 'reason', type: 'reason', valid: '"keyCompromise"', required: true },
      { key: 'invalidityDate', type: 'date', valid: '"2020-01-01T00:00:00Z"' },
    ];
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 40 });
    const serial = fc.oneof(
      { weight: 6, arbitrary: hex.map((s) => `7e${s}`) },
      { weight: 1, arbitrary: hex.map((s) => s.replace(/(..)/g, '$1:')) },
      { weight: 1, arbitrary: fc.constantFrom(...(caSerials.length > 0 ? caSerials : ['00'])) },
    );
    const arb = fc.record({ serial: pathSegmentArb(serial), choice: bodyChoiceArb(specs, csrSeeds), contentType: contentTypeArb });
    await fc.assert(
      fc.asyncProperty(arb, async ({ serial: s, choice, contentType }) => {
        await hostile('api', 'revoke', { method: 'POST', path: `/v1/certificates/${s}/revoke`, headers: jsonHeaders(adminToken, contentType), body: bodyBytes(specs, choice) }, tally, true);
      }),
      assertOptions(runs(0.4)),
    );
    tally.report(t, 'revocation bodies');
  });

  const ocspIssuerArb = fc.oneof({ weight: 12, arbitrary: fc.constant('intermediate') }, { weight: 1, arbitrary: fc.constantFrom('test-intermediate', 'root', 'no-such-issuer', '%2e%2e') });
  const ocspMutationArb = (deep: number) => fc.record({ seed: fc.nat(), der: fc.oneof(derMutationArb(deep), derMutationArb(deep, false)) });
  const mutateOcsp = ({ seed, der }: { seed: number; der: DerMutation }): Uint8Array => mutateDer(ocspSeeds[seed % ocspSeeds.length] ?? new Uint8Array(), der);

  it('(c1) mutated OCSP requests to POST /ocsp/{issuer}: an OCSPResponse (never internalError) or a 4xx', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const body = fc.oneof(
      { weight: 12, arbitrary: ocspMutationArb(4_000).map(mutateOcsp) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
      { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 20_000 }).map((n) => wrapMany(ocspSeeds[0] ?? new Uint8Array(), 0x30, Math.ceil(n / 4))) },
    );
    const contentType = fc.oneof({ weight: 9, arbitrary: fc.constant('application/ocsp-request') }, { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream') });
    await fc.assert(
      fc.asyncProperty(ocspIssuerArb, body, contentType, async (issuer, der, type) => {
        await hostile('public', 'ocsp', { method: 'POST', path: `/ocsp/${issuer}`, headers: { 'content-type': type }, body: Buffer.from(der) }, tally);
      }),
      assertOptions(runs(0.8)),
    );
    tally.report(t, 'OCSP POST');
  });

  /** How clients put a DER request into a GET path (RFC 6960 appendix A.1, and common variants). */
  type PathEncoding = 'percent-encoded' | 'raw-base64' | 'url-safe';
  const encodeForPath = (der: Uint8Array, encoding: PathEncoding): string => {
    const base64 = Buffer.from(der).toString('base64');
    if (encoding === 'percent-encoded') return encodeURIComponent(base64);
    if (encoding === 'url-safe') return Buffer.from(der).toString('base64url');
    return base64;
  };

  it('(c2) mutated OCSP requests as base64 in GET /ocsp/{issuer}/{request}', { timeout: PROPERTY_TIMEOUT_MS }, async (t) => {
    const tally = new Tally();
    const encoding = fc.constantFrom<PathEncoding>('percent-encoded', 'raw-base64', 'url-safe');
    await fc.assert(
      fc.asyncProperty(ocspIssuerArb, ocspMutationArb(2_000), encoding, async (issuer, mutation, how) => {
        await hostile('public', 'ocsp', { method: 'GET', path: `/ocsp/${issuer}/${encodeForPath(mutateOcsp(mutation), how)}` }, tally);
      }),
      assertOptions(runs(0.4)),
    );
    tally.report(t, 'OCSP GET');
  });

  it(
    '(c3) GET /ocsp/{issuer}/{request} with hostile percent-encoding in the path',
    {
      timeout: PROPERTY_TIMEOUT_MS,
    },
    async (t) => {
      const tally = new Tally();
      const insert = fc.constantFrom('%25', '%', '%2', '%zz', '%00', '%2F', '%252F', '%C0%AF', '%E2%82', '%FF', '+', '-', '_', '=', '.', '~', '!', "'", '(', ')', '*', ';', ',', '@', '&', '$');
      const arb = fc.record({ issuer: ocspIssuerArb, seed: fc.nat(), inserts: fc.array(fc.record({ at: fc.nat(), text: insert }), { minLength: 1, maxLength: 3 }) });
      await fc.assert(
        fc.asyncProperty(arb, async ({ issuer, seed, inserts }) => {
          let segment = encodeForPath(ocspSeeds[seed % ocspSeeds.length] ?? new Uint8Array(), 'percent-encoded');
          for (const { at, text } of inserts) {
            const where = at % (segment.length + 1);
            segment = `${segment.slice(0, where)}${text}${segment.slice(where)}`;
          }
          await hostile('public', 'ocsp', { method: 'GET', path: `/ocsp/${issuer}/${segment}` }, tally);
        }),
        assertOptions(runs(0.2)),
      );
      tally.report(t, 'OCSP GET, hostile percent-encoding');
    },
  );

  it('after the storm: only accounted-for rows were written, and the bootstrap token issues exactly once', { timeout: 60_000 }, async (t) => {
    const { services, 'bootstrap-tokens': minted } = successDelta;
    assert.ok(services && minted);
    const expected = plus(plus(baseline, services, successes.services), minted, successes['bootstrap-tokens']);
    assert.deepEqual(await snapshot(), expected, `the counts differ from the set-up plus the accounted successes ${JSON.stringify(successes)}`);
    assert.equal(successes.issue, 0);
    assert.equal(successes.revoke, 0);
    t.diagnostic(`${requests} hostile requests; accounted successes: ${JSON.stringify(successes)}`);

    const before = await snapshot();
    const issue = (): Promise<Reply> =>
      send(apiBase, apiAgent, { method: 'POST', path: '/v1/certificates', headers: jsonHeaders(bootstrapToken, 'application/json'), body: JSON.stringify({ csr: goodCsr, profile: 'peer' }) });
    const issued = await issue();
    assert.equal(issued.status, 201, `the bootstrap token no longer issues: ${issued.text}`);
    assert.deepEqual(await snapshot(), {
      ...before,
      certificates: before.certificates + 1,
      activeCertificates: before.activeCertificates + 1,
      auditEvents: before.auditEvents + 1,
      usedBootstrapTokens: before.usedBootstrapTokens + 1,
    });
    const again = await issue();
    assert.equal(again.status, 401, again.text);
  });
});
