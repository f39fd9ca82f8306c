namespace CostAware;

/// <summary>
/// The keys under which CostAware stores its data in <c>AdditionalProperties</c> of
/// <see cref="Microsoft.Extensions.AI.ChatOptions"/>, <see cref="Microsoft.Extensions.AI.ChatResponse"/> and
/// <see cref="Microsoft.Extensions.AI.ChatResponseUpdate"/>. Use the typed extension methods rather than these keys;
/// they are documented so that code that copies or serialises those dictionaries can recognise them.
/// </summary>
public static class CostAwareProperties
{
    /// <summary>The key of the <see cref="CostScope"/> set on <c>ChatOptions</c>.</summary>
    public const string Scope = "costaware.scope";

    /// <summary>
    /// The key of the <see cref="CostReceipt"/> on a response or a final streaming update. A value under this key on
    /// <c>ChatOptions</c> is ignored: stages pass receipts to each other only inside a <see cref="CostCallContext"/>.
    /// </summary>
    public const string Receipt = "costaware.receipt";

    /// <summary>
    /// The key of the <see cref="CostCallContext"/> that CostAware stages pass inward on <c>ChatOptions</c>. Only a context
    /// a stage opened is honoured; see <see cref="CostCallContext.Find"/>.
    /// </summary>
    public const string CallContext = "costaware.call";

    /// <summary>The key of the <see cref="CostAware.Deferral"/> set on <c>ChatOptions</c>: the call may wait for a batch API.</summary>
    public const string Deferral = "costaware.deferral";

    /// <summary>The key of the <see cref="CostAware.CacheControl"/> set on <c>ChatOptions</c>.</summary>
    public const string CacheControl = "costaware.cache";

    /// <summary>The key under which a budget refusal's <c>ErrorContent</c> (in a refused stream) carries the <c>BudgetStatus</c> of the budget that refused.</summary>
    public const string BudgetStatus = "costaware.budget.status";

    /// <summary>The key of the <c>CascadeReport</c> on a response (or the final streaming update) of the model cascade.</summary>
    public const string CascadeReport = "costaware.cascade";

    /// <summary>The key of the cosine similarity (a <see cref="float"/>) on a response the semantic cache served.</summary>
    public const string SemanticSimilarity = "costaware.semantic.similarity";

    /// <summary>
    /// The response property saying which cache answered, on a hit of the semantic cache stage: <c>"near-exact"</c> (the
    /// same text after case, white space and punctuation) or <c>"semantic"</c> (by meaning). A <see cref="string"/>.
    /// </summary>
    public const string CacheHit = "costaware.cache.hit";

    /// <summary>
    /// The response property holding the similarity threshold the semantic cache applied to the call (the static one, or
    /// the learned one in error-bounded mode; +∞ while it is still learning). A <see cref="float"/>.
    /// </summary>
    public const string SemanticThreshold = "costaware.semantic.threshold";

    /// <summary>
    /// The response property (on a <see cref="Microsoft.Extensions.AI.ChatResponse"/>, or on any update of a stream) that
    /// carries what the provider billed for that one call, in the catalog's currency: a <see cref="decimal"/>,
    /// <see cref="double"/> or invariant-culture <see cref="string"/>, zero or more. Set it in the client that talks to a
    /// gateway which returns the cost with the usage, or in a replay of recorded calls; the metering stage then records
    /// that cost instead of the catalog's (<see cref="CostSource.Reported"/>). A value that is not a finite,
    /// non-negative number is ignored and logged.
    /// </summary>
    public const string ReportedCost = "costaware.reported_cost";

    /// <summary>The key of the ticket id (a <see cref="string"/>) on the response of a call deferred with a ticket.</summary>
    public const string BatchTicket = "costaware.batch.ticket";

    /// <summary>The prefix shared by every CostAware key; the metering stage removes such keys before the provider sees the options.</summary>
    public const string Prefix = "costaware.";
}
