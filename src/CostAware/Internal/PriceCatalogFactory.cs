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

        ModelPrice? defaultPrice = options.DefaultPrice is { } price
            ? ModelPriceBuilder.Build("default", price, "configuration 'CostAware:DefaultPrice'", overridden: null, fallbackProvider: "unknown")
            : null;
        return new PriceCatalog(models, options.UnknownModelPolicy, defaultPrice);
    }
}
