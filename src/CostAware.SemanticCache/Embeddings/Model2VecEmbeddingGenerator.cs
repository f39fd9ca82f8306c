using System.Text.Json;
using CostAware.SemanticCache.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Embeds text with a static Model2Vec model, in process and at no cost: each token has a stored vector, and a text's
/// embedding is the weighted mean of its tokens' vectors, L2-normalised.
/// </summary>
/// <remarks>
/// <para>
/// Loads a Model2Vec model folder: <c>model.safetensors</c> (<c>embeddings</c>, and optionally the quantised
/// vocabulary's <c>mapping</c> and per-token <c>weights</c>), a Hugging Face <c>tokenizer.json</c> (Unigram, WordPiece or byte-level BPE),
/// and <c>config.json</c>. Tokens the tokenizer does not know are dropped, and at most
/// <see cref="MaxTokens"/> tokens of a text count, as the model2vec library does.
/// </para>
/// <para>
/// Static embeddings are fast and need no GPU, but they are much weaker than transformer embedding models: a
/// stronger model (the app's provider, or a local ONNX model) gives better semantic-cache hits. Instances are
/// immutable after loading and thread-safe.
/// </para>
/// </remarks>
public sealed class Model2VecEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly ModelTokenizer _tokenizer;
    private readonly float[] _embeddings;
    private readonly int[]? _mapping;
    private readonly double[]? _weights;
    private readonly bool _normalize;
    private readonly EmbeddingGeneratorMetadata _metadata;

    private Model2VecEmbeddingGenerator(
        ModelTokenizer tokenizer, float[] embeddings, int dimensions, int[]? mapping, double[]? weights, bool normalize, string modelId)
    {
        _tokenizer = tokenizer;
        _embeddings = embeddings;
        _mapping = mapping;
        _weights = weights;
        _normalize = normalize;
        Dimensions = dimensions;
        _metadata = new EmbeddingGeneratorMetadata("model2vec", providerUri: null, modelId, dimensions);
    }

    /// <summary>Gets the number of dimensions of every embedding.</summary>
    public int Dimensions { get; }

    /// <summary>Gets the largest number of tokens of a text that count towards its embedding.</summary>
    /// <value>512, as in the model2vec library.</value>
    public int MaxTokens { get; } = 512;

    /// <summary>Loads a Model2Vec model from its folder.</summary>
    /// <param name="modelDirectory">The folder holding <c>model.safetensors</c>, <c>tokenizer.json</c> and <c>config.json</c>.</param>
    /// <returns>The embedding generator.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="FileNotFoundException">A required file is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is damaged or inconsistent with the others; the message names the file and the problem.</exception>
    /// <exception cref="NotSupportedException">The tokenizer uses a model, normalizer or pre-tokenizer this loader does not implement.</exception>
    public static Model2VecEmbeddingGenerator Load(string modelDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        string modelPath = Path.Combine(modelDirectory, "model.safetensors");
        string tokenizerPath = Path.Combine(modelDirectory, "tokenizer.json");
        string configPath = Path.Combine(modelDirectory, "config.json");
        foreach (string path in new[] { modelPath, tokenizerPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The Model2Vec model folder '{modelDirectory}' has no {Path.GetFileName(path)}.", path);
            }
        }

        bool normalize = true;
        if (File.Exists(configPath))
        {
            using JsonDocument config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            normalize = !config.RootElement.TryGetProperty("normalize", out JsonElement n) || n.ValueKind != JsonValueKind.False;
        }

        ModelTokenizer tokenizer = TokenizerJson.Load(File.ReadAllBytes(tokenizerPath), tokenizerPath);
        SafeTensorsFile tensors = SafeTensorsFile.Read(File.ReadAllBytes(modelPath), modelPath);
        long[] shape = tensors.Shape("embeddings");
        if (shape.Length != 2 || shape[0] <= 0 || shape[1] <= 0)
        {
            throw new InvalidDataException($"'{modelPath}': tensor 'embeddings' must be [rows, dimensions], not [{string.Join(", ", shape)}].");
        }

        int rows = (int)shape[0];
        int dimensions = (int)shape[1];
        float[] embeddings = tensors.ReadSingles("embeddings");
        int[]? mapping = tensors.Contains("mapping") ? tensors.ReadInt32s("mapping") : null;
        double[]? weights = tensors.Contains("weights") ? tensors.ReadDoubles("weights") : null;
        int vocabulary = tokenizer.VocabularySize;
        if (mapping is null ? rows < vocabulary : mapping.Length < vocabulary)
        {
            throw new InvalidDataException($"'{modelPath}' covers {(mapping?.Length ?? rows)} tokens but the tokenizer has {vocabulary}.");
        }

        if (mapping is not null && Array.Exists(mapping, row => (uint)row >= (uint)rows))
        {
            throw new InvalidDataException($"'{modelPath}': tensor 'mapping' points outside the {rows} rows of 'embeddings'.");
        }

        if (weights is not null && weights.Length < vocabulary)
        {
            throw new InvalidDataException($"'{modelPath}': tensor 'weights' has {weights.Length} entries for {vocabulary} tokens.");
        }

        string modelId = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
        return new Model2VecEmbeddingGenerator(tokenizer, embeddings, dimensions, mapping, weights, normalize, modelId);
    }

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        GeneratedEmbeddings<Embedding<float>> result = [];
        long tokens = 0;
        foreach (string value in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ArgumentNullException.ThrowIfNull(value, nameof(values));
            float[] vector = new float[Dimensions];
            tokens += Embed(value, vector);
            result.Add(new Embedding<float>(vector) { ModelId = _metadata.DefaultModelId });
        }

        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return Task.FromResult(result);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    // Weighted mean of the known tokens' rows, accumulated in double as the reference implementation does, then
    // L2-normalised. A text with no known token embeds to the zero vector.
    private int Embed(string text, float[] destination)
    {
        IReadOnlyList<int> ids = _tokenizer.EncodeToIds(text);
        int dimensions = Dimensions;
        Span<double> sum = dimensions <= 1024 ? stackalloc double[dimensions] : new double[dimensions];
        sum.Clear();
        int counted = 0;
        for (int i = 0; i < ids.Count && counted < MaxTokens; i++)
        {
            int id = ids[i];
            if (id == _tokenizer.UnknownId || (uint)id >= (uint)(_mapping?.Length ?? (_embeddings.Length / dimensions)))
            {
                continue;
            }

            double weight = _weights?[id] ?? 1d;
            ReadOnlySpan<float> row = _embeddings.AsSpan((_mapping?[id] ?? id) * dimensions, dimensions);
            for (int d = 0; d < dimensions; d++)
            {
                sum[d] += row[d] * weight;
            }

            counted++;
        }

        if (counted == 0)
        {
            return 0;
        }

        double norm = 0;
        for (int d = 0; d < dimensions; d++)
        {
            sum[d] /= counted;
            norm += sum[d] * sum[d];
        }

        double scale = _normalize && norm > 0 ? 1d / Math.Sqrt(norm) : 1d;
        for (int d = 0; d < dimensions; d++)
        {
            destination[d] = (float)(sum[d] * scale);
        }

        return counted;
    }
}
