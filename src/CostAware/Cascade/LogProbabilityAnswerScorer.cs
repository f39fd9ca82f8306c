using System.Collections;
using System.Reflection;

namespace CostAware;

/// <summary>
/// Scores an answer by the model's own confidence: the geometric mean of its tokens' probabilities
/// (<c>exp(mean log-probability)</c>), when the provider returned log-probabilities. An answer without them scores 1
/// ("cannot tell"), so that this scorer never escalates on its own for lack of data.
/// </summary>
/// <remarks>
/// Ask for log-probabilities in the request (for OpenAI: <c>ChatCompletionOptions.IncludeLogProbabilities</c> through
/// <c>ChatOptions.RawRepresentationFactory</c>). By default they are read from the OpenAI SDK's
/// <c>ChatCompletion.ContentTokenLogProbabilities</c> behind <c>ChatResponse.RawRepresentation</c>; pass an extractor for
/// other providers. Thread-safe.
/// </remarks>
public sealed class LogProbabilityAnswerScorer : IAnswerScorer
{
    private readonly Func<Microsoft.Extensions.AI.ChatResponse, IReadOnlyList<double>?> _extract;

    /// <summary>Initializes a new instance of the <see cref="LogProbabilityAnswerScorer"/> class.</summary>
    /// <param name="extract">Reads the answer's per-token log-probabilities, or <see langword="null"/> to read the OpenAI SDK's.</param>
    public LogProbabilityAnswerScorer(Func<Microsoft.Extensions.AI.ChatResponse, IReadOnlyList<double>?>? extract = null) => _extract = extract ?? FromOpenAI;

    /// <inheritdoc />
    public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        IReadOnlyList<double>? logProbabilities = _extract(context.Response);
        if (logProbabilities is not { Count: > 0 })
        {
            return ValueTask.FromResult(new AnswerScore(1d, "no log-probabilities returned"));
        }

        double mean = logProbabilities.Average();
        double confidence = Math.Clamp(Math.Exp(mean), 0d, 1d);
        return ValueTask.FromResult(new AnswerScore(confidence, $"mean token probability {confidence:0.000} over {logProbabilities.Count} tokens"));
    }

    // ChatCompletion.ContentTokenLogProbabilities[i].LogProbability, read without referencing the OpenAI SDK.
    internal static List<double>? FromOpenAI(Microsoft.Extensions.AI.ChatResponse response)
    {
        object? raw = response.RawRepresentation;
        if (raw?.GetType().GetProperty("ContentTokenLogProbabilities", BindingFlags.Public | BindingFlags.Instance)?.GetValue(raw) is not IEnumerable tokens)
        {
            return null;
        }

        List<double> values = [];
        foreach (object? token in tokens)
        {
            if (token?.GetType().GetProperty("LogProbability", BindingFlags.Public | BindingFlags.Instance)?.GetValue(token) is float value)
            {
                values.Add(value);
            }
        }

        return values;
    }
}
