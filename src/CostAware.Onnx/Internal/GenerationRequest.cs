using System.Threading.Channels;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Internal;

// One request waiting for or taking part in a batch: its prompt, how it samples and stops, and where its updates go.
internal sealed class GenerationRequest
{
    public GenerationRequest(IReadOnlyList<int> prompt, SamplingSettings sampling, int maxNewTokens, IReadOnlyList<string>? stopSequences, CancellationToken cancellationToken)
    {
        Prompt = prompt;
        Sampling = sampling;
        MaxNewTokens = maxNewTokens;
        StopSequences = stopSequences;
        CancellationToken = cancellationToken;
    }

    public IReadOnlyList<int> Prompt { get; }
    public SamplingSettings Sampling { get; }
    public int MaxNewTokens { get; }
    public IReadOnlyList<string>? StopSequences { get; }
    public CancellationToken CancellationToken { get; }

    // Text pieces, then one final update with the finish reason and usage; completed with an exception on failure.
    public Channel<ChatResponseUpdate> Updates { get; } = Channel.CreateUnbounded<ChatResponseUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
}
