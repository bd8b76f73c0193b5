-- AlterTable
ALTER TABLE "issuers" ADD COLUMN     "crl_version" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "revocation_version" INTEGER NOT NULL DEFAULT 0;
