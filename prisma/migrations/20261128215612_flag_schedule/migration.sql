-- The expiry scan's schedule moves out of "certificates" into a narrow table of its own: each
-- scan rewrites the next-flag time of every due certificate, and in "certificates" that rewrote
-- the wide row and an entry in each of its indexes. Rows are only kept while something is left
-- to flag.

-- CreateTable
CREATE TABLE "certificate_flag_schedule" (
    "certificate_id" UUID NOT NULL,
    "next_flag_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "certificate_flag_schedule_pkey" PRIMARY KEY ("certificate_id")
);

-- Move the schedule of certificates the scan may still flag.
INSERT INTO "certificate_flag_schedule" ("certificate_id", "next_flag_at")
SELECT "id", "next_flag_at" FROM "certificates" WHERE "next_flag_at" IS NOT NULL AND "status" = 'active';

-- CreateIndex
CREATE INDEX "certificate_flag_schedule_next_flag_at_idx" ON "certificate_flag_schedule"("next_flag_at");

-- AddForeignKey
ALTER TABLE "certificate_flag_schedule" ADD CONSTRAINT "certificate_flag_schedule_certificate_id_fkey" FOREIGN KEY ("certificate_id") REFERENCES "certificates"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- DropIndex
DROP INDEX "certificates_next_flag_at_idx";

-- AlterTable
ALTER TABLE "certificates" DROP COLUMN "next_flag_at";
