import type { DatabaseHealth } from '../domain/ports.ts';

export interface ReadinessReport {
  ready: boolean;
  checks: { database: 'ok' | 'unavailable'; caKeys: 'ok' | 'not_loaded' };
}

/** Ready means: the database answers now, and the CA keys are decrypted in memory. */
export async function checkReadiness(database: DatabaseHealth, caKeysLoaded: boolean): Promise<ReadinessReport> {
  const databaseOk = await database.ping().then(
    () => true,
    () => false,
  );
  const checks = {
    database: databaseOk ? ('ok' as const) : ('unavailable' as const),
    caKeys: caKeysLoaded ? ('ok' as const) : ('not_loaded' as const),
  };
  return { ready: databaseOk && caKeysLoaded, checks };
}
