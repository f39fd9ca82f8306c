using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CostAware.Tests.TestUtilities;

// The labelled Quora question pairs of ../shared/data/semantic-cache (a tar.gz holding one JSON array). Evaluation
// only: read in place, never copied into the repository.
internal static class QqpData
{
    private static readonly Lazy<IReadOnlyList<QqpPair>> s_pairs = new(Load);

    public static IReadOnlyList<QqpPair> Pairs => s_pairs.Value;

    // Distinct questions in file order.
    public static List<string> Questions(int count)
    {
        HashSet<string> seen = new(StringComparer.Ordinal);
        List<string> questions = new(count);
        foreach (QqpPair pair in Pairs)
        {
            foreach (string text in (ReadOnlySpan<string>)[pair.TextA, pair.TextB])
            {
                if (questions.Count < count && seen.Add(text))
                {
                    questions.Add(text);
                }
            }

            if (questions.Count == count)
            {
                break;
            }
        }

        return questions;
    }

    private static IReadOnlyList<QqpPair> Load()
    {
        using FileStream file = File.OpenRead(TestData.PathOf("semantic-cache", "similiar_qqp_full.json.gz"));
        using GZipStream gzip = new(file, CompressionMode.Decompress);
        using TarReader tar = new(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.DataStream is { } data && entry.Name.EndsWith(".json", StringComparison.Ordinal))
            {
                return JsonSerializer.Deserialize<List<QqpPair>>(data) ?? throw new InvalidDataException("The QQP file holds no array.");
            }
        }

        throw new InvalidDataException("The QQP archive holds no .json file.");
    }
}

internal sealed record QqpPair(
    [property: JsonPropertyName("text_a")] string TextA,
    [property: JsonPropertyName("text_b")] string TextB,
    [property: JsonPropertyName("label")] int Label);
