using CostAware;
using CostAware.Batching.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the <see cref="BatchDeferralChatClient"/> stage to a chat client pipeline.</summary>
public static class BatchDeferralChatClientBuilderExtensions
{
    /// <summary>
    /// Sends calls marked deferrable to their provider's batch API at its discount. Put it inside <c>UseBudget()</c> and
    /// the caches, outside <c>UseTokenMetering()</c>.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">When the pipeline is built: <c>AddCostAwareBatching</c> was not called.</exception>
    public static ChatClientBuilder UseBatchDeferral(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            DeferralCoordinator coordinator = services.GetService<DeferralCoordinator>() ?? throw new InvalidOperationException(
                "UseBatchDeferral needs services.AddCostAwareBatching(...) with at least one batch provider (AddCostAwareOpenAIBatches, AddCostAwareAnthropicBatches).");
            ILoggerFactory loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            return new BatchDeferralChatClient(inner, coordinator, services.GetService<TimeProvider>() ?? TimeProvider.System, loggers.CreateLogger<BatchDeferralChatClient>());
        });
    }
}
