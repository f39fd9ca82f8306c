using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Typed access to CostAware's per-call settings on <see cref="ChatOptions"/> and to the receipt on responses.
/// </summary>
public static class CostAwareChatOptionsExtensions
{
    /// <summary>Sets who pays for calls made with these options.</summary>
    /// <param name="options">The options to set the scope on.</param>
    /// <param name="scope">The scope.</param>
    /// <returns><paramref name="options"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static ChatOptions WithCostScope(this ChatOptions options, CostScope scope)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scope);
        (options.AdditionalProperties ??= [])[CostAwareProperties.Scope] = scope;
        return options;
    }

    /// <summary>Gets the scope set on these options, or <see langword="null"/> when none was set.</summary>
    /// <param name="options">The options, or <see langword="null"/>.</param>
    /// <returns>The per-call scope, without the ambient one.</returns>
    public static CostScope? GetCostScope(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(CostAwareProperties.Scope, out object? value)
            ? value as CostScope
            : null;

    /// <summary>
    /// Gets the scope that a call with these options is attributed to: the per-call scope merged over the
    /// <see cref="AmbientCostScope.Current">ambient</see> one, or <see cref="CostScope.None"/>.
    /// </summary>
    /// <param name="options">The options, or <see langword="null"/>.</param>
    /// <returns>The effective scope; never <see langword="null"/>.</returns>
    public static CostScope ResolveCostScope(this ChatOptions? options)
    {
        CostScope? perCall = options.GetCostScope();
        CostScope? ambient = AmbientCostScope.Current;
        return ambient is null ? perCall ?? CostScope.None : ambient.Merge(perCall);
    }

    /// <summary>Marks calls made with these options as able to wait for a provider's batch API.</summary>
    /// <param name="options">The options to mark.</param>
    /// <param name="deferral">The deferral, for example <see cref="Deferral.Unbounded"/>.</param>
    /// <returns><paramref name="options"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static ChatOptions WithDeferral(this ChatOptions options, Deferral deferral)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(deferral);
        (options.AdditionalProperties ??= [])[CostAwareProperties.Deferral] = deferral;
        return options;
    }

    /// <summary>Gets the deferral set on these options.</summary>
    /// <param name="options">The options, or <see langword="null"/>.</param>
    /// <returns>The deferral, or <see langword="null"/> when the call must be answered now.</returns>
    public static Deferral? GetDeferral(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(CostAwareProperties.Deferral, out object? value)
            ? value as Deferral
            : null;

    /// <summary>Sets how CostAware's caches treat calls made with these options.</summary>
    /// <param name="options">The options to set the control on.</param>
    /// <param name="control">The cache control, for example <see cref="CacheControl.NoStore"/>.</param>
    /// <returns><paramref name="options"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static ChatOptions WithCacheControl(this ChatOptions options, CacheControl control)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(control);
        (options.AdditionalProperties ??= [])[CostAwareProperties.CacheControl] = control;
        return options;
    }

    /// <summary>Gets the cache control set on these options, or <see langword="null"/> when none was set.</summary>
    /// <param name="options">The options, or <see langword="null"/>.</param>
    /// <returns>The cache control, or <see langword="null"/>.</returns>
    public static CacheControl? GetCacheControl(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(CostAwareProperties.CacheControl, out object? value)
            ? value as CacheControl
            : null;

    /// <summary>Gets the cost receipt of a response, or <see langword="null"/> when no CostAware stage produced one.</summary>
    /// <param name="response">The response.</param>
    /// <returns>The receipt, or <see langword="null"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="response"/> is <see langword="null"/>.</exception>
    public static CostReceipt? GetCostReceipt(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Find(response.AdditionalProperties);
    }

    /// <summary>Gets the cost receipt carried by a streaming update (the final update of a metered stream), or <see langword="null"/>.</summary>
    /// <param name="update">The update.</param>
    /// <returns>The receipt, or <see langword="null"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="update"/> is <see langword="null"/>.</exception>
    public static CostReceipt? GetCostReceipt(this ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return Find(update.AdditionalProperties);
    }

    private static CostReceipt? Find(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(CostAwareProperties.Receipt, out object? value) ? value as CostReceipt : null;
}
