using Microsoft.Extensions.Logging;

namespace CostAware.Shared;

// How a stage that opened a receipt records it: once, never cancelled by the caller (the money was spent or saved
// either way), and a failing ledger is logged rather than failing the call that already has its answer. The ambient
// CostTally, when the flow began one (a request's cost headers), counts it too.
internal static class LedgerRecording
{
    public static async ValueTask RecordAsync(ICostLedger ledger, CostReceipt receipt, ILogger logger)
    {
        CostTally.Current?.Add(receipt);
        try
        {
            await ledger.RecordAsync(receipt, CancellationToken.None);
        }
        catch (Exception ex)
        {
            SharedLog.LedgerFailed(logger, receipt.Id, receipt.Spent, ex);
        }
    }
}
