import type { Server } from 'node:https';
import { MtlsCredentials, type Log } from './mtls-credentials.ts';
import { createMtlsServer, readJson, sendJson, type Peer } from './mtls-server.ts';
import { commonSettingsFromEnv, handleSignals, isMainModule, jsonLog, listFromEnv, type CommonSettings } from './service-settings.ts';

/*
 * id-verification: checks an applicant's identity document. It serves one route over mTLS,
 * `POST /verify`, to the callers it allows (compliance). The document check itself is a stand-in;
 * the point of the example is who may ask and how that is proven.
 *
 * Run it on its own (see README.md): node --import tsx examples/kyc-mtls/id-verification.ts
 */

export interface IdVerificationConfig extends CommonSettings {
  /** Names of the certificate; the first is the identity callers check (`id-verification.svc`). */
  names: string[];
  /** DNS names of the callers allowed (`compliance.svc`). */
  allowedClients: string[];
  log: Log;
}

export interface VerifyRequest {
  applicantId: string;
  documentNumber: string;
}

export interface VerifyResult {
  applicantId: string;
  verified: boolean;
  reason?: string;
  /** Who asked, as the TLS handshake proved it: kept with the result for the audit trail. */
  caller: Peer;
}

export interface RunningIdVerification {
  port: number;
  credentials: MtlsCredentials;
  server: Server;
  close(): Promise<void>;
}

function isVerifyRequest(value: unknown): value is VerifyRequest {
  const body = value as Partial<VerifyRequest> | null;
  return typeof body === 'object' && body !== null && typeof body.applicantId === 'string' && typeof body.documentNumber === 'string';
}

/** The stand-in document check: a well-formed passport-style number. */
function verify(request: VerifyRequest, caller: Peer): VerifyResult {
  const wellFormed = /^[A-Z0-9]{6,12}$/.test(request.documentNumber);
  return { applicantId: request.applicantId, verified: wellFormed, ...(wellFormed ? {} : { reason: 'malformed document number' }), caller };
}

/** Bootstraps (or loads) the certificate, fetches the CRLs, and listens. */
export async function startIdVerification(config: IdVerificationConfig): Promise<RunningIdVerification> {
  const { log } = config;
  const credentials = await MtlsCredentials.open({ trustroot: config.trustroot, dir: config.certDir, names: config.names, crlRefreshMs: config.crlRefreshMs, log });
  const mtls = createMtlsServer({ credentials, allowedPeers: config.allowedClients, log }, async (request, response, peer) => {
    if (request.method !== 'POST' || request.url !== '/verify') {
      sendJson(response, 404, { error: 'not found' });
      return;
    }
    const body = await readJson(request);
    if (!isVerifyRequest(body)) {
      sendJson(response, 400, { error: 'expected {"applicantId": string, "documentNumber": string}' });
      return;
    }
    const result = verify(body, peer);
    log('verified', { applicantId: result.applicantId, verified: result.verified, caller: peer.name, callerSerial: peer.serial });
    sendJson(response, 200, result);
  });
  let port: number;
  try {
    port = await mtls.listen(config.port, config.host);
  } catch (error) {
    credentials.close();
    throw error;
  }
  log('listening', { host: config.host, port, serial: credentials.serial });
  return {
    port,
    credentials,
    server: mtls.server,
    close: async () => {
      credentials.close();
      await mtls.close();
    },
  };
}

/** The configuration from the environment (README.md); PORT defaults to 9443. */
export function idVerificationConfigFromEnv(env: Record<string, string | undefined>): IdVerificationConfig {
  return {
    ...commonSettingsFromEnv(env, 'id-verification', 9443),
    names: listFromEnv(env, 'TLS_NAMES', ['id-verification.svc']),
    allowedClients: listFromEnv(env, 'ALLOWED_CLIENTS', ['compliance.svc']),
    log: jsonLog('id-verification'),
  };
}

if (isMainModule(import.meta.url)) {
  const config = idVerificationConfigFromEnv(process.env);
  const service = await startIdVerification(config);
  handleSignals(service, config.log);
}
