namespace CostAware.Internal;

internal static class PriceCatalogFactory
{
    public static PriceCatalog Create(CostAwareOptions options)
    {
        PriceCatalog catalog = options.IncludeBuiltInPrices ? PriceCatalog.BuiltIn : new PriceCatalog([]);
        foreach (string path in options.LiteLlmPriceFiles)
        {
            catalog = catalog.WithOverrides(PriceCatalogLoader.LoadLiteLlm(path));
        }

        foreach (string path in options.PriceFiles)
        {
            catalog = catalog.WithOverrides(PriceCatalogLoader.LoadJson(path));
        }

        if (options.Prices.Count > 0)
        {
            catalog = catalog.WithOverrides(PriceCatalogLoader.LoadOptions(options.Prices, "configuration 'CostAware:Prices'", catalog));
        }

        ModelPrice? defaultPrice = null;
        if (options.DefaultPrice is { } price)
        {
            price.Provider ??= "unknown";
            defaultPrice = ModelPriceBuilder.Build("default", price, "configuration 'CostAware:DefaultPrice'", overridden: null);
        }

        return catalog.WithUnknownModelPolicy(options.UnknownModelPolicy, defaultPrice);
    }
}
