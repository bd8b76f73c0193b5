-- AlterTable
ALTER TABLE "certificates" ADD COLUMN     "next_flag_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "job_runs" ADD COLUMN     "duration_ms" INTEGER,
ADD COLUMN     "scheduled_for" TIMESTAMPTZ(3) NOT NULL;

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "idempotency_key" TEXT NOT NULL;

-- CreateIndex
CREATE INDEX "certificates_next_flag_at_idx" ON "certificates"("next_flag_at");

-- CreateIndex
CREATE UNIQUE INDEX "job_runs_job_scheduled_for_key" ON "job_runs"("job", "scheduled_for");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_idempotency_key_key" ON "notifications"("idempotency_key");
