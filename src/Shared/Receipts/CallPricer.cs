using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.AI;
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

    // The cost the provider or the app reported for a call under CostAwareProperties.ReportedCost, read from its value
    // (null when there is none); a value that is not a finite, non-negative number is logged and read as none.
    public decimal? ReadReportedCost(object? reported, string? modelId)
    {
        if (reported is null)
        {
            return null;
        }

        if (TryReadCost(reported, out decimal total))
        {
            return total;
        }

        SharedLog.ReportedCostIgnored(logger, modelId, Convert.ToString(reported, CultureInfo.InvariantCulture));
        return null;
    }

    // The entry with a reported cost in place of the catalog's, split across the token classes in the catalog cost's
    // proportions (all under Input when the catalog has no price for the model).
    public static CostReceiptEntry WithReportedCost(CostReceiptEntry entry, decimal? reported) =>
        reported is { } total && entry.Kind == CostEntryKind.ProviderCall
            ? entry with { Cost = Split(total, entry.Cost), CostSource = CostSource.Reported }
            : entry;

    // The reported cost on a response's or an update's properties, or null.
    public static object? ReportedCost(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(CostAwareProperties.ReportedCost, out object? value) ? value : null;

    private static bool TryReadCost(object value, out decimal cost)
    {
        cost = 0m;
        switch (value)
        {
            case decimal d:
                cost = d;
                break;
            case double x when double.IsFinite(x) && Math.Abs(x) < 7.9e27:
                cost = (decimal)x;
                break;
            case float f when float.IsFinite(f) && Math.Abs(f) < 7.9e27f:
                cost = (decimal)f;
                break;
            case long l:
                cost = l;
                break;
            case int n:
                cost = n;
                break;
            case string s when decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal parsed):
                cost = parsed;
                break;
            case System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Number } json when json.TryGetDecimal(out decimal number):
                cost = number;
                break;
            default:
                return false;
        }

        return cost >= 0m;
    }

    private static CostBreakdown Split(decimal total, CostBreakdown? catalog)
    {
        if (catalog is not { } c || c.Total <= 0m)
        {
            return new CostBreakdown { Input = total };
        }

        decimal factor = total / c.Total;
        decimal[] parts = [c.Input * factor, c.CachedInput * factor, c.CacheWrite * factor, c.Output * factor, c.Reasoning * factor];

        // The largest part takes what rounding left, so that the parts add up to the reported total exactly.
        int largest = 0;
        decimal others = 0m;
        for (int i = 1; i < parts.Length; i++)
        {
            largest = parts[i] > parts[largest] ? i : largest;
        }

        for (int i = 0; i < parts.Length; i++)
        {
            others += i == largest ? 0m : parts[i];
        }

        parts[largest] = total - others;
        return new CostBreakdown { Input = parts[0], CachedInput = parts[1], CacheWrite = parts[2], Output = parts[3], Reasoning = parts[4] };
    }
}
