namespace CostAware.Shared;

// The snake_case names used in metrics and exports, shared so both spell kinds the same way.
internal static class CostEntryKindNames
{
    public static string Of(CostEntryKind kind) => kind switch
    {
        CostEntryKind.ProviderCall => "provider_call",
        CostEntryKind.CacheHit => "cache_hit",
        CostEntryKind.Embedding => "embedding",
        _ => "other",
    };
}
