using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// A scorer learned from the app's own labelled answers (FrugalGPT's idea): a logistic regression over the embeddings of
/// the question and of the answer (any <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, for example the MiniLM
/// generator of CostAware.Onnx.MiniLM) and a few features of the answer (its length, hedging words, a final number,
/// the model's own token log-probabilities when the provider returned them). The score is the learned probability that
/// the answer is right.
/// </summary>
/// <remarks>
/// <para>
/// Train it with <see cref="TrainAsync"/> on answers of the tier it will score (a few hundred labelled examples), keep
/// it with <see cref="Save"/> and load it with <see cref="Load"/> (a small JSON file: one weight per feature). The
/// embedder's calls are not on the request's receipt: use a local one. The question is the request's last user
/// message.
/// </para>
/// <para>Thread-safe once built.</para>
/// </remarks>
public sealed partial class LearnedAnswerScorer : IAnswerScorer
{
    private const string Format = "costaware-learned-scorer/1";
    private const int ScalarCount = 5;

    private readonly IEmbeddingGenerator<string, Embedding<float>> _embedder;
    private readonly int _dimensions;
    private readonly double[] _weights;
    private readonly double _bias;
    private readonly double[] _means;
    private readonly double[] _scales;

    private LearnedAnswerScorer(
        IEmbeddingGenerator<string, Embedding<float>> embedder, int dimensions, double[] weights, double bias, double[] means, double[] scales)
    {
        _embedder = embedder;
        _dimensions = dimensions;
        _weights = weights;
        _bias = bias;
        _means = means;
        _scales = scales;
    }

    /// <summary>Gets the number of embedding dimensions the scorer was trained with.</summary>
    public int Dimensions => _dimensions;

    /// <summary>Trains a scorer on labelled answers.</summary>
    /// <param name="embedder">The embedding generator; the same one must be given to <see cref="Load"/>.</param>
    /// <param name="examples">Answers of the tier to score, each labelled right or wrong; both kinds must be present.</param>
    /// <param name="regularization">
    /// The L2 penalty on the weights, added to the mean log-loss (more: smoother, for fewer examples); above 0. Pick it on
    /// examples held out from training.
    /// </param>
    /// <param name="cancellationToken">Cancels the training.</param>
    /// <returns>The trained scorer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="embedder"/> or <paramref name="examples"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">There are fewer than 10 examples, or they are all right or all wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regularization"/> is not above 0.</exception>
    public static async Task<LearnedAnswerScorer> TrainAsync(
        IEmbeddingGenerator<string, Embedding<float>> embedder,
        IReadOnlyList<LearnedScorerExample> examples,
        double regularization = 1e-3,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(examples);
        if (!(regularization > 0d))
        {
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "The regularization must be above 0.");
        }

        if (examples.Count < 10 || examples.All(static e => e.Correct) || examples.All(static e => !e.Correct))
        {
            throw new ArgumentException("Training needs at least 10 labelled answers, some right and some wrong.", nameof(examples));
        }

        float[][] questions = await EmbedAsync(embedder, [.. examples.Select(static e => e.Question)], cancellationToken);
        float[][] answers = await EmbedAsync(embedder, [.. examples.Select(static e => e.Answer)], cancellationToken);
        int dimensions = questions[0].Length;
        double[][] scalars = [.. examples.Select(static e => Scalars(e.Answer, e.MeanLogProbability))];

        // Scalar features are standardized; embeddings are used as they come (unit length).
        double[] means = new double[ScalarCount];
        double[] scales = new double[ScalarCount];
        for (int j = 0; j < ScalarCount; j++)
        {
            means[j] = scalars.Average(s => s[j]);
            double variance = scalars.Average(s => (s[j] - means[j]) * (s[j] - means[j]));
            scales[j] = variance > 1e-12 ? Math.Sqrt(variance) : 1d;
        }

