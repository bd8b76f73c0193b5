import { Router } from 'express';
import type { RevocationRequest, RevocationService } from '../../app/revocation.service.ts';
import { requestContextOf } from '../authentication.ts';
import { certificateDto } from '../presenters.ts';

/** Revocation of a certificate, of a whole service identity, or of a public key. */
export function revocationRoutes(revocation: RevocationService): Router {
  const router = Router();
  router.post('/v1/certificates/:serial/revoke', async (req, res) => {
    const revoked = await revocation.revokeCertificate(requestContextOf(res), req.params.serial, req.body as RevocationRequest);
    res.json(certificateDto({ ...revoked, derivedStatus: 'revoked' }));
  });
  router.post('/v1/services/:name/revoke', async (req, res) => {
    const outcome = await revocation.revokeService(requestContextOf(res), req.params.name, req.body as RevocationRequest);
    res.json({
      service: req.params.name,
      disabled: true,
      revoked: outcome.revoked.map((c) => c.serialHex),
      alreadyRevoked: outcome.unchanged.map((c) => c.serialHex),
      bootstrapTokensRevoked: outcome.bootstrapTokensRevoked,
    });
  });
  router.post('/v1/keys/:spkiSha256/revoke', async (req, res) => {
    const outcome = await revocation.revokeKey(requestContextOf(res), req.params.spkiSha256, (req.body ?? {}) as Partial<RevocationRequest>);
    res.json({
      spkiSha256: req.params.spkiSha256.toLowerCase(),
      blocked: true,
      revoked: outcome.revoked.map((c) => c.serialHex),
      alreadyRevoked: outcome.unchanged.map((c) => c.serialHex),
    });
  });
  return router;
}
