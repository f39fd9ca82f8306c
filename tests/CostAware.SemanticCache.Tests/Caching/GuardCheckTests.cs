using CostAware.SemanticCache.Internal;
using CostAware.Shared;
using CsCheck;

namespace CostAware.SemanticCache.Tests.Caching;

public sealed class GuardCheckTests
{
    private static readonly string[] WordList =
    [
        "what", "is", "the", "Paris", "NASA", "not", "never", "2", "two", "2020", "Monday", "may", "May", "price", "of", "iPhone", "don't", "1,000", "3.5", "tomorrow", "best", "car", "cars", "?", ".", "How", "I",
    ];

    private static readonly Gen<string> Words = Gen.Int[0, WordList.Length - 1].Select(static i => WordList[i]);

    private static readonly Gen<string> Texts = Words.Array[0, 12].Select(static w => string.Join(' ', w));

    [Fact]
    public void A_text_never_vetoes_itself() =>
        Texts.Sample(static text =>
        {
            TextFeatures features = TextFeatures.Extract(text);
            return GuardCheck.Veto(features, TextFeatures.Extract(text), SemanticGuards.All, lexicalFloor: 1f) is null;
        });

    [Fact]
    public void The_guards_are_symmetric() =>
        Gen.Select(Texts, Texts).Sample(static (a, b) =>
        {
            TextFeatures fa = TextFeatures.Extract(a), fb = TextFeatures.Extract(b);
            return (GuardCheck.Veto(fa, fb, SemanticGuards.All, 0.3f) is null) == (GuardCheck.Veto(fb, fa, SemanticGuards.All, 0.3f) is null);
        });

    [Fact]
    public void Lexical_overlap_is_a_fraction_and_one_for_equal_sets() =>
        Gen.Select(Texts, Texts).Sample(static (a, b) =>
        {
            float overlap = GuardCheck.LexicalOverlap(TextFeatures.Extract(a).ContentWords, TextFeatures.Extract(b).ContentWords);
            float self = GuardCheck.LexicalOverlap(TextFeatures.Extract(a).ContentWords, TextFeatures.Extract(a).ContentWords);
            return overlap is >= 0f and <= 1f && self == 1f;
        });

    [Theory]
    [InlineData("I have two cats", "I have 2 cats", null)]
    [InlineData("It costs 1,000 dollars", "It costs 1000 dollars", null)]
    [InlineData("Meet me in May", "Meet me in June", "dates")]
    [InlineData("May I leave early?", "Can I leave early?", null)]
    [InlineData("I don't like tea", "I like tea", "negation")]
    [InlineData("I don't dislike tea", "I do not dislike tea", null)]
    [InlineData("Flights to Paris", "flights to paris", null)]
    [InlineData("Is NASA funded?", "Is ESA funded?", "entities")]
    public void Features_are_read_as_a_reader_would(string a, string b, string? veto) =>
        Assert.Equal(veto, GuardCheck.Veto(TextFeatures.Extract(a), TextFeatures.Extract(b), SemanticGuards.All, 0f));
}
