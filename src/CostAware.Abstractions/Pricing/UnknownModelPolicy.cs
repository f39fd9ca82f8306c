namespace CostAware;

/// <summary>What happens when a call's model is not in the price catalog. A model is never silently priced at zero.</summary>
public enum UnknownModelPolicy
{
    /// <summary>Tokens are counted, the cost is recorded as unknown (<see langword="null"/>), and a warning is logged once per model.</summary>
    RecordAsUnpriced = 0,

    /// <summary>An <see cref="UnknownModelPriceException"/> is thrown (after the call: its answer is lost, its usage is still logged).</summary>
    Throw = 1,

    /// <summary>The catalog's <see cref="IPriceCatalog.DefaultPrice">default price</see> is used, and the receipt says so.</summary>
    UseDefaultPrice = 2,
}
