import type { Server } from 'node:https';
import type { VerifyResult } from './id-verification.ts';
import { MtlsClient, PeerCallError } from './mtls-client.ts';
import { MtlsCredentials, type Log } from './mtls-credentials.ts';
import { createMtlsServer, readJson, sendJson } from './mtls-server.ts';
import { commonSettingsFromEnv, handleSignals, isMainModule, jsonLog, listFromEnv, type CommonSettings } from './service-settings.ts';

/*
 * compliance: decides whether an applicant may be onboarded. `POST /check` (over mTLS, for the
 * callers it allows) asks id-verification — over mTLS with compliance's own certificate — and
 * combines its answer into a decision. It relies on id-verification, which is what Trustroot's
 * dependency list records, so that compliance's owners hear when id-verification's certificate
 * is about to expire.
 *
 * Run it on its own (see README.md): node --import tsx examples/kyc-mtls/compliance.ts
 */

export interface ComplianceConfig extends CommonSettings {
  /** Names of the certificate (`compliance.svc`). */
  names: string[];
  /** DNS names of the callers allowed (`onboarding.svc`). */
  allowedClients: string[];
  /** Where id-verification listens, e.g. `https://127.0.0.1:9443`. */
  idVerificationUrl: string;
  /** The name id-verification's certificate must carry (`id-verification.svc`). */
  idVerificationName: string;
  log: Log;
}

export interface CheckRequest {
  applicantId: string;
  documentNumber: string;
}

export interface CheckResult {
  applicantId: string;
  decision: 'approved' | 'manual-review';
  identity: VerifyResult;
  /** Serial of the certificate id-verification presented: which identity vouched, for the audit trail. */
  idVerificationSerial: string;
}

export interface RunningCompliance {
  port: number;
  credentials: MtlsCredentials;
  server: Server;
  close(): Promise<void>;
}

function isCheckRequest(value: unknown): value is CheckRequest {
  const body = value as Partial<CheckRequest> | null;
  return typeof body === 'object' && body !== null && typeof body.applicantId === 'string' && typeof body.documentNumber === 'string';
}

/** Bootstraps (or loads) the certificate, fetches the CRLs, and listens. */
export async function startCompliance(config: ComplianceConfig): Promise<RunningCompliance> {
  const { log } = config;
  const credentials = await MtlsCredentials.open({ trustroot: config.trustroot, dir: config.certDir, names: config.names, crlRefreshMs: config.crlRefreshMs, log });
  const idVerification = new MtlsClient({ credentials, baseUrl: config.idVerificationUrl, serverName: config.idVerificationName });
  const mtls = createMtlsServer({ credentials, allowedPeers: config.allowedClients, log }, async (request, response, peer) => {
    if (request.method !== 'POST' || request.url !== '/check') {
      sendJson(response, 404, { error: 'not found' });
      return;
    }
    const body = await readJson(request);
    if (!isCheckRequest(body)) {
      sendJson(response, 400, { error: 'expected {"applicantId": string, "documentNumber": string}' });
      return;
    }
    let answer;
    try {
      answer = await idVerification.postJson<VerifyResult>('/verify', { applicantId: body.applicantId, documentNumber: body.documentNumber });
    } catch (error) {
      // Refused at the handshake (e.g. our certificate was revoked), unreachable, or not the
      // service it claims to be: no decision without an identity check.
      const code = error instanceof PeerCallError ? error.code : 'ERR_UNKNOWN';
      log('id-verification-failed', { code, error: String(error), applicantId: body.applicantId, caller: peer.name });
      sendJson(response, 502, { error: 'id-verification unavailable', code });
      return;
    }
    if (answer.status !== 200) {
      log('id-verification-refused', { status: answer.status, body: answer.body, applicantId: body.applicantId });
      sendJson(response, 502, { error: 'id-verification refused the request', status: answer.status });
      return;
    }
    const result: CheckResult = {
      applicantId: body.applicantId,
      decision: answer.body.verified ? 'approved' : 'manual-review',
      identity: answer.body,
      idVerificationSerial: answer.serverSerial,
    };
    log('checked', { applicantId: result.applicantId, decision: result.decision, caller: peer.name, idVerificationSerial: answer.serverSerial });
    sendJson(response, 200, result);
  });
  let port: number;
  try {
    port = await mtls.listen(config.port, config.host);
  } catch (error) {
    idVerification.close();
    credentials.close();
    throw error;
  }
  log('listening', { host: config.host, port, serial: credentials.serial, idVerificationUrl: config.idVerificationUrl });
  return {
    port,
    credentials,
    server: mtls.server,
    close: async () => {
      credentials.close();
      idVerification.close();
      await mtls.close();
    },
  };
}

/** The configuration from the environment (README.md); PORT defaults to 9444. */
export function complianceConfigFromEnv(env: Record<string, string | undefined>): ComplianceConfig {
  return {
    ...commonSettingsFromEnv(env, 'compliance', 9444),
    names: listFromEnv(env, 'TLS_NAMES', ['compliance.svc']),
    allowedClients: listFromEnv(env, 'ALLOWED_CLIENTS', ['onboarding.svc']),
    idVerificationUrl: env.ID_VERIFICATION_URL?.trim() || 'https://127.0.0.1:9443',
    idVerificationName: env.ID_VERIFICATION_NAME?.trim() || 'id-verification.svc',
    log: jsonLog('compliance'),
  };
}

if (isMainModule(import.meta.url)) {
  const config = complianceConfigFromEnv(process.env);
  const service = await startCompliance(config);
  handleSignals(service, config.log);
}
