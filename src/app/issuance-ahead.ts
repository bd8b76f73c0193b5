import type { IssuanceAheadClaim, OpenedIssuance } from '../domain/ports.ts';
import type { CsrCheckAhead } from './csr-check-ahead.ts';

/** An issuance's transaction opened ahead, with what it was opened for. */
export interface TransactionAhead {
  claim: IssuanceAheadClaim;
  transaction: OpenedIssuance;
}

/**
 * What the HTTP layer starts for a lone issuance request before its caller is authenticated
 * (`IssuanceService.startAhead`): the CSR's check, and the issuance's transaction when the store
 * could open one. `IssuanceService.issue` takes the transaction and commits or abandons it; a
 * request answered before it gets there (a 401, a 400) must `release` it.
 */
export class IssuanceAhead {
  private ahead: TransactionAhead | undefined;

  constructor(
    readonly csrCheck: CsrCheckAhead,
    ahead: TransactionAhead | undefined,
  ) {
    this.ahead = ahead;
  }

  /** The transaction opened ahead, handed out once: who takes it ends it. */
  takeTransaction(): TransactionAhead | undefined {
    const ahead = this.ahead;
    this.ahead = undefined;
    return ahead;
  }

  /** Abandons the transaction if nobody took it, giving back what it claimed. */
  release(): void {
    void this.takeTransaction()?.transaction.abandon();
  }
}
