/** Wire types of the CA routes, as `openapi.yaml` defines them (components.schemas). */

export type IssuerNameDto = 'root' | 'intermediate' | 'test-root' | 'test-intermediate';

export interface IssuerDto {
  name: IssuerNameDto;
  kind: 'root' | 'intermediate';
  environment: 'production' | 'test';
  parent?: IssuerNameDto;
  subject: string;
  serial: string;
  fingerprintSha256: string;
  keyAlgorithm: string;
  notBefore: string;
  notAfter: string;
  certificateUrl: string;
}

export interface IssuerListDto {
  issuers: IssuerDto[];
}

export interface ReadinessChecksDto {
  database: 'ok' | 'unavailable';
  caKeys: 'ok' | 'not_loaded';
}

export interface ReadinessDto {
  status: 'ready';
  checks: ReadinessChecksDto;
}

/** RFC 9457 problem details as Trustroot sends them. */
export interface ProblemDto {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId: string;
  [extension: string]: unknown;
}
