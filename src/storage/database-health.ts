import type { DatabaseHealth } from '../domain/ports.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { guardStorage } from './storage-error.ts';

export class PrismaDatabaseHealth implements DatabaseHealth {
  constructor(private readonly prisma: PrismaClient) {}

  ping(): Promise<void> {
    return guardStorage(async () => {
      await this.prisma.$queryRaw`SELECT 1`;
    });
  }
}
