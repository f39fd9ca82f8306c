namespace CostAware;

/// <summary>The names under which CostAware publishes telemetry, for <c>AddMeter</c> and <c>AddSource</c>.</summary>
/// <remarks>
/// Instruments (all counters): <c>costaware.tokens</c> (<c>{token}</c>, by <c>gen_ai.token.type</c>:
/// <c>input</c>, <c>output</c>, <c>cached_input</c>, <c>cache_write</c>, <c>reasoning</c>; classes are subsets as
/// in <see cref="TokenCounts"/>), <c>costaware.cost</c> (<c>{USD}</c>, priced calls only) and <c>costaware.calls</c>
/// (<c>{call}</c>, with <c>costaware.priced</c> and <c>costaware.estimated</c>). Every measurement carries
/// <c>gen_ai.provider.name</c>, <c>gen_ai.response.model</c>, <c>costaware.entry.kind</c> and the set dimensions of
/// the cost scope (<c>costaware.scope.tenant</c>, <c>.user</c>, <c>.api_key</c>, <c>.agent</c>, <c>.workflow</c>,
/// <c>.feature</c>) unless scope dimensions are turned off.
/// </remarks>
public static class CostAwareTelemetry
{
    /// <summary>The name of CostAware's <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string Name = "CostAware";
}
