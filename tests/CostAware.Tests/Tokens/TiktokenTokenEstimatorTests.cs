using System.Text.Json;
using CostAware.Tests.TestUtilities;
using CsCheck;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace CostAware.Tests.Tokens;

public class TiktokenTokenEstimatorTests
{
    private readonly TiktokenTokenEstimator _estimator = TiktokenTokenEstimator.Default;

    [Theory]
    [InlineData("gpt-4o", "o200k_base")]
    [InlineData("openai/gpt-4.1-mini", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("o3", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-4-1106-preview", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    [InlineData("text-embedding-3-small", "cl100k_base")]
    [InlineData("claude-sonnet-4-5", "o200k_base")]
    [InlineData(null, "o200k_base")]
    public void GetEncodingName_ByModelFamily(string? model, string encoding) =>
        Assert.Equal(encoding, TiktokenTokenEstimator.GetEncodingName(model));

    [Fact]
    public void CountTokens_MatchesMicrosoftTokenizerForTheFamily()
    {
        const string Text = "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning.";

        Assert.Equal(TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(Text), _estimator.CountTokens(Text, "gpt-4o"));
        Assert.Equal(TiktokenTokenizer.CreateForModel("gpt-4").CountTokens(Text), _estimator.CountTokens(Text, "gpt-4"));
        Assert.Equal(0, _estimator.CountTokens(string.Empty, "gpt-4o"));
    }

    [Fact]
    public void EstimateInputTokens_MessagesNamesInstructionsTools()
    {
        ChatMessage user = new(ChatRole.User, "hello world") { AuthorName = "bob" };
        ChatOptions options = new()
        {
            Instructions = "Be brief.",
            Tools = [AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds two numbers.")],
        };
        AIFunctionDeclaration tool = (AIFunctionDeclaration)options.Tools[0];
        int Count(string s) => _estimator.CountTokens(s, "gpt-4o");

        int expected = 3 // reply priming
            + 3 + Count("Be brief.")
            + 3 + 1 + Count("bob") + Count("hello world")
            + 8 + Count("add") + Count("Adds two numbers.") + Count(tool.JsonSchema.GetRawText());

        Assert.Equal(expected, _estimator.EstimateInputTokens([user], options, "gpt-4o"));
    }

    [Fact]
    public void EstimateInputTokens_ToolCallsResultsAndImages()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.Assistant, [new FunctionCallContent("c1", "add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 })]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", 3)]),
            new(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")]),
        ];
        int Count(string s) => _estimator.CountTokens(s, "gpt-4o");

        int expected = 3 + (3 * 3) + Count("add") + Count("""{"a":1,"b":2}""") + Count("3") + 765;

        Assert.Equal(expected, _estimator.EstimateInputTokens(messages, null, "gpt-4o"));
    }

    // The approximation for families without a public tokenizer is measured here on real text: how far two public
    // BPE encodings of the same era disagree on GSM8K questions and answers (docs/token-estimation.md).
    [Fact]
    public void CountTokens_GsmEightK_O200kWithinAFewPercentOfCl100k()
    {
        long o200k = 0, cl100k = 0;
        foreach (string line in File.ReadLines(TestData.PathOf("cascade", "gsm8k_test.jsonl")).Take(500))
        {
            using JsonDocument row = JsonDocument.Parse(line);
            string text = row.RootElement.GetProperty("question").GetString() + "\n" + row.RootElement.GetProperty("answer").GetString();
            o200k += _estimator.CountTokens(text, "gpt-4o");
            cl100k += _estimator.CountTokens(text, "gpt-4");
        }

        double ratio = (double)o200k / cl100k;
        Assert.InRange(ratio, 0.95, 1.0);
    }

    [Fact]
    public void Count_PiecesCoverTheTextInOrder_NoneLongerThanTheBound_NoSurrogatePairSplit()
    {
        Gen.String[Gen.Char["ab \n\uD83D\uDE00x"], 0, 3_000].Sample(text =>
        {
            ReadOnlySpan<char> rest = text;
            System.Text.StringBuilder rebuilt = new();
            while (rest.Length > TiktokenTokenEstimator.MaxPiece)
            {
                int cut = TiktokenTokenEstimator.CutPoint(rest[..(TiktokenTokenEstimator.MaxPiece + 1)]);
                if (cut <= 0 || cut > TiktokenTokenEstimator.MaxPiece || (char.IsHighSurrogate(rest[cut - 1]) && char.IsLowSurrogate(rest[cut])))
                {
                    return false;
                }

                _ = rebuilt.Append(rest[..cut]);
                rest = rest[cut..];
            }

            return rebuilt.Append(rest).ToString() == text;
        });
    }

    [Fact]
    public void CountTokens_OrdinaryTextLongerThanOnePiece_CountsAsTheWholeText()
    {
        // Pieces are cut where the pre-tokenizer cuts anyway (before a space that follows a word), so prose counts the
        // same as the tokenizer counts it whole.
        Gen.Select(Gen.String[Gen.Char['a', 'z'], 1, 12], Gen.Int[1, 3]).Array[200, 800].Sample(words =>
        {
            string text = string.Join(' ', words.Select(static w => w.Item2 == 1 ? w.Item1 + "." : w.Item1));
            return _estimator.CountTokens(text, "gpt-4o") == TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(text);
        }, iter: 20);
    }

    [Fact]
    public void CountTokens_LongRunOfOneCharacter_CountedInPieces_CloseToTheWholeCount()
    {
        // The whole count of a long run is quadratic to compute; 4,000 characters are still cheap enough to compare.
        string run = new('a', 4_000);

        int whole = TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(run);
        int pieces = _estimator.CountTokens(run, "gpt-4o");

        Assert.InRange(pieces, whole, whole + (run.Length / TiktokenTokenEstimator.MaxPiece) + 1);
    }

    [Fact]
    public void EstimateInputTokens_NullMessageOrContent_ArgumentExceptionNamingTheIndex()
    {
        ArgumentException message = Assert.Throws<ArgumentException>(() => _estimator.EstimateInputTokens([new ChatMessage(ChatRole.User, "a"), null!], null, "gpt-4o"));
        ArgumentException content = Assert.Throws<ArgumentException>(() => _estimator.EstimateInputTokens([new ChatMessage(ChatRole.User, [new TextContent("a"), null!])], null, "gpt-4o"));

        Assert.Contains("messages[1] is null", message.Message, StringComparison.Ordinal);
        Assert.Contains("messages[0].Contents[1] is null", content.Message, StringComparison.Ordinal);
    }
}
