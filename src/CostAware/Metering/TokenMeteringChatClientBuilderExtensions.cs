using CostAware;
using CostAware.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="TokenMeteringChatClient"/> to a chat pipeline.</summary>
public static class TokenMeteringChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the token-metering stage. Place it innermost, next to the provider client, so that it sees every real call.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Configures the stage's options, or <see langword="null"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <remarks>
    /// What is not given is resolved from the pipeline's services: <see cref="IPriceCatalog"/> (else the built-in
    /// catalog), <see cref="ICostLedger"/> (else none), <see cref="ITokenEstimator"/>, <see cref="TimeProvider"/>,
    /// <see cref="ILoggerFactory"/> and the metrics that <c>AddCostAware</c> registers.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static ChatClientBuilder UseTokenMetering(this ChatClientBuilder builder, Action<TokenMeteringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            TokenMeteringOptions options = new();
            configure?.Invoke(options);
            return new TokenMeteringChatClient(
                inner,
                services.GetService<IPriceCatalog>(),
                services.GetService<ICostLedger>(),
                services.GetService<ITokenEstimator>(),
                options,
                services.GetService<TimeProvider>(),
                services.GetService<ILoggerFactory>(),
                services.GetService<CostAwareMetrics>());
        });
    }
}
