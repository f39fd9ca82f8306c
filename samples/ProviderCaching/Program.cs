using System.Globalization;
using CostAware;
using CostAware.Samples.ProviderCaching;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

// CostAware provider prompt caching: an agent works through tasks, resending its whole context every step, against a
// model of Anthropic's prompt cache (in process: no API key, no server). The same steps run without caching, with the
// common static recipe (mark the system message and the last message on every call), and with UseAnthropicPromptCaching(),
// which marks only what the traffic shows will be read back. Then prompts that never recur, where static marking pays the
// write premium for nothing. Last, a timestamp at the start of a long system prompt: the stage warns that it breaks every
// cache.
const string Model = "claude-sonnet-4-5";
string rules = string.Join(' ', Enumerable.Range(0, 1800).Select(i => $"rule{i % 61}"));

Console.WriteLine("An agent: 6 tasks, 10 steps each, a step every 15 seconds, a 1,800-word system prompt.");
await CompareAsync(step => AgentStep(step));
Console.WriteLine();
Console.WriteLine("Prompts that never recur: a fresh 2,000-word document in each of 60 system prompts.");
await CompareAsync(step => step < 60 ? [new(ChatRole.System, Document(step)), new(ChatRole.User, "Summarise it.")] : null);
Console.WriteLine();
Console.WriteLine("A cache breaker: the current time at the start of a long system prompt.");
using ILoggerFactory logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
ReplayClock breakerClock = new();
using IChatClient breaking = new AnthropicCacheModel(breakerClock, Model).AsBuilder()
    .UseAnthropicPromptCaching()
    .UseTokenMetering()
    .Build(new LoggerServiceProvider(logging));
for (int i = 0; i < 3; i++)
{
    breakerClock.Now = breakerClock.Now.AddMinutes(1);
    _ = await breaking.GetResponseAsync([new(ChatRole.System, $"Now: {breakerClock.Now:O}. {rules}"), new(ChatRole.User, "Hello.")], new ChatOptions { ModelId = Model });
}


List<ChatMessage>? AgentStep(int step)
{
    int task = step / 10, turn = step % 10;
    if (task == 6)
    {
        return null;
    }

    List<ChatMessage> context = [new(ChatRole.System, "You are a coding agent. " + rules), new(ChatRole.User, $"Task {task}: fix the failing build.")];
    for (int t = 1; t <= turn; t++)
    {
        context.Add(new ChatMessage(ChatRole.Assistant, $"Step {t} of task {task}: running the tests."));
        context.Add(new ChatMessage(ChatRole.User, string.Join(' ', Enumerable.Range(0, 300).Select(i => $"log{task}.{t}.{i % 37}"))));
    }

    return context;
}

string Document(int n) => string.Join(' ', Enumerable.Range(0, 2000).Select(i => $"doc{n}.{i % 53}"));

async Task CompareAsync(Func<int, List<ChatMessage>?> steps)
{
    decimal none = (await RunAsync(steps, Policy.None)).Input;
    decimal marked = (await RunAsync(steps, Policy.Static)).Input;
    (decimal placed, decimal saved, long read, long written) = await RunAsync(steps, Policy.CostAware);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  input cost without caching     ${none:0.0000}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  static marks on every call     ${marked:0.0000} ({(marked - none) / none:+0%;-0%;0%})"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  UseAnthropicPromptCaching()    ${placed:0.0000} ({(placed - none) / none:+0%;-0%;0%})"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    its receipts: the provider cache saved ${saved:0.0000}; {read:N0} tokens read from it, {written:N0} written"));
}

async Task<(decimal Input, decimal Saved, long Read, long Written)> RunAsync(Func<int, List<ChatMessage>?> steps, Policy policy)
{
    ReplayClock clock = new();
    AnthropicCacheModel provider = new(clock, Model);
    ChatClientBuilder builder = provider.AsBuilder();
    if (policy == Policy.CostAware)
    {
        builder = builder.Use(inner => new ProviderPromptCachingChatClient(inner, AnthropicPromptCacheHints.Instance, timeProvider: clock));
    }

    using IChatClient client = builder.Use(inner => new TokenMeteringChatClient(inner, timeProvider: clock)).Build();
    decimal input = 0m, saved = 0m;
    for (int step = 0; steps(step) is { } messages; step++)
    {
        clock.Now = clock.Now.AddSeconds(15);
        if (policy == Policy.Static)
        {
            messages[0] = new ChatMessage(messages[0].Role, [AnthropicPromptCacheHints.Instance.MarkBreakpoint(messages[0].Contents[0], TimeSpan.FromMinutes(5))!]);
            messages[^1] = new ChatMessage(messages[^1].Role, [AnthropicPromptCacheHints.Instance.MarkBreakpoint(messages[^1].Contents[0], TimeSpan.FromMinutes(5))!]);
        }

        ChatResponse response = await client.GetResponseAsync(messages, new ChatOptions { ModelId = Model });
        CostReceipt receipt = response.GetCostReceipt()!;
        CostBreakdown cost = receipt.Entries[0].Cost!.Value;
        input += cost.Input + cost.CachedInput + cost.CacheWrite;
        saved += receipt.ProviderCacheSaved;
    }

    return (input, saved, provider.Read, provider.Written);
}

internal enum Policy
{
    None,
    Static,
    CostAware,
}

// The replay's clock: steps are apart in simulated time, not in real time.
internal sealed class ReplayClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}

// Gives the pipeline's stages the console logger.
internal sealed class LoggerServiceProvider(ILoggerFactory loggerFactory) : IServiceProvider
{
    public object? GetService(Type serviceType) => serviceType == typeof(ILoggerFactory) ? loggerFactory : null;
}
