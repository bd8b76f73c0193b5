-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "IssuerKind" AS ENUM ('root', 'intermediate');

-- CreateEnum
CREATE TYPE "IssuerEnvironment" AS ENUM ('production', 'test');

-- CreateEnum
CREATE TYPE "CertificateStatus" AS ENUM ('active', 'superseded', 'revoked', 'expired');

-- CreateEnum
CREATE TYPE "RevocationReason" AS ENUM ('unspecified', 'keyCompromise', 'caCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn');

-- CreateEnum
CREATE TYPE "ApiTokenRole" AS ENUM ('admin', 'security', 'ci', 'auditor');

-- CreateEnum
CREATE TYPE "AlertState" AS ENUM ('open', 'acknowledged', 'resolved');

-- CreateEnum
CREATE TYPE "NotificationStatus" AS ENUM ('pending', 'delivered', 'dead');

-- CreateTable
CREATE TABLE "issuers" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "IssuerKind" NOT NULL,
    "environment" "IssuerEnvironment" NOT NULL,
    "parent_id" UUID,
    "subject_dn" TEXT NOT NULL,
    "key_algorithm" TEXT NOT NULL,
    "key_ref" TEXT NOT NULL,
    "fingerprint_sha256" TEXT NOT NULL,
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "certificate_der" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issuers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "services" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "contact" TEXT,
    "webhook_url" TEXT,
    "webhook_secret_encrypted" BYTEA,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_at" TIMESTAMPTZ(3),
    "dns_names" TEXT[],
    "ip_addresses" TEXT[],
    "uris" TEXT[],
    "profiles" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "services_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_dependencies" (
    "service_id" UUID NOT NULL,
    "relies_on_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "service_dependencies_pkey" PRIMARY KEY ("service_id","relies_on_id")
);

