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
    /// <exception cref="ArgumentException">The scope key holds something other than a <see cref="CostScope"/> (for example a string), which would otherwise make the call silently unscoped.</exception>
    public static CostScope? GetCostScope(this ChatOptions? options) => Get<CostScope>(options, CostAwareProperties.Scope, nameof(WithCostScope));

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
    /// <exception cref="ArgumentException">The deferral key holds something other than a <see cref="Deferral"/>.</exception>
    public static Deferral? GetDeferral(this ChatOptions? options) => Get<Deferral>(options, CostAwareProperties.Deferral, nameof(WithDeferral));

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
    /// <exception cref="ArgumentException">The cache-control key holds something other than a <see cref="CacheControl"/>.</exception>
    public static CacheControl? GetCacheControl(this ChatOptions? options) => Get<CacheControl>(options, CostAwareProperties.CacheControl, nameof(WithCacheControl));

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

    // A value of the wrong type under one of CostAware's keys is a caller's mistake (or a deserialised request); it is
    // reported rather than read as "not set", which would silently drop a scope, a deferral or a cache rule.
    private static T? Get<T>(ChatOptions? options, string key, string setter)
        where T : class
    {
        if (options?.AdditionalProperties is not { } properties || !properties.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        return value as T ?? throw new ArgumentException(
            $"ChatOptions.AdditionalProperties['{key}'] holds a {value.GetType().FullName}, not a {typeof(T).FullName}; set it with {setter}(...).",
            nameof(options));
    }

    private static CostReceipt? Find(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(CostAwareProperties.Receipt, out object? value) ? value as CostReceipt : null;
}
