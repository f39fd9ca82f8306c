using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Internal;

// How one request picks its tokens: the request's ChatOptions over the model's own search defaults.
internal sealed record SamplingSettings(bool Greedy, float Temperature, int TopK, float TopP, float FrequencyPenalty, float PresencePenalty, int? Seed)
{
    public static SamplingSettings From(ChatOptions? options, DecoderConfig config)
    {
        float temperature = options?.Temperature ?? config.Temperature ?? 1f;
        int topK = options?.TopK ?? config.TopK ?? 0;
        float topP = options?.TopP ?? config.TopP ?? 1f;
        bool asked = options?.Temperature > 0 || options?.TopK > 1 || options?.TopP is > 0 and < 1;
        bool greedy = !(config.DoSample || asked) || temperature <= 0 || topK == 1;
        int? seed = options?.Seed is long s ? unchecked((int)s) : config.Seed;
        return new SamplingSettings(
            greedy,
            temperature <= 0 ? 1f : temperature,
            topK,
            topP is > 0 and <= 1 ? topP : 1f,
            options?.FrequencyPenalty ?? 0,
            options?.PresencePenalty ?? 0,
            seed);
    }
}
