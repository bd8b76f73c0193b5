import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { parse } from 'yaml';

export interface OpenApiDocument {
  text: string;
  spec: Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };
}

/** Reads `openapi.yaml` from the project root (found upward from this file). */
export function loadOpenApiDocument(): OpenApiDocument {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'openapi.yaml'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('openapi.yaml not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  const text = readFileSync(path.join(dir, 'openapi.yaml'), 'utf8');
  return { text, spec: parse(text) as OpenApiDocument['spec'] };
}
