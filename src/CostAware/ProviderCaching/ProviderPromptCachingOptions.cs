using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the provider prompt caching stage (<c>UseProviderPromptCaching</c>), bound from <c>CostAware:ProviderPromptCaching</c>.</summary>
public sealed class ProviderPromptCachingOptions
{
    /// <summary>
    /// Gets or sets how many prefixes' statistics are kept (per process, all tenants together); the least recently seen
    /// are forgotten first. Each costs about 100 bytes.
    /// </summary>
    /// <value>The default value is 20,000.</value>
    [Range(16, 10_000_000)]
    public int MaxTrackedPrefixes { get; set; } = 20_000;

    /// <summary>
    /// Gets or sets the shortest prefix, in tokens, worth a breakpoint whatever the provider's own minimum (the larger of
    /// the two applies).
    /// </summary>
    /// <value>The default value is 1,024.</value>
    [Range(1, 1_000_000)]
    public int MinimumPrefixTokens { get; set; } = 1024;

    /// <summary>
    /// Gets or sets a value indicating whether a long prefix that changes between consecutive calls only in a small span
    /// (a date, an id, a name near the start of a system prompt) is reported, once per prompt family (log event 91 and
    /// the metric <c>costaware.provider_cache.breakers</c>).
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool DetectCacheBreakers { get; set; } = true;

    /// <summary>
    /// Gets or sets a secret mixed into the routing keys sent to providers that route by key (OpenAI's
    /// <c>prompt_cache_key</c>). A key is a hash of the tenant and the stable prefix and never carries either; with a salt
    /// nobody who knows a prompt can test tenant ids against it. Every process of an app must use the same salt, or
    /// requests that share a prefix are routed apart.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (no salt).</value>
    public string? RoutingKeySalt { get; set; }

    internal ProviderPromptCachingOptions Clone() => (ProviderPromptCachingOptions)MemberwiseClone();
}
