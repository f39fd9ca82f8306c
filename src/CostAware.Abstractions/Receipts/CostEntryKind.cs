namespace CostAware;

/// <summary>What a <see cref="CostReceiptEntry"/> records.</summary>
public enum CostEntryKind
{
    /// <summary>A real call to a chat provider: money spent.</summary>
    ProviderCall = 0,

    /// <summary>An answer served from a cache: no money spent, the cost of the original call avoided.</summary>
    CacheHit = 1,

    /// <summary>A real call to an embedding provider: money spent.</summary>
    Embedding = 2,
}
