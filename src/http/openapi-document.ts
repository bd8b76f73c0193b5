import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export interface OpenApiDocument {
  text: string;
  spec: Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };
}

let loaded: OpenApiDocument | undefined;

/**
 * `openapi.yaml` from the project root (found upward from this file), read and parsed once per
 * process: parsing it costs ~0.1–0.2 s of CPU, and a process that starts several Trustroots (the
 * tests) would pay it for each. The spec is frozen, deeply, because every caller shares it; one
 * that must change it (express-openapi-validator does) works on a copy.
 */
export function loadOpenApiDocument(): OpenApiDocument {
  loaded ??= readOpenApiDocument();
  return loaded;
}

function readOpenApiDocument(): OpenApiDocument {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'openapi.yaml'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('openapi.yaml not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  const text = readFileSync(path.join(dir, 'openapi.yaml'), 'utf8');
  return Object.freeze({ text, spec: deepFreeze(parse(text) as OpenApiDocument['spec']) });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
