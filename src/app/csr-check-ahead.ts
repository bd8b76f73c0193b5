import { decodeCsr, parseCsr, type DecodedCsrRequest, type ParsedCsr } from '../domain/csr/parse-csr.ts';

/**
 * The check of an issuance request's CSR (its decoding, the key's import and the signature's
 * verification), started before `IssuanceService.issue` asks for it. The decoding is done at
 * once, because `IssuanceService.startAhead` claims the key it names; the rest waits for
 * `start`. The HTTP layer starts it
 * while the caller's token is being read from the database: one request at a time, the event
 * loop has nothing else to do during that round trip, and the check is the costliest CPU step
 * before the commit (its key import and signature verification are ~1.3 M of the ~4.8 M
 * instructions of a lone issuance; BENCHMARKS.md, change 27).
 *
 * Nothing changes but when the work runs. The check is the same function of the same text, and
 * its result or refusal is seen only where `issue` would have checked the CSR itself, after
 * authentication and authorization: a request refused before that point (a 401, say) never
 * sees what its CSR was worth, and its refusal is not an unhandled rejection.
 */
export class CsrCheckAhead {
  private readonly decoded: DecodedCsrRequest;
  private checked: Promise<ParsedCsr> | undefined;

  /** Decodes the CSR at once (the checks wait for `start`). */
  constructor(private readonly csr: string) {
    this.decoded = decodeCsr(csr);
  }

  /** SHA-256 of the key the CSR is for, as decoded and not yet checked; undefined if it does not decode. */
  get keySpkiSha256(): string | undefined {
    return this.decoded.spkiSha256;
  }

  /** Whether the check has begun (ahead, or when asked for). */
  get started(): boolean {
    return this.checked !== undefined;
  }

  /** Starts the check, once. */
  start(): Promise<ParsedCsr> {
    if (this.checked === undefined) {
      this.checked = this.decoded.check();
      // Observed here so that a refusal nobody asks for is not an unhandled rejection; whoever
      // asks through `resultFor` gets the same promise and sees the refusal.
      this.checked.catch(() => undefined);
    }
    return this.checked;
  }

  /** The check of `csr`: the one started ahead (or now) when it is of the same text, else a new one. */
  resultFor(csr: string): Promise<ParsedCsr> {
    return csr === this.csr ? this.start() : parseCsr(csr);
  }
}
