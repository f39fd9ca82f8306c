using System.Globalization;
using CostAware;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

// Usage: worker <redis> <instance-name> <callers> <calls-per-caller> <limit>
// Runs that many concurrent callers through UseBudget() on a Redis budget shared with other processes, and prints
// one line per call: "ok <spent>" or "refused <spent> <reserved> <requested> <limit>", then "done".
if (args.Length != 5)
{
    Console.Error.WriteLine("usage: worker <redis> <instance-name> <callers> <calls-per-caller> <limit>");
    return 2;
}

string redis = args[0];
string instance = args[1];
int callers = int.Parse(args[2], CultureInfo.InvariantCulture);
int callsPerCaller = int.Parse(args[3], CultureInfo.InvariantCulture);
decimal limit = decimal.Parse(args[4], CultureInfo.InvariantCulture);

ServiceCollection services = new();
_ = services.AddCostAware(o => o.Budget.Budgets["shared"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Window = BudgetWindow.Lifetime, Limit = limit });
_ = services.AddCostAwareRedis(o =>
{
    o.Configuration = redis;
    o.InstanceName = instance;
});
_ = services.AddChatClient(new RandomCostClient()).UseBudget().UseTokenMetering();
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient client = provider.GetRequiredService<IChatClient>();

object gate = new();
await Parallel.ForEachAsync(Enumerable.Range(0, callers), new ParallelOptions { MaxDegreeOfParallelism = callers }, async (i, ct) =>
{
    for (int k = 0; k < callsPerCaller; k++)
    {
        ChatOptions options = new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 100 + (7 * i) }.WithCostScope(new CostScope { Tenant = "shared" });
        string line;
        try
        {
            ChatResponse response = await client.GetResponseAsync("q", options, ct);
            line = string.Create(CultureInfo.InvariantCulture, $"ok {response.GetCostReceipt()!.Spent}");
        }
        catch (BudgetExceededException ex)
        {
            line = string.Create(CultureInfo.InvariantCulture, $"refused {ex.Spent} {ex.Reserved} {ex.Requested} {ex.Limit}");
        }

        lock (gate)
        {
            Console.Out.WriteLine(line);
        }
    }
});

Console.Out.WriteLine("done");
return 0;

// A provider whose answers cost a random amount within what the call reserved: at most 7 input tokens (the estimate
// of "q" before its margin) and at most the call's output limit.
internal sealed class RandomCostClient : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 3)), TimeProvider.System, cancellationToken);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            ModelId = "gpt-4o-mini",
            Usage = new UsageDetails { InputTokenCount = Random.Shared.Next(0, 8), OutputTokenCount = Random.Shared.Next(0, options!.MaxOutputTokens!.Value + 1) },
        };
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
