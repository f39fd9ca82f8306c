using System.Globalization;

namespace CostAware.Internal;

// Turns a configuration-shaped entry into a validated ModelPrice. Every failure names the entry and the field,
// because a price typo found at start-up is cheap and one found on the invoice is not.
internal static class ModelPriceBuilder
{
    public static ModelPrice Build(string id, ModelPriceOptions entry, string? source, ModelPrice? overridden, string? fallbackProvider = null)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new PriceCatalogException(source, id ?? string.Empty, null, "the model id is empty.");
        }

        string? provider = entry.Provider ?? overridden?.Provider ?? fallbackProvider;
        if (string.IsNullOrWhiteSpace(provider))
        {
            throw new PriceCatalogException(source, id, nameof(ModelPriceOptions.Provider), "is required for a model that is not in the catalog yet.");
        }

        decimal input = Required(entry.Input, source, id, nameof(ModelPriceOptions.Input));
        decimal output = Required(entry.Output, source, id, nameof(ModelPriceOptions.Output));
        TokenPrices standard = new(input, output)
        {
            CachedInput = Optional(entry.CachedInput, source, id, nameof(ModelPriceOptions.CachedInput)),
            CacheWrite = Optional(entry.CacheWrite, source, id, nameof(ModelPriceOptions.CacheWrite)),
            CacheWrite1h = Optional(entry.CacheWrite1h, source, id, nameof(ModelPriceOptions.CacheWrite1h)),
            Reasoning = Optional(entry.Reasoning, source, id, nameof(ModelPriceOptions.Reasoning)),
        };

        decimal? batchInput = Optional(entry.BatchInput, source, id, nameof(ModelPriceOptions.BatchInput));
        decimal? batchOutput = Optional(entry.BatchOutput, source, id, nameof(ModelPriceOptions.BatchOutput));
        if (batchInput.HasValue != batchOutput.HasValue)
        {
            string missing = batchInput.HasValue ? nameof(ModelPriceOptions.BatchOutput) : nameof(ModelPriceOptions.BatchInput);
            throw new PriceCatalogException(source, id, missing, "is required when the other batch price is set.");
        }

        decimal inputFactor = 1m, outputFactor = 1m;
        TokenPrices? batch = null;
        if (batchInput is decimal bi && batchOutput is decimal bo)
        {
            inputFactor = input == 0m ? 1m : bi / input;
            outputFactor = output == 0m ? 1m : bo / output;
            batch = Batch(standard, inputFactor, outputFactor, bi, bo);
        }

        List<LongContextTier> tiers = [];
        for (int i = 0; i < entry.LongContext.Count; i++)
        {
            LongContextTierOptions t = entry.LongContext[i];
            string prefix = string.Create(CultureInfo.InvariantCulture, $"LongContext:{i}:");
            if (t.AboveInputTokens is not > 0)
            {
                throw new PriceCatalogException(source, id, prefix + nameof(LongContextTierOptions.AboveInputTokens), "is required and must be positive.");
            }

            TokenPrices prices = new(
                Required(t.Input, source, id, prefix + nameof(LongContextTierOptions.Input)),
                Required(t.Output, source, id, prefix + nameof(LongContextTierOptions.Output)))
            {
                CachedInput = Optional(t.CachedInput, source, id, prefix + nameof(LongContextTierOptions.CachedInput)),
                CacheWrite = Optional(t.CacheWrite, source, id, prefix + nameof(LongContextTierOptions.CacheWrite)),
                CacheWrite1h = Optional(t.CacheWrite1h, source, id, prefix + nameof(LongContextTierOptions.CacheWrite1h)),
                Reasoning = Optional(t.Reasoning, source, id, prefix + nameof(LongContextTierOptions.Reasoning)),
            };
            TokenPrices? tierBatch = batch is null ? null : prices.Scale(inputFactor, outputFactor);
            tiers.Add(new LongContextTier(t.AboveInputTokens.Value, prices, tierBatch));
        }

        List<string> aliases = [];
        IEnumerable<string> names = entry.Aliases.Count > 0 ? entry.Aliases : overridden?.Aliases ?? [];
        foreach (string alias in names)
        {
            if (string.IsNullOrWhiteSpace(alias))
            {
                throw new PriceCatalogException(source, id, nameof(ModelPriceOptions.Aliases), "contains an empty alias.");
            }

            aliases.Add(alias.Trim());
        }

        int? maxOutput = entry.MaxOutputTokens ?? overridden?.MaxOutputTokens;
        if (maxOutput is <= 0)
        {
            throw new PriceCatalogException(source, id, nameof(ModelPriceOptions.MaxOutputTokens), $"is {maxOutput}; a model's output limit must be positive.");
        }

        return new ModelPrice(id.Trim(), provider.Trim(), standard)
        {
            MaxOutputTokens = maxOutput,
            Batch = batch,
            LongContext = tiers,
            Aliases = aliases,
            EffectiveDate = entry.EffectiveDate,
            Source = entry.Source ?? source,
        };
    }

    // The batch prices of the plain classes are given; the others follow the same discount.
    private static TokenPrices Batch(TokenPrices standard, decimal inputFactor, decimal outputFactor, decimal batchInput, decimal batchOutput)
    {
        TokenPrices scaled = standard.Scale(inputFactor, outputFactor);
        return new TokenPrices(batchInput, batchOutput)
        {
            CachedInput = scaled.CachedInput,
            CacheWrite = scaled.CacheWrite,
            CacheWrite1h = scaled.CacheWrite1h,
            Reasoning = scaled.Reasoning,
        };
    }

    private static decimal Required(decimal? value, string? source, string id, string field) =>
        value switch
        {
            null => throw new PriceCatalogException(source, id, field, "is required (USD per million tokens)."),
            < 0m => throw new PriceCatalogException(source, id, field, string.Create(CultureInfo.InvariantCulture, $"must not be negative, but is {value}.")),
            > TokenPrices.MaxPrice => throw TooHigh(value.Value, source, id, field),
            _ => value.Value,
        };

    private static decimal? Optional(decimal? value, string? source, string id, string field) =>
        value switch
        {
            < 0m => throw new PriceCatalogException(source, id, field, string.Create(CultureInfo.InvariantCulture, $"must not be negative, but is {value}.")),
            > TokenPrices.MaxPrice => throw TooHigh(value.Value, source, id, field),
            _ => value,
        };

    private static PriceCatalogException TooHigh(decimal value, string? source, string id, string field) =>
        new(source, id, field, string.Create(
            CultureInfo.InvariantCulture,
            $"is {value}, above the highest accepted price of {TokenPrices.MaxPrice:N0} USD per million tokens (a dollar a token): is it a price per token, or a misplaced decimal point?"));
}
