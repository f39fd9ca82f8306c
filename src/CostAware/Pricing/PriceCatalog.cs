using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace CostAware;

/// <summary>
/// An immutable price catalog: models by id and alias, and the rule for models it does not know.
/// </summary>
/// <remarks>
/// <para>
/// Look-ups ignore case and white space at the ends. A prefixed id that is not in the catalog is retried without its
/// prefixes, one segment at a time, so <c>azure/gpt-4o</c> and <c>openrouter/openai/gpt-4o</c> find <c>gpt-4o</c>.
/// </para>
/// <para>
/// <see cref="BuiltIn"/> ships inside the package: list prices of current OpenAI, Anthropic, Google Gemini, Mistral,
/// DeepSeek and xAI models, each with its source and effective date (see <c>docs/price-catalog.md</c>).
/// </para>
/// <para>Instances are immutable and safe to share between threads.</para>
/// </remarks>
public sealed class PriceCatalog : IPriceCatalog
{
    private static readonly Lazy<PriceCatalog> BuiltInCatalog = new(LoadBuiltIn, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly FrozenDictionary<string, ModelPrice> _byName;
    private readonly FrozenDictionary<string, ModelPrice>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly ModelPrice[] _models;

    /// <summary>Initializes a new instance of the <see cref="PriceCatalog"/> class.</summary>
    /// <param name="models">The models; when two share an id or alias, the later one wins.</param>
    /// <param name="unknownModelPolicy">What happens when a model is not in the catalog.</param>
    /// <param name="defaultPrice">The price for unknown models; required with <see cref="UnknownModelPolicy.UseDefaultPrice"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="models"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="unknownModelPolicy"/> is <see cref="UnknownModelPolicy.UseDefaultPrice"/> and <paramref name="defaultPrice"/> is <see langword="null"/>.</exception>
    public PriceCatalog(IEnumerable<ModelPrice> models, UnknownModelPolicy unknownModelPolicy = UnknownModelPolicy.RecordAsUnpriced, ModelPrice? defaultPrice = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (!Enum.IsDefined(unknownModelPolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(unknownModelPolicy), unknownModelPolicy, "Unknown policy.");
        }

        if (unknownModelPolicy == UnknownModelPolicy.UseDefaultPrice && defaultPrice is null)
        {
            throw new ArgumentException("UnknownModelPolicy.UseDefaultPrice needs a default price.", nameof(defaultPrice));
        }

        // Later entries win: an entry that shares a name with an earlier model replaces that model whole, under
        // every one of its names, so no alias keeps billing at the old price.
        Dictionary<string, ModelPrice> byName = new(StringComparer.OrdinalIgnoreCase);
        foreach (ModelPrice model in models)
        {
            ArgumentNullException.ThrowIfNull(model, nameof(models));
            foreach (string name in NamesOf(model))
            {
                if (byName.TryGetValue(name, out ModelPrice? replaced) && !ReferenceEquals(replaced, model))
                {
                    foreach (string old in NamesOf(replaced))
                    {
                        if (byName.TryGetValue(old, out ModelPrice? current) && ReferenceEquals(current, replaced))
                        {
                            _ = byName.Remove(old);
                        }
                    }
                }
            }

            foreach (string name in NamesOf(model))
            {
                byName[name] = model;
            }
        }

        _byName = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _bySpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        HashSet<ModelPrice> distinct = new(ReferenceEqualityComparer.Instance);
        List<ModelPrice> ordered = [];
        foreach (ModelPrice model in byName.Values)
        {
            if (distinct.Add(model))
            {
                ordered.Add(model);
            }
        }

        _models = [.. ordered];
        UnknownModelPolicy = unknownModelPolicy;
        DefaultPrice = defaultPrice;
    }

    /// <summary>Gets the catalog that ships inside the package, with <see cref="UnknownModelPolicy.RecordAsUnpriced"/>.</summary>
    public static PriceCatalog BuiltIn => BuiltInCatalog.Value;

    /// <inheritdoc />
    public IReadOnlyCollection<ModelPrice> Models => _models;

    /// <inheritdoc />
    public UnknownModelPolicy UnknownModelPolicy { get; }

    /// <inheritdoc />
    public ModelPrice? DefaultPrice { get; }

    /// <summary>Returns a catalog with these models added; where a model's id or alias is already known, the new entry wins.</summary>
    /// <param name="overrides">The models to add or replace.</param>
    /// <returns>A new catalog with the same policy.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="overrides"/> is <see langword="null"/>.</exception>
    public PriceCatalog WithOverrides(IEnumerable<ModelPrice> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        return new PriceCatalog(_models.Concat(overrides), UnknownModelPolicy, DefaultPrice);
    }

    /// <summary>Returns a catalog with the same models and another rule for unknown models.</summary>
    /// <param name="policy">The rule.</param>
    /// <param name="defaultPrice">The default price, required with <see cref="UnknownModelPolicy.UseDefaultPrice"/>.</param>
    /// <returns>A new catalog.</returns>
    public PriceCatalog WithUnknownModelPolicy(UnknownModelPolicy policy, ModelPrice? defaultPrice = null) =>
        new(_models, policy, defaultPrice);

    /// <inheritdoc />
    public bool TryGetPrice(string modelId, [NotNullWhen(true)] out ModelPrice? price)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        ReadOnlySpan<char> name = modelId.AsSpan().Trim();
        while (!name.IsEmpty)
        {
            if (_bySpan.TryGetValue(name, out price))
            {
                return true;
            }

            int slash = name.IndexOf('/');
            if (slash < 0)
            {
                break;
            }

            name = name[(slash + 1)..];
        }

        price = null;
        return false;
    }

    private static IEnumerable<string> NamesOf(ModelPrice model)
    {
        yield return model.ModelId.Trim();
        foreach (string alias in model.Aliases)
        {
            yield return alias.Trim();
        }
    }

    private static PriceCatalog LoadBuiltIn()
    {
        using Stream stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream("CostAware.builtin-prices.json")
            ?? throw new InvalidOperationException("The built-in price catalog is missing from the CostAware assembly.");
        return new PriceCatalog(PriceCatalogLoader.LoadJson(stream, "built-in catalog"));
    }
}
