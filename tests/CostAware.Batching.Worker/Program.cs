using System.ClientModel;
using System.Globalization;
using CostAware;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI;

// Usage: worker submit <queue> <openai-endpoint> <count>   accept <count> deferred calls (by ticket), print
//                                                          "accepted <ticket>" for each, then run until killed
//        worker resume <queue> <openai-endpoint> <count>   run the scheduler until <count> results were handled,
//                                                          printing "result <ticket> <text> <cost>", then "billed <n>"
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: worker submit|resume <queue> <openai-endpoint> <count>");
    return 2;
}

string mode = args[0];
int count = int.Parse(args[3], CultureInfo.InvariantCulture);
int handled = 0;
TaskCompletionSource allHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);
object gate = new();

HostApplicationBuilder builder = Host.CreateApplicationBuilder();
// The scheduler's log goes to stderr (stdout carries the protocol the test reads), so a failed run says what happened.
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("CostAware", LogLevel.Debug);
builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
OpenAIClient openai = new(new ApiKeyCredential("sk-worker"), new OpenAIClientOptions { Endpoint = new Uri(args[2]) });
builder.Services.AddCostAware()
    .AddCostAwareBatching(o =>
    {
        o.QueuePath = args[1];
        o.MaxWait = TimeSpan.Zero;
        o.PollInterval = TimeSpan.FromMilliseconds(50);
        o.MaxPollInterval = TimeSpan.FromMilliseconds(200);
        o.OnResult = a =>
        {
            lock (gate)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result {a.Ticket} {a.Response?.Text} {a.Response?.GetCostReceipt()?.Spent}"));
                if (++handled == count)
                {
                    allHandled.TrySetResult();
                }
            }

            return ValueTask.CompletedTask;
        };
    })
    .AddCostAwareOpenAIBatches(openai);
builder.Services.AddChatClient(openai.GetChatClient("gpt-4o-mini").AsIChatClient()).UseBatchDeferral().UseTokenMetering();
using IHost host = builder.Build();
IChatClient chat = host.Services.GetRequiredService<IChatClient>();

if (mode == "submit")
{
    // Every call is accepted (queued durably) before the scheduler starts, so that they all go into one batch.
    for (int i = 0; i < count; i++)
    {
        ChatOptions options = new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 50 }
            .WithDeferral(new Deferral { Delivery = DeferralDelivery.Ticket })
            .WithCostScope(new CostScope { Tenant = "acme" });
        ChatResponse accepted = await chat.GetResponseAsync($"question {i}", options);
        Console.Out.WriteLine($"accepted {accepted.AdditionalProperties![CostAwareProperties.BatchTicket]}");
    }

    await host.StartAsync();
    Console.Out.WriteLine("waiting");
    await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System);
    return 0;
}

await host.StartAsync();

await allHandled.Task.WaitAsync(TimeSpan.FromSeconds(60), TimeProvider.System);

// A result is billed when its delivery is recorded, just after the handler returns: wait for the last one.
ICostLedger ledger = host.Services.GetRequiredService<ICostLedger>();
int billed = 0;
for (int i = 0; i < 100 && (billed = (await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Count) < count; i++)
{
    await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
}

// Another second of passes: nothing may be delivered or billed again.
await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System);
billed = (await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Count;
Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"billed {billed}"));
await host.StopAsync();
return 0;
