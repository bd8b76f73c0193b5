-- CreateTable
CREATE TABLE "blocked_keys" (
    "spki_sha256" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "blocked_at" TIMESTAMPTZ(3) NOT NULL,
    "blocked_by" TEXT NOT NULL,

    CONSTRAINT "blocked_keys_pkey" PRIMARY KEY ("spki_sha256")
);

-- CreateIndex
CREATE INDEX "crls_issuer_id_this_update_idx" ON "crls"("issuer_id", "this_update");
