using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace CostAware.Shared;

// Prices one call against the catalog and applies the unknown-model policy. Shared by every stage that records
// money, so a model is priced the same way everywhere.
internal sealed class CallPricer(IPriceCatalog catalog, ILogger logger)
{
    private readonly ConcurrentDictionary<string, bool> _warned = new(StringComparer.OrdinalIgnoreCase);

    public IPriceCatalog Catalog => catalog;

    public bool IsPriced(string? modelId) =>
        modelId is not null && catalog.TryGetPrice(modelId, out _);

    public static UnknownModelPriceException UnknownModel(string? modelId) =>
        new(modelId, modelId is null
            ? "The call names no model, so it cannot be priced, and UnknownModelPolicy is Throw. Set ChatOptions.ModelId or the client's default model."
            : $"Model '{modelId}' is not in the price catalog and UnknownModelPolicy is Throw. Add it under CostAware:Prices, load a price file, or choose another UnknownModelPolicy.");

    public CostReceiptEntry Price(
        CostEntryKind kind, string? modelId, string? provider, in TokenCounts tokens, bool estimated, bool batch, DateTimeOffset now, string stage, bool mayThrow)
    {
        ModelPrice? price = null;
        if (modelId is not null)
        {
            _ = catalog.TryGetPrice(modelId, out price);
        }

        if (price is null)
        {
            switch (catalog.UnknownModelPolicy)
            {
                case UnknownModelPolicy.UseDefaultPrice:
                    price = catalog.DefaultPrice;
                    break;
                case UnknownModelPolicy.Throw when mayThrow:
                    SharedLog.UnknownModelThrown(logger, modelId, tokens.Input, tokens.Output);
                    throw UnknownModel(modelId);
                default:
                    if (_warned.TryAdd(modelId ?? "(none)", true))
                    {
                        SharedLog.UnpricedModel(logger, modelId ?? "(none)");
                    }

                    break;
            }
        }

        // A cache hit spends nothing: what the tokens would cost is what it avoided.
        CostBreakdown? cost = price?.CalculateCost(tokens, batch);
        bool hit = kind == CostEntryKind.CacheHit;
        return new CostReceiptEntry
        {
            Kind = kind,
            ModelId = modelId,
            Provider = provider ?? price?.Provider,
            Tokens = tokens,
            Price = price,
            Cost = hit ? default(CostBreakdown) : cost,
            CostAvoided = hit ? cost?.Total : null,
            IsEstimated = estimated,
            IsBatch = batch,
            Timestamp = now,
            Stage = stage,
        };
    }
}
