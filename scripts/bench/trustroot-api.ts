import { runClosedLoop } from './closed-loop.ts';
import type { BenchClient } from './http-client.ts';

/** What the benchmark reads from `POST /v1/certificates` (IssuedCertificate in openapi.yaml). */
export interface IssuedCertificate {
  serial: string;
  certificate: string;
}

function problem(status: number, body: unknown): string {
  const detail = typeof body === 'object' && body !== null && 'detail' in body ? String((body as { detail: unknown }).detail) : '';
  return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
}

/** Registers a service (admin) allowed the `peer` profile and the given DNS names; 201 expected. */
export async function registerService(api: BenchClient, adminToken: string, name: string, dnsNames: string[]): Promise<void> {
  const response = await api.json('POST', '/v1/services', adminToken, { name, owner: 'trustroot-bench', dnsNames, profiles: ['peer'] });
  if (response.status !== 201) throw new Error(`registering service ${name}: ${problem(response.status, response.body)}`);
}

/**
 * Mints single-use bootstrap tokens (admin), `services[i]` for token i, 16 requests at a time.
 * Done before the timed part; valid for an hour so that no token expires mid-run.
 */
export async function mintBootstrapTokens(api: BenchClient, adminToken: string, services: string[]): Promise<string[]> {
  const tokens: string[] = new Array<string>(services.length);
  const result = await runClosedLoop(services.length, 16, async (index) => {
    const service = services[index] ?? '';
    const response = await api.json<{ token: string }>('POST', `/v1/services/${service}/bootstrap-tokens`, adminToken, { ttl: '1h' });
    if (response.status !== 201) return `minting a bootstrap token for ${service}: ${problem(response.status, response.body)}`;
    tokens[index] = response.body.token;
    return undefined;
  });
  if (result.errors > 0) throw new Error(result.errorSamples.join('; '));
  return tokens;
}

/** Issues one `peer` certificate from a CSR; with an API token, `service` names the service. */
export async function issueCertificate(api: BenchClient, token: string, csr: string, service?: string): Promise<{ status: number; issued?: IssuedCertificate; error?: string }> {
  const response = await api.json<IssuedCertificate>('POST', '/v1/certificates', token, { csr, profile: 'peer', ...(service ? { service } : {}) });
  if (response.status !== 201) return { status: response.status, error: problem(response.status, response.body) };
  return { status: response.status, issued: response.body };
}

/** Revokes one certificate (admin); 200 expected. */
export async function revokeCertificate(api: BenchClient, adminToken: string, serial: string): Promise<void> {
  const response = await api.json('POST', `/v1/certificates/${serial}/revoke`, adminToken, { reason: 'cessationOfOperation' });
  if (response.status !== 200) throw new Error(`revoking ${serial}: ${problem(response.status, response.body)}`);
}
