using System.Runtime.CompilerServices;

namespace CostAware.Internal;

internal static class PriceCatalogFactory
{
    // The start-up validator and the IPriceCatalog registration see the same options instance; the catalog (and
    // every price file behind it) is read once for both.
    private static readonly ConditionalWeakTable<CostAwareOptions, PriceCatalog> Built = [];

    public static PriceCatalog GetOrCreate(CostAwareOptions options) =>
        Built.GetValue(options, static o => Create(o));

    private static PriceCatalog Create(CostAwareOptions options)
    {
        // Layers are concatenated and the catalog is built once: later entries win inside the constructor.
        List<ModelPrice> models = options.IncludeBuiltInPrices ? [.. PriceCatalog.BuiltIn.Models] : [];
        foreach (string path in options.LiteLlmPriceFiles)
        {
            models.AddRange(PriceCatalogLoader.LoadLiteLlm(path));
        }

        foreach (string path in options.PriceFiles)
        {
            models.AddRange(PriceCatalogLoader.LoadJson(path));
        }

        if (options.Prices.Count > 0)
        {
            // Overrides inherit provider and aliases from the layers below, so those are looked up first.
            models.AddRange(PriceCatalogLoader.LoadOptions(options.Prices, "configuration 'CostAware:Prices'", new PriceCatalog(models)));
        }

        if (options.ModelAliases.Count > 0)
        {
            models.AddRange(Aliased(options.ModelAliases, new PriceCatalog(models)));
        }

        ModelPrice? defaultPrice = options.DefaultPrice is { } price
            ? ModelPriceBuilder.Build("default", price, "configuration 'CostAware:DefaultPrice'", overridden: null, fallbackProvider: "unknown")
            : null;
        return new PriceCatalog(models, options.UnknownModelPolicy, defaultPrice);
    }

    // Each aliased model again, with its new names: later entries win in the catalog, under every name.
    private static IEnumerable<ModelPrice> Aliased(IDictionary<string, string> aliases, PriceCatalog catalog)
    {
        const string Source = "configuration 'CostAware:ModelAliases'";
        Dictionary<ModelPrice, List<string>> added = new(ReferenceEqualityComparer.Instance);
        foreach (KeyValuePair<string, string> alias in aliases)
        {
            if (string.IsNullOrWhiteSpace(alias.Key))
            {
                throw new PriceCatalogException(Source, alias.Key ?? string.Empty, null, "an alias is empty.");
            }

            if (string.IsNullOrWhiteSpace(alias.Value) || !catalog.TryGetPrice(alias.Value.Trim(), out ModelPrice? model))
            {
                throw new PriceCatalogException(Source, alias.Key, null, $"names the model '{alias.Value}', which is not in the price catalog.");
            }

            if (!added.TryGetValue(model, out List<string>? names))
            {
                added[model] = names = [.. model.Aliases];
            }

            names.Add(alias.Key.Trim());
        }

        foreach (KeyValuePair<ModelPrice, List<string>> pair in added)
        {
            yield return pair.Key with { Aliases = pair.Value };
        }
    }
}
