namespace CostAware;

/// <summary>Where the cost of a receipt entry comes from.</summary>
public enum CostSource
{
    /// <summary>The entry's token counts priced at the price catalog's prices for its model.</summary>
    Catalog = 0,

    /// <summary>
    /// The cost the provider, a gateway or the app reported for the call (see <see cref="CostAwareProperties.ReportedCost"/>);
    /// it wins over the catalog, and the breakdown splits it across token classes as the catalog's prices would.
    /// </summary>
    Reported = 1,
}
