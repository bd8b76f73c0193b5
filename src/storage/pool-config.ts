import type { PoolConfig } from 'pg';
import { parse } from 'pg-connection-string';

/**
 * Turns a `postgresql://` URL into discrete pg pool fields (host, port, database, user,
 * password, ssl), so that callers can override one of them, such as `database`.
 */
export function poolConfigFromUrl(connectionString: string): PoolConfig {
  const parsed = parse(connectionString);
  const config: PoolConfig = {};
  if (parsed.host) config.host = parsed.host;
  if (parsed.port) config.port = Number(parsed.port);
  if (parsed.database) config.database = parsed.database;
  if (parsed.user) config.user = parsed.user;
  if (parsed.password) config.password = parsed.password;
  if (parsed.ssl !== undefined && parsed.ssl !== null) {
    config.ssl = parsed.ssl as PoolConfig['ssl'];
  }
  if (parsed.application_name) config.application_name = parsed.application_name;
  return config;
}
