-- AlterTable
ALTER TABLE "issuers" ADD COLUMN     "crl_stale_since" TIMESTAMPTZ(3);
