using System.Text.Json;
using CostAware.Internal;
using CostAware.Shared;
using CsCheck;
using Microsoft.Extensions.AI;

namespace CostAware.Tests.Caching;

public class PromptCacheKeyBuilderTests
{
    private static readonly ChatClientMetadata Metadata = new("openai", null, "gpt-4o");
    private static readonly PromptCacheKeyBuilder Keys = new("costaware:prompt", PromptCacheKeyAlgorithm.XxHash128);

    private static string? Key(IEnumerable<ChatMessage> messages, ChatOptions? options, string? tenant = "acme", ChatClientMetadata? metadata = null, PromptCacheKeyBuilder? keys = null) =>
        (keys ?? Keys).TryBuild(messages, options, metadata ?? Metadata, tenant, null, PromptCacheKeyBuilder.PartitionId(tenant, null));

    // A request as plain data, so that it can be built into ChatMessage/ChatOptions in more than one way.
    private sealed record Request(
        (string Role, string Text)[] Messages, float? Temperature, float? TopP, int? MaxTokens, long? Seed, string[] Stops, (string Key, int Value)[] Extra, bool Json);

    private static readonly Gen<string> Text = Gen.String[Gen.Char.AlphaNumeric, 0, 40];

    private static readonly Gen<Request> Requests =
        Gen.Select(
            Gen.Select(Gen.OneOf("system", "user", "assistant"), Text).Array[1, 5],
            Gen.Float[0f, 2f].Nullable(),
            Gen.Float[0f, 1f].Nullable(),
            Gen.Int[1, 4096].Nullable(),
            Gen.Long.Nullable(),
            Gen.String[Gen.Char.AlphaNumeric, 1, 5].Array[0, 3],
            Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 8], Gen.Int).Array[0, 3],
            Gen.Bool)
        .Select(static (m, t, p, max, seed, stops, extra, json) =>
            new Request(m, t, p, max, seed, [.. stops.Distinct()], [.. extra.DistinctBy(e => e.Item1, StringComparer.OrdinalIgnoreCase)], json));

    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"integer"},"why":{"type":"string"}},"required":["answer"]}""").RootElement;
    private static readonly JsonElement SchemaReordered = JsonDocument.Parse("""
        {
          "required": [ "answer" ],
          "properties": { "why": { "type": "string" }, "answer": { "type": "integer" } },
          "type": "object"
        }
        """).RootElement;

    private static (List<ChatMessage>, ChatOptions) BuildOneWay(Request r)
    {
        List<ChatMessage> messages = [.. r.Messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Text))];
        ChatOptions options = new()
        {
            Temperature = r.Temperature,
            TopP = r.TopP,
            MaxOutputTokens = r.MaxTokens,
            Seed = r.Seed,
            StopSequences = r.Stops.Length == 0 ? null : [.. r.Stops],
            ResponseFormat = r.Json ? ChatResponseFormat.ForJsonSchema(Schema, "answer") : null,
        };
        foreach ((string key, int value) in r.Extra)
        {
            (options.AdditionalProperties ??= [])[key] = value;
        }

        return (messages, options);
    }

    // The same request, built differently: an array instead of a list, contents set after construction, stop
    // sequences and extra properties in reverse order and other case, the schema's members reordered and reformatted, JSON
    // numbers instead of ints, and CostAware's own keys added (which never change the answer).
    private static (ChatMessage[], ChatOptions) BuildOtherWay(Request r)
    {
        ChatMessage[] messages = [.. r.Messages.Select(m =>
        {
            ChatMessage message = new() { Role = new ChatRole(m.Role.ToUpperInvariant()) };
            message.Contents.Add(new TextContent(m.Text));
            return message;
        })];
        ChatOptions options = new ChatOptions().WithCacheControl(CacheControl.NoStore);
        options.AdditionalProperties![CostAwareProperties.Receipt] = "ignored";
        foreach ((string key, int value) in r.Extra.Reverse())
        {
            // Property names compare case-insensitively, as AdditionalPropertiesDictionary does.
            options.AdditionalProperties[key.ToUpperInvariant()] = JsonSerializer.SerializeToElement(value);
        }

        options.StopSequences = r.Stops.Length == 0 ? null : [.. r.Stops.Reverse()];
        options.Seed = r.Seed;
        options.MaxOutputTokens = r.MaxTokens;
        options.TopP = r.TopP;
        options.Temperature = r.Temperature;
        options.ResponseFormat = r.Json ? ChatResponseFormat.ForJsonSchema(SchemaReordered, "answer") : null;
        return (messages, options);
    }

    [Fact]
    public void TryBuild_SameRequestBuiltTwoWays_SameKey() =>
        Requests.Sample(static r =>
        {
            (List<ChatMessage> m1, ChatOptions o1) = BuildOneWay(r);
            (ChatMessage[] m2, ChatOptions o2) = BuildOtherWay(r);
            return Key(m1, o1) == Key(m2, o2);
        });

    // Every change that can change the answer, applied to any request, changes the key.
    private static readonly (string Name, Action<List<ChatMessage>, ChatOptions> Change)[] Changes =
    [
        ("text", (m, _) => m[^1] = new ChatMessage(m[^1].Role, m[^1].Text + ".")),
        ("role", (m, _) => m[^1] = new ChatMessage(m[^1].Role == ChatRole.User ? ChatRole.Assistant : ChatRole.User, m[^1].Text)),
        ("author", (m, _) => m[^1].AuthorName = "bob"),
        ("extra message", (m, _) => m.Add(new ChatMessage(ChatRole.User, ""))),
        ("image bytes", (m, _) => m[^1].Contents.Add(new DataContent(new byte[] { 1, 2, 3 }, "image/png"))),
        ("model", (_, o) => o.ModelId = "gpt-4o-mini"),
        ("instructions", (_, o) => o.Instructions = "Be brief."),
        ("temperature", (_, o) => o.Temperature = (o.Temperature ?? 0f) + 0.5f),
        ("top-p", (_, o) => o.TopP = (o.TopP ?? 0f) + 0.25f),
        ("top-k", (_, o) => o.TopK = 40),
        ("max tokens", (_, o) => o.MaxOutputTokens = (o.MaxOutputTokens ?? 0) + 1),
        ("seed", (_, o) => o.Seed = (o.Seed ?? 0) + 1),
        ("stop", (_, o) => o.StopSequences = [.. o.StopSequences ?? [], "\n\n"]),
        ("frequency penalty", (_, o) => o.FrequencyPenalty = 0.5f),
        ("response format", (_, o) => o.ResponseFormat = o.ResponseFormat is null ? ChatResponseFormat.Json : null),
        ("schema", (_, o) => o.ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("""{"type":"object"}""").RootElement, "other")),
        ("tool", (_, o) => o.Tools = [AIFunctionFactory.Create((int a, int b) => a + b, "add")]),
        ("tool mode", (_, o) => { o.Tools = [AIFunctionFactory.Create((int a) => a, "id")]; o.ToolMode = ChatToolMode.RequireAny; }),
        ("provider option", (_, o) => (o.AdditionalProperties ??= [])["reasoning_effort"] = "high"),
        ("message property", (m, _) => (m[^1].AdditionalProperties ??= [])["cache_control"] = "ephemeral"),
    ];

    [Fact]
    public void TryBuild_AnyFieldThatChangesTheAnswer_ChangesTheKey() =>
        Gen.Select(Requests, Gen.Int[0, Changes.Length - 1]).Sample(static (r, i) =>
        {
            (List<ChatMessage> m, ChatOptions o) = BuildOneWay(r);
            string? before = Key(m, o);
            Changes[i].Change(m, o);
            return before != Key(m, o);
        });

    [Fact]
    public void TryBuild_ToolsWithTheSameDeclaration_SameKey()
    {
        ChatOptions a = new() { Tools = [AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds two numbers.")] };
        ChatOptions b = new() { Tools = [AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds two numbers.")] };
        ChatOptions c = new() { Tools = [AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds numbers.")] };

        Assert.Equal(Key([new(ChatRole.User, "q")], a), Key([new(ChatRole.User, "q")], b));
        Assert.NotEqual(Key([new(ChatRole.User, "q")], a), Key([new(ChatRole.User, "q")], c));
    }

    [Fact]
    public void TryBuild_NoOptionsAndEmptyOptions_SameKey() =>
        Assert.Equal(Key([new(ChatRole.User, "q")], null), Key([new(ChatRole.User, "q")], new ChatOptions()));

    [Fact]
    public void TryBuild_TenantProviderAndDefaultModel_ChangeTheKey()
    {
        ChatMessage[] q = [new(ChatRole.User, "q")];
        string? acme = Key(q, null);

        Assert.NotEqual(acme, Key(q, null, tenant: "globex"));
        Assert.NotEqual(acme, Key(q, null, tenant: null));
        Assert.NotEqual(acme, Key(q, null, metadata: new ChatClientMetadata("anthropic", null, "gpt-4o")));
        Assert.NotEqual(acme, Key(q, null, metadata: new ChatClientMetadata("openai", null, "gpt-4o-mini")));
        // The effective model is what counts: the client's default named explicitly is the same request.
        Assert.Equal(acme, Key(q, new ChatOptions { ModelId = "gpt-4o" }));
    }

    [Fact]
    public void TryBuild_SharedPartition_DiffersFromEveryTenant()
    {
        ChatMessage[] q = [new(ChatRole.User, "q")];
        string? shared = Keys.TryBuild(q, null, Metadata, "acme", "faq", PromptCacheKeyBuilder.PartitionId(null, "faq"));
        string? sharedOther = Keys.TryBuild(q, null, Metadata, "globex", "faq", PromptCacheKeyBuilder.PartitionId(null, "faq"));

        Assert.Equal(shared, sharedOther);
        Assert.NotEqual(shared, Key(q, null, tenant: "faq"));
    }

    [Fact]
    public void TryBuild_RawRepresentationFactory_NotCacheable() =>
        Assert.Null(Key([new(ChatRole.User, "q")], new ChatOptions { RawRepresentationFactory = _ => new object() }));

    // The key is part of the stored data's contract: it must not change within a version. If this test fails,
    // the canonical form changed; bump PromptCacheKeyBuilder.CanonicalVersion and update docs/prompt-cache.md.
    [Fact]
    public void TryBuild_ReferenceRequest_KeyIsPinned()
    {
        ChatMessage[] messages = [new(ChatRole.System, "You are a careful math tutor."), new(ChatRole.User, "What is 9 + 9?")];
        ChatOptions options = new() { ModelId = "gpt-4o-mini", Temperature = 0f, MaxOutputTokens = 256, StopSequences = ["\n\n"] };

        Assert.Equal("costaware:prompt:v1:t97f8319605f084f4:101a5e4a72417625b410ef135a12b7ed", Key(messages, options));
        Assert.Equal(
            "costaware:prompt:v1:t97f8319605f084f4:101a5e4a72417625b410ef135a12b7ed".Length + 32,
            Key(messages, options, keys: new PromptCacheKeyBuilder("costaware:prompt", PromptCacheKeyAlgorithm.Sha256))!.Length);
    }

    [Fact]
    public void PartitionId_NeverContainsTheTenantName()
    {
        Assert.Equal("t", PromptCacheKeyBuilder.PartitionId(null, null));
        Gen.String[Gen.Char.AlphaNumeric, 3, 20].Sample(static tenant =>
        {
            string id = PromptCacheKeyBuilder.PartitionId(tenant, null);
            return id.Length == 17 && id[0] == 't' && !id.Contains(tenant, StringComparison.Ordinal) && id != PromptCacheKeyBuilder.PartitionId(null, tenant);
        });
    }
}
