namespace CostAware;

/// <summary>One row of a cost ledger: a receipt entry with the receipt it came from and who pays.</summary>
/// <param name="ReceiptId">The receipt's id.</param>
/// <param name="Scope">Who pays.</param>
/// <param name="Entry">The entry.</param>
public sealed record class CostLedgerRecord(Guid ReceiptId, CostScope Scope, CostReceiptEntry Entry);
