using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>
/// Where CostAware's shared state lives in Redis: the <c>CostAware:Redis</c> section, read by <c>AddCostAwareRedis</c>
/// from the CostAware.Redis package.
/// </summary>
/// <remarks>This type is a mutable bag for configuration; it is not thread-safe.</remarks>
public sealed class CostAwareRedisOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string (for example <c>redis-1:6379,password=…,ssl=true</c>),
    /// or <see langword="null"/> to keep everything in process memory.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the prefix of every Redis key CostAware writes, so that several apps can share one server.</summary>
    /// <value>The default value is <c>costaware:</c>.</value>
    [Required]
    [RegularExpression(@"^[\x21-\x7E]{1,64}$", ErrorMessage = "The InstanceName field must be 1 to 64 printable ASCII characters without spaces.")]
    public string InstanceName { get; set; } = "costaware:";
}
