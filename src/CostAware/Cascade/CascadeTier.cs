using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>One tier of a model cascade: the model (or client) to call, and the score its answer needs to be served.</summary>
/// <remarks>A mutable bag for configuration; the stage copies it when it is built.</remarks>
public sealed class CascadeTier
{
    /// <summary>Gets or sets the model the tier calls, sent as <c>ChatOptions.ModelId</c> through the inner pipeline.</summary>
    /// <value>The default value is <see langword="null"/> (the inner client's default model).</value>
    public string? ModelId { get; set; }

    /// <summary>Gets or sets a client of the tier's own (another provider); set in code, not from configuration.</summary>
    /// <value>The default value is <see langword="null"/>: the tier calls the inner pipeline.</value>
    public IChatClient? Client { get; set; }

    /// <summary>Gets or sets the score in [0, 1] the tier's answer needs to be served; below it the cascade escalates. Not used for the last tier, whose answer is always served.</summary>
    /// <value>The default value is 0.7.</value>
    [Range(0d, 1d)]
    public double AcceptThreshold { get; set; } = 0.7;

    internal CascadeTier Clone() => (CascadeTier)MemberwiseClone();
}
