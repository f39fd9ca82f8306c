using System.Globalization;
using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// CostAware budgets: every call reserves its worst-case cost before it is made and settles to what it really cost;
// a tenant that runs out of its daily budget is refused before the provider is paid, thresholds raise events on the
// way, and an agent run that loops is stopped after its fifth call. Offline by default (replayed GSM8K answers);
// CostAware__Redis__Configuration=localhost:6379 keeps the budgets in Redis, shared by every process.
IConfiguration configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json")
    .AddEnvironmentVariables()
    .Build();

(IChatClient backend, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
Console.WriteLine($"Backend: {description}");

ServiceCollection services = new();
services.AddCostAware(configuration.GetSection("CostAware"))
        .AddCostAwareRedis(configuration.GetSection("CostAware:Redis"))
        .Configure<CostAwareOptions>(o => o.Budget.OnThresholdCrossed = args =>
        {
            Console.WriteLine($"  ! {args.Status.BudgetName} for {args.Status.ScopeKey} reached {args.Threshold:P0} of {Money(args.Status.Limit)}");
            return ValueTask.CompletedTask;
        });
services.AddChatClient(backend)
        .UseBudget()                 // outermost: reserve before, settle after
        .UseTokenMetering();         // innermost: what each call really cost
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();
BudgetChatClient budgets = chat.GetService<BudgetChatClient>()!;

Console.WriteLine();
Console.WriteLine("Tenant acme asks questions until its $0.05 daily budget has no room for the next one:");
CostScope acme = new() { Tenant = "acme", Feature = "homework-help" };
int asked = 0;
foreach (string question in questions)
{
    ChatOptions options = new ChatOptions { ModelId = SampleBackend.StrongModel, MaxOutputTokens = 300 }.WithCostScope(acme);
    try
    {
        ChatResponse response = await chat.GetResponseAsync(question, options);
        BudgetStatus status = (await budgets.GetStatusAsync(acme)).Single(s => s.BudgetName == "tenant-daily");
        Console.WriteLine($"  call {++asked}: spent {Money(response.GetCostReceipt()!.Spent)}; today {Money(status.Spent)} of {Money(status.Limit)}, {Money(status.Remaining)} left");
    }
    catch (BudgetExceededException refused)
    {
        Console.WriteLine($"  refused: {refused.Message}");
        break;
    }
}

// A stream is refused the same way: the exception comes out of the stream before any update.
ChatOptions streamed = new ChatOptions { ModelId = SampleBackend.StrongModel, MaxOutputTokens = 300 }.WithCostScope(acme);
try
{
    await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync(questions[^1], streamed))
    {
        Console.Write(update.Text);
    }
}
catch (BudgetExceededException refused)
{
    Console.WriteLine($"  streamed call refused too: budget '{refused.BudgetName}'");
}

Console.WriteLine();
Console.WriteLine("An agent run that keeps calling (the agent-run budget allows 5 calls per run):");
CostScope run = new() { Tenant = "globex", Workflow = "nightly-report-run-17", Agent = "summariser" };
for (int step = 1; step <= 10; step++)
{
    try
    {
        ChatOptions options = new ChatOptions { ModelId = SampleBackend.CheapModel, MaxOutputTokens = 200 }.WithCostScope(run);
        _ = await chat.GetResponseAsync(questions[step], options);
        Console.WriteLine($"  step {step}: done");
    }
    catch (BudgetExceededException stopped)
    {
        Console.WriteLine($"  step {step}: stopped. {stopped.Message}");
        break;
    }
}

Console.WriteLine();
Console.WriteLine("Budgets now:");
foreach (CostScope scope in (CostScope[])[acme, run])
{
    foreach (BudgetStatus status in await budgets.GetStatusAsync(scope))
    {
        string limit = status.MaxCalls is { } max ? $"{status.Calls}/{max} calls, " : string.Empty;
        Console.WriteLine($"  {status.BudgetName,-13} {status.ScopeKey,-32} {limit}spent {Money(status.Spent)} of {Money(status.Limit)}, resets {(status.ResetsAt is { } at ? at.ToString("u", CultureInfo.InvariantCulture) : "never")}");
    }
}

static string Money(decimal? amount) => amount is { } value ? value.ToString("$0.0000", CultureInfo.InvariantCulture) : "-";
