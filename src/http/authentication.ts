import type { NextFunction, Request, Response } from 'express';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from '../app/request-context.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { DomainError } from '../domain/errors.ts';

/**
 * Establishes who is calling, once per request, from `Authorization: Bearer …` or the TLS
 * client certificate, and leaves it in `res.locals.context` for the use cases to authorize.
 */
export function authentication(authenticator: Authenticator) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization');
    let bearerToken: string | undefined;
    if (header !== undefined) {
      bearerToken = bearerTokenIn(header);
      if (bearerToken === undefined) throw new DomainError('unauthorized', 'the Authorization header must be "Bearer <token>"');
    }
    const socket = req.socket as Partial<TLSSocket>;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
    const clientCertificateDer = peer && peer.raw ? new Uint8Array(peer.raw) : undefined;
    const result = await authenticator.authenticate({
      bearerToken,
      clientCertificateDer,
      clientCertificateVerified: socket.authorized === true,
    });
    const context: RequestContext = {
      principal: result.principal,
      authenticationRefusal: result.refusal,
      ...(result.replacedCertificateSerial !== undefined ? { replacedCertificateSerial: result.replacedCertificateSerial } : {}),
      requestId: String(res.locals.requestId ?? ''),
      sourceAddress: req.socket.remoteAddress,
    };
    res.locals.context = context;
    next();
  };
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other form. */
export function bearerTokenIn(header: string): string | undefined {
  return /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1];
}

/** The request's context as set by `authentication` (anonymous if it did not run). */
export function requestContextOf(res: Response): RequestContext {
  return (res.locals.context as RequestContext | undefined) ?? { principal: undefined };
}
