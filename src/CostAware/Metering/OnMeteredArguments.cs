using System.Runtime.InteropServices;

namespace CostAware;

/// <summary>The arguments of <see cref="TokenMeteringOptions.OnMetered"/>.</summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct OnMeteredArguments
{
    /// <summary>Initializes a new instance of the <see cref="OnMeteredArguments"/> struct.</summary>
    /// <param name="entry">The entry the call added.</param>
    /// <param name="receipt">The receipt the entry was added to.</param>
    /// <param name="isStreaming">Whether the call was streamed.</param>
    /// <param name="cancellationToken">The call's cancellation token.</param>
    public OnMeteredArguments(CostReceiptEntry entry, CostReceipt receipt, bool isStreaming, CancellationToken cancellationToken)
    {
        Entry = entry;
        Receipt = receipt;
        IsStreaming = isStreaming;
        CancellationToken = cancellationToken;
    }

    /// <summary>Gets the entry the call added.</summary>
    public CostReceiptEntry Entry { get; }

    /// <summary>Gets the receipt the entry was added to.</summary>
    public CostReceipt Receipt { get; }

    /// <summary>Gets a value indicating whether the call was streamed.</summary>
    public bool IsStreaming { get; }

    /// <summary>Gets the call's cancellation token.</summary>
    public CancellationToken CancellationToken { get; }
}