        double[][] x = new double[examples.Count][];
        double[] y = new double[examples.Count];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = Features(questions[i], answers[i], scalars[i], means, scales);
            y[i] = examples[i].Correct ? 1d : 0d;
        }

        (double[] weights, double bias) = Fit(x, y, regularization, cancellationToken);
        return new LearnedAnswerScorer(embedder, dimensions, weights, bias, means, scales);
    }

    /// <summary>Loads a scorer saved with <see cref="Save"/>.</summary>
    /// <param name="source">The saved scorer.</param>
    /// <param name="embedder">The embedding generator it was trained with.</param>
    /// <returns>The scorer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> or <paramref name="embedder"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidDataException">The stream is not a saved scorer of this version, or it is damaged.</exception>
    public static LearnedAnswerScorer Load(Stream source, IEmbeddingGenerator<string, Embedding<float>> embedder)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(embedder);
        try
        {
            using JsonDocument document = JsonDocument.Parse(source);
            JsonElement root = document.RootElement;
            if (root.GetProperty("format").GetString() != Format)
            {
                throw new InvalidDataException($"Not a saved learned scorer of format '{Format}'.");
            }

            int dimensions = root.GetProperty("dimensions").GetInt32();
            double[] weights = [.. root.GetProperty("weights").EnumerateArray().Select(static w => w.GetDouble())];
            double[] means = [.. root.GetProperty("means").EnumerateArray().Select(static w => w.GetDouble())];
            double[] scales = [.. root.GetProperty("scales").EnumerateArray().Select(static w => w.GetDouble())];
            double bias = root.GetProperty("bias").GetDouble();
            if (dimensions <= 0 || weights.Length != (2 * dimensions) + ScalarCount || means.Length != ScalarCount || scales.Length != ScalarCount
                || weights.Append(bias).Concat(means).Concat(scales).Any(static v => !double.IsFinite(v)) || scales.Any(static s => s <= 0d))
            {
                throw new InvalidDataException("The saved learned scorer is damaged: its weights do not match its dimensions or are not finite.");
            }

            return new LearnedAnswerScorer(embedder, dimensions, weights, bias, means, scales);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException("The stream is not a saved learned scorer.", ex);
        }
    }

    /// <summary>Saves the scorer as JSON.</summary>
    /// <param name="destination">Where to write it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is <see langword="null"/>.</exception>
    public void Save(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using Utf8JsonWriter writer = new(destination);
        writer.WriteStartObject();
        writer.WriteString("format", Format);
        writer.WriteNumber("dimensions", _dimensions);
        writer.WriteNumber("bias", _bias);
        WriteArray(writer, "weights", _weights);
        WriteArray(writer, "means", _means);
        WriteArray(writer, "scales", _scales);
        writer.WriteEndObject();
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The embedder returns vectors of another size than the scorer was trained with.</exception>
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        double probability = await PredictAsync(
            context.Messages.LastOrDefault(static m => m.Role == ChatRole.User)?.Text ?? string.Empty,
            context.Response.Text,
            MeanLogProbability(context.Response),
            cancellationToken);
        return new AnswerScore(probability, string.Create(CultureInfo.InvariantCulture, $"learned: right with probability {probability:0.00}"));
    }

    /// <summary>The learned probability that an answer to a question is right, offline.</summary>
    /// <param name="question">The question.</param>
    /// <param name="answer">The answer.</param>
    /// <param name="meanLogProbability">The mean token log-probability of the answer, when known.</param>
    /// <param name="cancellationToken">Cancels the embedding.</param>
    /// <returns>The probability, in [0, 1].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="question"/> or <paramref name="answer"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The embedder returns vectors of another size than the scorer was trained with.</exception>
    public async Task<double> PredictAsync(string question, string answer, double? meanLogProbability = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(answer);
        float[][] vectors = await EmbedAsync(_embedder, [question, answer], cancellationToken);
        if (vectors[0].Length != _dimensions)
        {
            throw new InvalidOperationException($"The embedder returns {vectors[0].Length} dimensions; the scorer was trained with {_dimensions}. Load it with the embedder it was trained with.");
        }

        double[] x = Features(vectors[0], vectors[1], Scalars(answer, meanLogProbability), _means, _scales);
        return Sigmoid(_bias + TensorPrimitives.Dot<double>(_weights, x));
    }

    private static async Task<float[][]> EmbedAsync(IEmbeddingGenerator<string, Embedding<float>> embedder, string[] texts, CancellationToken cancellationToken)
    {
        GeneratedEmbeddings<Embedding<float>> generated = await embedder.GenerateAsync(texts, cancellationToken: cancellationToken);
        float[][] vectors = [.. generated.Select(static e => e.Vector.ToArray())];
        foreach (float[] vector in vectors)
        {
            float norm = TensorPrimitives.Norm<float>(vector);
            if (norm > 0f)
            {
                TensorPrimitives.Divide(vector, norm, vector);
            }
        }

        return vectors;
    }

    // The answer's own features: its length, hedging, whether it ends with a number, and the model's confidence.
    private static double[] Scalars(string answer, double? meanLogProbability) =>
    [
        Math.Log(1 + answer.Length),
        Hedge().Count(answer),
        FinalNumber().IsMatch(answer) ? 1d : 0d,
        meanLogProbability is { } lp && double.IsFinite(lp) ? lp : 0d,
        meanLogProbability is { } known && double.IsFinite(known) ? 1d : 0d,
    ];

    private static double[] Features(float[] question, float[] answer, double[] scalars, double[] means, double[] scales)
    {
        double[] x = new double[question.Length + answer.Length + ScalarCount];
        for (int i = 0; i < question.Length; i++)
        {
            x[i] = question[i];
        }

        for (int i = 0; i < answer.Length; i++)
        {
            x[question.Length + i] = answer[i];
        }

        for (int j = 0; j < ScalarCount; j++)
        {
            x[question.Length + answer.Length + j] = (scalars[j] - means[j]) / scales[j];
        }

        return x;
    }

    // L2-regularized logistic regression by full-batch gradient descent with Adam; the data sets it is meant for (a few
    // hundred to a few thousand answers, under a thousand features) fit in well under a second.
    private static (double[] Weights, double Bias) Fit(double[][] x, double[] y, double lambda, CancellationToken cancellationToken)
    {
        const int Epochs = 600;
        const double Rate = 0.05, Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
        int n = x.Length, d = x[0].Length;
        double[] w = new double[d], m = new double[d + 1], v = new double[d + 1], gradient = new double[d + 1];

        // Start at the base rate, so that an uninformative model scores every answer at the share of right ones.
        double positive = y.Average();
        double b = Math.Log(positive / (1 - positive));
        for (int epoch = 1; epoch <= Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Array.Clear(gradient);
            for (int i = 0; i < n; i++)
            {
                double error = Sigmoid(b + TensorPrimitives.Dot<double>(w, x[i])) - y[i];
                TensorPrimitives.MultiplyAdd(x[i], error, gradient.AsSpan(0, d), gradient.AsSpan(0, d));
                gradient[d] += error;
            }

            for (int j = 0; j <= d; j++)
            {
                double g = (gradient[j] / n) + (j < d ? lambda * w[j] : 0d);
                m[j] = (Beta1 * m[j]) + ((1 - Beta1) * g);
                v[j] = (Beta2 * v[j]) + ((1 - Beta2) * g * g);
                double step = Rate * (m[j] / (1 - Math.Pow(Beta1, epoch))) / (Math.Sqrt(v[j] / (1 - Math.Pow(Beta2, epoch))) + Epsilon);
                if (j < d)
                {
                    w[j] -= step;
                }
                else
                {
                    b -= step;
                }
            }
        }

        return (w, b);
    }

    // The answer's mean token log-probability, when the provider returned them (read as LogProbabilityAnswerScorer reads them).
    private static double? MeanLogProbability(ChatResponse response) =>
        LogProbabilityAnswerScorer.FromOpenAI(response) is { Count: > 0 } values ? values.Average() : null;

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    private static void WriteArray(Utf8JsonWriter writer, string name, double[] values)
    {
        writer.WriteStartArray(name);
        foreach (double value in values)
        {
            writer.WriteNumberValue(value);
        }

        writer.WriteEndArray();
    }

    [GeneratedRegex(@"\b(?:not sure|I think|probably|maybe|might|perhaps|unclear|approximately|I cannot|I can't|assum(?:e|ing))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Hedge();

    [GeneratedRegex(@"-?\d[\d,]*(?:\.\d+)?\D{0,12}$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FinalNumber();
}
