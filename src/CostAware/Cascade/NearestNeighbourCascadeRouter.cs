using System.Numerics.Tensors;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// A learned router (RouteLLM's similarity-weighted idea): it embeds the request, finds the <c>k</c> most similar
/// labelled examples, and starts at the cheapest tier that, weighted by similarity, enough of them were answered well
/// by. Requests like those the cheap tier failed start higher and skip a call that would not pass.
/// </summary>
/// <remarks>
/// The examples are embedded once, on first use (the embedding calls are the generator's; meter them there). Each
/// request costs one embedding. Similarity is cosine, in [-1, 1]; only positive similarities vote. Thread-safe.
/// </remarks>
public sealed class NearestNeighbourCascadeRouter : ICascadeRouter
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _embedder;
    private readonly CascadeRoutingExample[] _examples;
    private readonly int _k;
    private readonly double _confidence;
    private readonly Func<IReadOnlyList<ChatMessage>, string> _textOf;
    private Task<Task<float[][]>>? _loading;

    /// <summary>Initializes a new instance of the <see cref="NearestNeighbourCascadeRouter"/> class.</summary>
    /// <param name="embedder">Embeds prompts.</param>
    /// <param name="examples">Labelled prompts.</param>
    /// <param name="k">How many neighbours vote.</param>
    /// <param name="confidence">The similarity-weighted share of neighbours a tier must have answered well for a request to start there, in (0, 1].</param>
    /// <param name="textOf">
    /// The text of a request that is embedded and compared with the examples' prompts; <see langword="null"/> joins the
    /// request's user messages. Choose the part that says how hard the request is: with few-shot examples or a long
    /// shared context in the user messages, embed only the last question (<c>m =&gt; m[^1].Text</c>).
    /// </param>
    /// <exception cref="ArgumentNullException">An argument but <paramref name="textOf"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="examples"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> or <paramref name="confidence"/> is out of range.</exception>
    public NearestNeighbourCascadeRouter(
        IEmbeddingGenerator<string, Embedding<float>> embedder,
        IEnumerable<CascadeRoutingExample> examples,
        int k = 10,
        double confidence = 0.5,
        Func<IReadOnlyList<ChatMessage>, string>? textOf = null)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (!(confidence > 0d && confidence <= 1d))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must be in (0, 1].");
        }

        _embedder = embedder;
        _examples = [.. examples];
        if (_examples.Length == 0)
        {
            throw new ArgumentException("The router needs labelled examples.", nameof(examples));
        }

        _k = k;
        _confidence = confidence;
        _textOf = textOf ?? UserText;
    }

    /// <inheritdoc />
    public async ValueTask<int> SelectStartTierAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, int tierCount, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        float[][] vectors = await VectorsAsync(cancellationToken);
        string prompt = _textOf(messages) ?? string.Empty;
        float[] query = Normalised((await _embedder.GenerateAsync([prompt], cancellationToken: cancellationToken))[0].Vector.ToArray());

        // The k most similar examples (a small sorted list; the example set is small).
        List<(float Similarity, int Tier)> nearest = new(_k + 1);
        for (int i = 0; i < vectors.Length; i++)
        {
            float similarity = TensorPrimitives.Dot<float>(query, vectors[i]);
            if (nearest.Count < _k || similarity > nearest[^1].Similarity)
            {
                int at = nearest.FindIndex(n => n.Similarity < similarity);
                nearest.Insert(at < 0 ? nearest.Count : at, (similarity, Math.Clamp(_examples[i].CheapestPassingTier, 0, tierCount - 1)));
                if (nearest.Count > _k)
                {
                    nearest.RemoveAt(nearest.Count - 1);
                }
            }
        }

        double total = nearest.Sum(static n => Math.Max(0f, n.Similarity));
        if (total <= 0)
        {
            return 0;
        }

        // The cheapest tier that enough of the (similarity-weighted) neighbours were answered well by.
        for (int tier = 0; tier < tierCount; tier++)
        {
            double passed = nearest.Where(n => n.Tier <= tier).Sum(static n => Math.Max(0f, n.Similarity));
            if (passed / total >= _confidence)
            {
                return tier;
            }
        }

        return tierCount - 1;
    }

    // The examples are embedded once, by whichever request comes first; a failure is not kept, the next request retries.
    private async ValueTask<float[][]> VectorsAsync(CancellationToken cancellationToken)
    {
        Task<Task<float[][]>>? loading = Volatile.Read(ref _loading);
        if (loading is null)
        {
            Task<Task<float[][]>> created = new(() => EmbedExamplesAsync(CancellationToken.None));
            loading = Interlocked.CompareExchange(ref _loading, created, null) ?? created;
            if (ReferenceEquals(loading, created))
            {
                created.Start(TaskScheduler.Default);
            }
        }

        try
        {
            return await loading.Unwrap().WaitAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _ = Interlocked.CompareExchange(ref _loading, null, loading);
            throw;
        }
    }

    private async Task<float[][]> EmbedExamplesAsync(CancellationToken cancellationToken)
    {
        GeneratedEmbeddings<Embedding<float>> embeddings = await _embedder.GenerateAsync([.. _examples.Select(static e => e.Prompt)], cancellationToken: cancellationToken).ConfigureAwait(false);
        return [.. embeddings.Select(static e => Normalised(e.Vector.ToArray()))];
    }

    private static float[] Normalised(float[] vector)
    {
        float norm = TensorPrimitives.Norm<float>(vector);
        if (norm > 0 && float.IsFinite(norm))
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }

        return vector;
    }

    private static string UserText(IReadOnlyList<ChatMessage> messages) =>
        string.Join('\n', messages.Where(static m => m.Role == ChatRole.User).Select(static m => m.Text));
}
