namespace CostAware;

/// <summary>Options of the <see cref="TokenMeteringChatClient"/> stage.</summary>
/// <remarks>This type is a mutable bag for configuration; the stage copies what it needs when it is built.</remarks>
public sealed class TokenMeteringOptions
{
    /// <summary>Gets or sets a value indicating whether receipts opened by this stage are recorded to the <see cref="ICostLedger"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RecordToLedger { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether metrics carry the cost scope's dimensions (tenant, user, API key name, agent, workflow, feature).</summary>
    /// <value>
    /// The default value is <see langword="false"/>: tenant, user and API key ids are not metric tags, since they multiply
    /// the series a metrics back end stores and leave the process; per-scope money lives in the cost ledger. Turn it on
    /// only for a small, known set of scope values.
    /// </value>
    public bool IncludeScopeInMetrics { get; set; }

    /// <summary>Gets or sets a callback invoked after every metered call, with its receipt entry.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>An exception thrown by the callback is logged and does not reach the caller.</remarks>
    public Func<OnMeteredArguments, ValueTask>? OnMetered { get; set; }
}
