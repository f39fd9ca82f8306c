using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>
/// Options shared by every CostAware stage: where prices come from and what happens to models without one.
/// Bound from the <c>CostAware</c> configuration section by <c>AddCostAware</c> and validated at start-up.
/// </summary>
/// <remarks>
/// Prices are layered, later layers winning per model: the built-in catalog, then <see cref="LiteLlmPriceFiles"/>,
/// then <see cref="PriceFiles"/>, then <see cref="Prices"/>; then <see cref="ModelAliases"/> add names to the result. This type is a mutable bag for binding; it is not thread-safe.
/// </remarks>
public sealed class CostAwareOptions
{
    /// <summary>Gets or sets what happens when a call's model is not in the catalog.</summary>
    /// <value>The default value is <see cref="CostAware.UnknownModelPolicy.RecordAsUnpriced"/>.</value>
    [EnumDataType(typeof(UnknownModelPolicy))]
    public UnknownModelPolicy UnknownModelPolicy { get; set; } = UnknownModelPolicy.RecordAsUnpriced;

    /// <summary>Gets or sets the price used for unknown models under <see cref="UnknownModelPolicy.UseDefaultPrice"/>.</summary>
    /// <value>The default value is <see langword="null"/>; required with that policy.</value>
    public ModelPriceOptions? DefaultPrice { get; set; }

    /// <summary>Gets or sets a value indicating whether the catalog that ships in the package is the base layer.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool IncludeBuiltInPrices { get; set; } = true;

    /// <summary>Gets or sets paths of LiteLLM-format price tables to load (<c>model_prices_and_context_window.json</c>).</summary>
    /// <value>The default value is empty.</value>
    public IList<string> LiteLlmPriceFiles { get; set; } = [];

    /// <summary>Gets or sets paths of JSON price files in CostAware's format (see <see cref="PriceCatalogLoader"/>).</summary>
    /// <value>The default value is empty.</value>
    public IList<string> PriceFiles { get; set; } = [];

    /// <summary>Gets or sets model prices to add or override, by model id.</summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, ModelPriceOptions> Prices { get; set; } = new Dictionary<string, ModelPriceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets other names of catalog models, name to model id: for example an Azure OpenAI deployment name to the
    /// model it serves (<c>"CostAware:ModelAliases:support-gpt4o": "gpt-4o"</c>), so that calls naming the deployment are
    /// priced, budgeted and metered as that model. Applied after every price layer; a name that is already a model's is
    /// replaced.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, string> ModelAliases { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the options of the model cascade (<c>UseModelCascade</c>), bound from <c>CostAware:Cascade</c>: tiers by model id and threshold, retries, timeouts, breakers.</summary>
    /// <value>The default value has no tiers.</value>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public ModelCascadeOptions Cascade { get; set; } = new();

    /// <summary>Gets or sets the options of the budget stage (<c>UseBudget</c>), bound from <c>CostAware:Budget</c>.</summary>
    /// <value>The default value has no budgets.</value>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public BudgetOptions Budget { get; set; } = new();

    /// <summary>Gets or sets the defaults of the prompt-cache stage (<c>UsePromptCache</c>), bound from <c>CostAware:PromptCache</c>.</summary>
    /// <value>The default value is a <see cref="PromptCacheOptions"/> with its documented defaults.</value>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public PromptCacheOptions PromptCache { get; set; } = new();

    /// <summary>Gets or sets the defaults of the provider prompt caching stage (<c>UseProviderPromptCaching</c>), bound from <c>CostAware:ProviderPromptCaching</c>.</summary>
    /// <value>The default value is a <see cref="ProviderPromptCachingOptions"/> with its documented defaults.</value>
    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public ProviderPromptCachingOptions ProviderPromptCaching { get; set; } = new();
}
