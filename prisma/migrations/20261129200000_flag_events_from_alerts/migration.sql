-- An expiry flag's notification stores no event: it is built from its alert when read.
ALTER TABLE "notifications" ALTER COLUMN "payload" DROP NOT NULL;

-- So that alert must stay: deleting an alert that notifications name is refused (it set their
-- alert_id to NULL before).
ALTER TABLE "notifications" DROP CONSTRAINT "notifications_alert_id_fkey";
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_alert_id_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
