import { Router, type NextFunction, type Request, type Response } from 'express';
import type { IssuanceAhead } from '../../app/issuance-ahead.ts';
import type { InventoryFilters, InventoryService } from '../../app/inventory.service.ts';
import type { IssuanceService, IssueRequest, IssuedCertificate } from '../../app/issuance.service.ts';
import { parseRequestedTtl } from '../../domain/validity.ts';
import { bearerTokenIn, requestContextOf } from '../authentication.ts';
import { queryParam } from '../query-param.ts';
import { certificateDto, issuedCertificateDto } from '../presenters.ts';
import { onFirstResponseEvent } from '../response-events.ts';

const PEM_CHAIN = 'application/pem-certificate-chain';
const ISSUANCE_PATH = '/v1/certificates';

const startedAhead = new WeakMap<Response, IssuanceAhead>();

/**
 * Placed just before `authentication` (apps.ts): for an issuance request with a CSR and a bearer
 * token, starts what `IssuanceService.startAhead` starts — the issuance's transaction at once,
 * and the CSR's check on the next turn of the event loop. By then `authentication` has sent its
 * token lookup, so both run while PostgreSQL answers it, instead of after.
 *
 * Only when no other issuance is in progress, because only then would the event loop sit idle
 * through that round trip. With others in progress it has their work to do, and checking ahead
 * merely reorders the work: at concurrency 32 that cost ~10 % more server CPU per certificate in
 * paired runs (BENCHMARKS.md, change 27).
 *
 * This runs before the caller is known, so it is kept to what a caller could make the server do
 * anyway: only with a bearer token (the only way to ask for a new certificate), only when
 * `mayStartCostlyWork` says the source's rate limit would let the request through (a source
 * stopped for its failed authentications never gets here), and not once the request has been
 * answered. Its outcome is seen only where issuance would have checked the CSR and consumed the
 * token itself, so every answer, every refusal and the order of refusals stay as they were; a
 * request answered before issuance takes the transaction (a 401, a 400) rolls it back as its
 * answer goes out.
 */
export function issuanceAhead(startAhead: (csr: string, bearerToken: string) => IssuanceAhead, mayStartCostlyWork: (req: Request) => boolean) {
  let issuancesInProgress = 0;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' || req.path !== ISSUANCE_PATH) {
      next();
      return;
    }
    issuancesInProgress += 1;
    // Counted down as the answer is handed to the socket: Node emits `prefinish` inside
    // `res.end()`, before the client can send its next request, where `finish` and `close` come a
    // turn later and a lone caller's next request could find this one still counted. `close`
    // (documented) also covers a request whose connection went away before any answer.
    onFirstResponseEvent(res, ['prefinish', 'close'], () => {
      issuancesInProgress -= 1;
      startedAhead.get(res)?.release();
    });
    const csr = (req.body as { csr?: unknown } | undefined)?.csr;
    const header = req.get('authorization');
    const bearerToken = header !== undefined ? bearerTokenIn(header) : undefined;
    if (issuancesInProgress === 1 && typeof csr === 'string' && bearerToken !== undefined && mayStartCostlyWork(req)) {
      const ahead = startAhead(csr, bearerToken);
      startedAhead.set(res, ahead);
      setImmediate(() => {
        if (!res.writableEnded) void ahead.csrCheck.start();
      });
    }
    next();
  };
}

/** What `issuanceAhead` started for this request's answer, if it did. */
export function startedAheadFor(res: Response): IssuanceAhead | undefined {
  return startedAhead.get(res);
}

/** An issued certificate's answer, rendered but not sent. */
interface IssuedAnswer {
  issued: IssuedCertificate;
  contentType: string;
  body: Buffer;
}

/**
 * JSON by default; the PEM chain (leaf first) when the caller prefers it. The headers are those
 * `res.json` and `res.type(…).send(text)` set.
 */
function renderIssued(req: Request, issued: IssuedCertificate): IssuedAnswer {
  if (req.accepts(['application/json', PEM_CHAIN]) === PEM_CHAIN) {
    return { issued, contentType: `${PEM_CHAIN}; charset=utf-8`, body: Buffer.from(issued.certificatePem + issued.chainPem) };
  }
  return { issued, contentType: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify(issuedCertificateDto(issued))) };
}

/** Sends `answer`; a serial is hexadecimal, so the Location needs no encoding. */
function sendIssued(res: Response, answer: IssuedAnswer, status: number): void {
  res.status(status).set({ Location: `/v1/certificates/${answer.issued.serialHex}`, 'Content-Type': answer.contentType }).send(answer.body);
}

/** Issuance, renewal and the inventory. */
export function certificateRoutes(issuance: IssuanceService, inventory: InventoryService): Router {
  const router = Router();
  router.post(ISSUANCE_PATH, async (req, res) => {
    let prepared: IssuedAnswer | undefined;
    const issued = await issuance.issue(requestContextOf(res), req.body as IssueRequest, {
      ahead: startedAheadFor(res),
      // Rendered while the record commits, and sent only if it is the certificate that committed.
      prepareAnswer: (candidate) => {
        prepared = renderIssued(req, candidate);
      },
    });
    sendIssued(res, prepared?.issued === issued ? prepared : renderIssued(req, issued), 201);
  });
  router.post('/v1/certificates/renew', async (req, res) => {
    const renewed = await issuance.renew(requestContextOf(res), (req.body ?? {}) as { csr?: string });
    sendIssued(res, renderIssued(req, renewed), renewed.resent ? 200 : 201);
  });
  router.get('/v1/certificates', async (req, res) => {
    const within = queryParam(req, 'expiringWithin');
    const before = queryParam(req, 'expiringBefore');
    const limit = queryParam(req, 'limit');
    const filters: InventoryFilters = {
      service: queryParam(req, 'service'),
      status: queryParam(req, 'status') as InventoryFilters['status'],
      profile: queryParam(req, 'profile'),
      issuer: queryParam(req, 'issuer'),
      expiringBefore: before ? new Date(before) : undefined,
      expiringWithinSeconds: within ? parseRequestedTtl(within, 'expiringWithin') : undefined,
      nameContains: queryParam(req, 'nameContains'),
      spkiSha256: queryParam(req, 'spkiSha256'),
      sort: queryParam(req, 'sort') as InventoryFilters['sort'],
      order: queryParam(req, 'order') as InventoryFilters['order'],
      limit: limit ? Number(limit) : undefined,
      cursor: queryParam(req, 'cursor'),
    };
    const page = await inventory.list(requestContextOf(res), filters);
    res.json({ certificates: page.items.map(certificateDto), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  });
  router.get('/v1/certificates/:serial.pem', async (req, res) => {
    const record = await inventory.get(requestContextOf(res), req.params.serial);
    res.type('application/x-pem-file').send(`-----BEGIN CERTIFICATE-----\n${Buffer.from(record.der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`);
  });
  router.get('/v1/certificates/:serial.der', async (req, res) => {
    const record = await inventory.get(requestContextOf(res), req.params.serial);
    res.type('application/pkix-cert').send(Buffer.from(record.der));
  });
  router.get('/v1/certificates/:serial', async (req, res) => {
    res.json(certificateDto(await inventory.get(requestContextOf(res), req.params.serial)));
  });
  return router;
}
