using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CostAware.AspNetCore.Internal;

// Loads at start what the first call would otherwise load: the tokenizers' vocabularies, the price catalog, and the
// registered embedding generator (a local model's session). A failure is logged; the app starts anyway.
internal sealed partial class CostAwareWarmUp(IServiceProvider services, ILogger<CostAwareWarmUp> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            ITokenEstimator estimator = services.GetService<ITokenEstimator>() ?? TiktokenTokenEstimator.Default;
            _ = estimator.CountTokens("warm up", "gpt-4o");
            _ = estimator.CountTokens("warm up", "gpt-4");
            _ = services.GetService<IPriceCatalog>()?.Models.Count;
            if (services.GetService<IEmbeddingGenerator<string, Embedding<float>>>() is { } embedder)
            {
                _ = await embedder.GenerateAsync(["warm up"], cancellationToken: cancellationToken);
            }

            WarmedUp(logger);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            WarmUpFailed(logger, ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(101, LogLevel.Debug, "CostAware warmed up: tokenizers, price catalog and embedding generator loaded.")]
    private static partial void WarmedUp(ILogger logger);

    [LoggerMessage(102, LogLevel.Warning, "CostAware's warm-up failed; the first calls will load what it could not.")]
    private static partial void WarmUpFailed(ILogger logger, Exception exception);
}
