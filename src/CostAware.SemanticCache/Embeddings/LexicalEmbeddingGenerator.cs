using System.IO.Hashing;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Embeds text without a model, in process and at no cost, by hashing its words, adjacent word pairs and character
/// trigrams into a fixed number of dimensions (the "hashing trick"), L2-normalised.
/// </summary>
/// <remarks>
/// <para>
/// It measures word overlap, not meaning: "How do I reset my password?" and "I forgot my password, how to reset it?"
/// come out close, "car" and "automobile" do not. It is the semantic cache's default so that the cache works offline
/// out of the box; any real embedding model (the app's provider, a <see cref="Model2VecEmbeddingGenerator"/> model, a
/// local ONNX model) gives better hits. <c>docs/semantic-cache.md</c> has the measured difference.
/// </para>
/// <para>The output depends only on the text and <see cref="Dimensions"/>; it never changes between versions of a major release. Thread-safe.</para>
/// </remarks>
public sealed class LexicalEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private const float WordWeight = 1f;
    private const float StopWordWeight = 0.25f;
    private const float PairWeight = 0.6f;
    private const float TrigramWeight = 0.35f;

    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Initializes a new instance of the <see cref="LexicalEmbeddingGenerator"/> class.</summary>
    /// <param name="dimensions">The number of dimensions, from 32 to 8192; more dimensions mean fewer hash collisions.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimensions"/> is outside 32–8192.</exception>
    public LexicalEmbeddingGenerator(int dimensions = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 32);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimensions, 8192);
        Dimensions = dimensions;
        _metadata = new EmbeddingGeneratorMetadata("costaware-lexical", providerUri: null, $"lexical-hash-{dimensions}", dimensions);
    }

    /// <summary>Gets the number of dimensions of every embedding.</summary>
    public int Dimensions { get; }

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        cancellationToken.ThrowIfCancellationRequested();
        GeneratedEmbeddings<Embedding<float>> result = [];
        foreach (string value in values)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(values));
            float[] vector = new float[Dimensions];
            Embed(value, vector);
            result.Add(new Embedding<float>(vector) { ModelId = _metadata.DefaultModelId });
        }

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

    // Writes the embedding of a text into vector (Dimensions long). A text with no words embeds as a fixed unit vector.
    internal void Embed(string text, Span<float> vector)
    {
        vector.Clear();
        string normalized = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        ReadOnlySpan<char> previous = default;
        int i = 0;
        while (i < normalized.Length)
        {
            if (!char.IsLetterOrDigit(normalized[i]))
            {
                i++;
                continue;
            }

            int start = i;
            while (i < normalized.Length && (char.IsLetterOrDigit(normalized[i]) || (normalized[i] == '\'' && i + 1 < normalized.Length && char.IsLetter(normalized[i + 1]))))
            {
                i++;
            }

            ReadOnlySpan<char> word = normalized.AsSpan(start, i - start);
            bool stop = IsStopWord(word);
            Add(vector, word, 0, stop ? StopWordWeight : WordWeight);
            if (!previous.IsEmpty)
            {
                AddPair(vector, previous, word);
            }

            if (!stop && word.Length > 3)
            {
                AddTrigrams(vector, word);
            }

            previous = word;
        }

        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0f)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
        else
        {
            vector[0] = 1f;
        }
    }

    private void Add(Span<float> vector, ReadOnlySpan<char> feature, uint kind, float weight)
    {
        ulong hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(feature), seed: kind);
        int index = (int)((hash & 0xFFFFFFFF) % (uint)Dimensions);
        vector[index] += (hash >> 63) == 0 ? weight : -weight;
    }

    private void AddPair(Span<float> vector, ReadOnlySpan<char> first, ReadOnlySpan<char> second)
    {
        Span<char> pair = first.Length + second.Length + 1 <= 128 ? stackalloc char[first.Length + second.Length + 1] : new char[first.Length + second.Length + 1];
        first.CopyTo(pair);
        pair[first.Length] = ' ';
        second.CopyTo(pair[(first.Length + 1)..]);
        Add(vector, pair, 1, PairWeight);
    }

    private void AddTrigrams(Span<float> vector, ReadOnlySpan<char> word)
    {
        for (int i = 0; i + 3 <= word.Length; i++)
        {
            Add(vector, word.Slice(i, 3), 2, TrigramWeight);
        }
    }

    private static bool IsStopWord(ReadOnlySpan<char> word) => word switch
    {
        "a" or "an" or "the" or "and" or "or" or "of" or "to" or "in" or "on" or "at" or "by" or "for" or "with" or "from"
            or "is" or "are" or "was" or "were" or "be" or "do" or "does" or "did" or "i" or "me" or "my" or "you" or "your"
            or "it" or "its" or "what" or "which" or "who" or "how" or "why" or "when" or "where" or "can" or "should"
            or "would" or "will" or "this" or "that" or "there" or "some" or "any" => true,
        _ => false,
    };
}
