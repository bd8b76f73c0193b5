import assert from 'node:assert/strict';
import type { HttpsResponse } from './https-request.ts';

/** An RFC 9457 problem as Trustroot answers it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId: string;
  [extension: string]: unknown;
}

/** Asserts `status` and a JSON body, and returns the body. */
export function parseJson<T>(response: HttpsResponse, status: number): T {
  assert.equal(response.status, status, response.text);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  return JSON.parse(response.text) as T;
}

/** Asserts an RFC 9457 problem of `kind` with `status` and a detail, and returns it. */
export function assertProblem(response: HttpsResponse, status: number, kind: string): Problem {
  assert.equal(response.status, status, response.text);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const problem = JSON.parse(response.text) as Problem;
  assert.equal(problem.status, status);
  assert.equal(problem.type, `urn:trustroot:problem:${kind}`, response.text);
  assert.ok(problem.detail.length > 0);
  return problem;
}
