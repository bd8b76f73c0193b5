-- AlterTable
ALTER TABLE "certificates" ADD COLUMN     "name_text" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE INDEX "certificates_issued_at_idx" ON "certificates"("issued_at");
