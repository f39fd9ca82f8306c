using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace CostAware.Adversarial.Tests;

// The provider's side of the money: a stand-in model that bills every call it answers, at the catalog's list prices,
// exactly as the provider's invoice would. Input is billed at the tokenizer's count of the request (what a budget
// estimates, before its margin); output at what the call asked for, up to OutputTokens. A call cancelled before it
// answers is not billed. Hooks let a test hold a call open, fail it, or see it start.
internal sealed class BillingProvider : IChatClient
{
    public const string Model = "gpt-4o-mini";

    private readonly Lock _gate = new();
    private long _billedNanos;
    private int _billedCalls;

    public int OutputTokens { get; set; } = 200;

    // Billed input is this many times the tokenizer's count (a provider whose prompt template adds tokens, say).
    public long InputTokensPerCall { get; set; } = -1;

    // Extra usage classes, as a fraction of the input (Anthropic cache writes, OpenAI cached tokens).
    public bool ReportAllInputAsCacheWrite1h { get; set; }

    public ChatClientMetadata Metadata { get; set; } = new("billing-provider", null, Model);

    public Func<CancellationToken, Task>? BeforeAnswer { get; set; }

    public Action<int>? OnStarted { get; set; }

    public int Started;

    public decimal Billed
    {
        get
        {
            lock (_gate)
            {
                return _billedNanos / 1_000_000_000m;
            }
        }
    }

    public int BilledCalls => Volatile.Read(ref _billedCalls);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        int call = Interlocked.Increment(ref Started);
        OnStarted?.Invoke(call);
        await Task.Yield();
        if (BeforeAnswer is { } before)
        {
            await before(cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        UsageDetails usage = Usage(messages, options);
        Bill(usage, options?.ModelId ?? Model);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, Text(usage.OutputTokenCount!.Value)))
        {
            ModelId = options?.ModelId ?? Model,
            FinishReason = ChatFinishReason.Stop,
            Usage = usage,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        int call = Interlocked.Increment(ref Started);
        OnStarted?.Invoke(call);
        await Task.Yield();
        if (BeforeAnswer is { } before)
        {
            await before(cancellationToken);
        }

        UsageDetails usage = Usage(messages, options);
        string model = options?.ModelId ?? Model;
        for (int i = 0; i < 4; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, Text(usage.OutputTokenCount!.Value / 4)) { ModelId = model, MessageId = "m" };
            await Task.Yield();
        }

        // Billed once the answer is complete; the final update carries the usage.
        Bill(usage, model);
        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = ChatFinishReason.Stop, Contents = [new UsageContent(usage)] };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? Metadata : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    public static decimal Price(UsageDetails usage, string model)
    {
        UsageToTokens(usage, out TokenCounts tokens);
        return PriceCatalog.BuiltIn.TryGetPrice(model, out ModelPrice? price) ? price.CalculateCost(tokens).Total : 0m;
    }

    private UsageDetails Usage(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        long input = InputTokensPerCall >= 0 ? InputTokensPerCall : TiktokenTokenEstimator.Default.EstimateInputTokens(messages, options, options?.ModelId ?? Model);
        long output = Math.Min(OutputTokens, options?.MaxOutputTokens ?? OutputTokens);
        UsageDetails usage = new() { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };
        if (ReportAllInputAsCacheWrite1h)
        {
            usage.AdditionalCounts = new() { ["cache_creation.ephemeral_1h_input_tokens"] = input };
        }

        return usage;
    }

    private void Bill(UsageDetails usage, string model)
    {
        decimal cost = Price(usage, model);
        lock (_gate)
        {
            _billedNanos += (long)(cost * 1_000_000_000m);
            _billedCalls++;
        }
    }

    private static void UsageToTokens(UsageDetails usage, out TokenCounts tokens)
    {
        long write1h = usage.AdditionalCounts is { } extra && extra.TryGetValue("cache_creation.ephemeral_1h_input_tokens", out long w) ? w : 0;
        tokens = new TokenCounts { Input = usage.InputTokenCount ?? 0, CacheWrite1h = write1h, Output = usage.OutputTokenCount ?? 0 };
    }

    private static string Text(long tokens) => string.Concat(Enumerable.Repeat(" ok", (int)Math.Max(1, tokens)));
}