-- CreateTable
CREATE TABLE "certificates" (
    "id" UUID NOT NULL,
    "issuer_id" UUID NOT NULL,
    "serial_hex" TEXT NOT NULL,
    "service_id" UUID,
    "profile" TEXT NOT NULL,
    "subject_dn" TEXT NOT NULL,
    "common_name" TEXT,
    "dns_names" TEXT[],
    "ip_addresses" TEXT[],
    "uris" TEXT[],
    "key_algorithm" TEXT NOT NULL,
    "spki_sha256" TEXT NOT NULL,
    "fingerprint_sha256" TEXT NOT NULL,
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "status" "CertificateStatus" NOT NULL DEFAULT 'active',
    "der" BYTEA NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "requested_by" TEXT,
    "renewed_from_id" UUID,
    "superseded_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "revocation_reason" "RevocationReason",
    "invalidity_date" TIMESTAMPTZ(3),

    CONSTRAINT "certificates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiTokenRole" NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bootstrap_tokens" (
    "id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "sans" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "certificate_id" UUID,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "bootstrap_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "crls" (
    "id" UUID NOT NULL,
    "issuer_id" UUID NOT NULL,
    "crl_number" BIGINT NOT NULL,
    "this_update" TIMESTAMPTZ(3) NOT NULL,
    "next_update" TIMESTAMPTZ(3) NOT NULL,
    "entry_count" INTEGER NOT NULL,
    "der" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "crls_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "seq" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "actor" TEXT NOT NULL,
    "actor_role" TEXT,
    "source_address" TEXT,
    "request_id" TEXT,
    "action" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT,
    "details" JSONB NOT NULL,
    "prev_hash" TEXT,
    "hash" TEXT NOT NULL,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "alerts" (
    "id" UUID NOT NULL,
    "certificate_id" UUID NOT NULL,
    "threshold" TEXT NOT NULL,
    "state" "AlertState" NOT NULL DEFAULT 'open',
    "flagged_at" TIMESTAMPTZ(3) NOT NULL,
    "acknowledged_at" TIMESTAMPTZ(3),
    "acknowledged_by" TEXT,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    "alert_id" UUID,
    "event_type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "NotificationStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_runs" (
    "id" UUID NOT NULL,
    "job" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    "outcome" TEXT NOT NULL,
    "items" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,

    CONSTRAINT "job_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "issuers_name_key" ON "issuers"("name");

-- CreateIndex
CREATE UNIQUE INDEX "issuers_fingerprint_sha256_key" ON "issuers"("fingerprint_sha256");

-- CreateIndex
CREATE UNIQUE INDEX "services_name_key" ON "services"("name");

-- CreateIndex
CREATE INDEX "service_dependencies_relies_on_id_idx" ON "service_dependencies"("relies_on_id");

-- CreateIndex
CREATE UNIQUE INDEX "certificates_fingerprint_sha256_key" ON "certificates"("fingerprint_sha256");

-- CreateIndex
CREATE UNIQUE INDEX "certificates_renewed_from_id_key" ON "certificates"("renewed_from_id");

-- CreateIndex
CREATE INDEX "certificates_service_id_idx" ON "certificates"("service_id");

-- CreateIndex
CREATE INDEX "certificates_status_not_after_idx" ON "certificates"("status", "not_after");

-- CreateIndex
CREATE INDEX "certificates_spki_sha256_idx" ON "certificates"("spki_sha256");

-- CreateIndex
CREATE INDEX "certificates_not_after_idx" ON "certificates"("not_after");

-- CreateIndex
CREATE INDEX "certificates_issuer_id_revoked_at_idx" ON "certificates"("issuer_id", "revoked_at");

-- CreateIndex
CREATE UNIQUE INDEX "certificates_issuer_id_serial_hex_key" ON "certificates"("issuer_id", "serial_hex");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "bootstrap_tokens_token_hash_key" ON "bootstrap_tokens"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "bootstrap_tokens_certificate_id_key" ON "bootstrap_tokens"("certificate_id");

-- CreateIndex
CREATE INDEX "bootstrap_tokens_service_id_idx" ON "bootstrap_tokens"("service_id");

-- CreateIndex
CREATE UNIQUE INDEX "crls_issuer_id_crl_number_key" ON "crls"("issuer_id", "crl_number");

-- CreateIndex
CREATE INDEX "audit_events_action_occurred_at_idx" ON "audit_events"("action", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_events_target_type_target_id_idx" ON "audit_events"("target_type", "target_id");

-- CreateIndex
CREATE INDEX "alerts_state_threshold_idx" ON "alerts"("state", "threshold");

-- CreateIndex
CREATE UNIQUE INDEX "alerts_certificate_id_threshold_key" ON "alerts"("certificate_id", "threshold");

-- CreateIndex
CREATE INDEX "notifications_status_next_attempt_at_idx" ON "notifications"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "notifications_recipient_id_idx" ON "notifications"("recipient_id");

-- CreateIndex
CREATE INDEX "job_runs_job_started_at_idx" ON "job_runs"("job", "started_at");

-- AddForeignKey
ALTER TABLE "issuers" ADD CONSTRAINT "issuers_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "issuers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_dependencies" ADD CONSTRAINT "service_dependencies_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_dependencies" ADD CONSTRAINT "service_dependencies_relies_on_id_fkey" FOREIGN KEY ("relies_on_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_issuer_id_fkey" FOREIGN KEY ("issuer_id") REFERENCES "issuers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_renewed_from_id_fkey" FOREIGN KEY ("renewed_from_id") REFERENCES "certificates"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "bootstrap_tokens" ADD CONSTRAINT "bootstrap_tokens_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "bootstrap_tokens" ADD CONSTRAINT "bootstrap_tokens_certificate_id_fkey" FOREIGN KEY ("certificate_id") REFERENCES "certificates"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "crls" ADD CONSTRAINT "crls_issuer_id_fkey" FOREIGN KEY ("issuer_id") REFERENCES "issuers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_certificate_id_fkey" FOREIGN KEY ("certificate_id") REFERENCES "certificates"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "services"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_alert_id_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE SET NULL ON UPDATE CASCADE;
