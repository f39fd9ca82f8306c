using System.Diagnostics.CodeAnalysis;

namespace CostAware;

/// <summary>The prices of models, looked up by model id or alias, and the rule for models it does not know.</summary>
/// <remarks>Implementations must be safe to call from many threads at once.</remarks>
public interface IPriceCatalog
{
    /// <summary>Gets every model in the catalog.</summary>
    IReadOnlyCollection<ModelPrice> Models { get; }

    /// <summary>Gets what happens when a model is not in the catalog.</summary>
    UnknownModelPolicy UnknownModelPolicy { get; }

    /// <summary>Gets the price used for unknown models under <see cref="UnknownModelPolicy.UseDefaultPrice"/>, or <see langword="null"/>.</summary>
    ModelPrice? DefaultPrice { get; }

    /// <summary>Looks a model up by id or alias.</summary>
    /// <param name="modelId">The model id as a provider or app names it (aliases and provider prefixes such as <c>openai/gpt-4o</c> work).</param>
    /// <param name="price">The model's price when found.</param>
    /// <returns><see langword="true"/> when the model is in the catalog.</returns>
    bool TryGetPrice(string modelId, [NotNullWhen(true)] out ModelPrice? price);
}
