namespace CostAware;

/// <summary>The hash that turns a canonical request into a <see cref="PromptCacheChatClient"/> key.</summary>
public enum PromptCacheKeyAlgorithm
{
    /// <summary>
    /// XXH3, 128 bits: 1.2 µs to key an 8 KB conversation. Accidental collisions are out of reach (2<sup>-64</sup> at four billion
    /// entries), but the function is not cryptographic: a user who can choose prompts could in principle craft two that
    /// collide and plant an answer for the other. Partitions confine that to the user's own tenant.
    /// </summary>
    XxHash128 = 0,

    /// <summary>SHA-256: 11.3 µs to key an 8 KB conversation; no collision can be crafted. Use it when users of one tenant must not trust each other.</summary>
    Sha256 = 1,
}
