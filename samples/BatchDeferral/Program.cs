using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using CostAware;
using CostAware.Samples;
using CostAware.Samples.BatchDeferral;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI;

// A nightly job: it works through yesterday's backlog of questions, marks every call deferrable, and lets CostAware
// send them to the OpenAI batch API at half price. The calls wait in a durable queue (a SQLite file), go out as one
// batch, and each caller gets its answer back with a receipt at batch prices. Offline by default: a local replay of
// the batch API answers with recorded GPT-4 answers. OPENAI_API_KEY=... runs it against the real batch API (which
// can take minutes to hours).
int count = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out int n) ? n : 12;
string? key = Environment.GetEnvironmentVariable("OPENAI_API_KEY");
await using LocalBatchApi? local = string.IsNullOrEmpty(key) ? await LocalBatchApi.StartAsync() : null;
OpenAIClient openai = local is null
    ? new OpenAIClient(new ApiKeyCredential(key!))
    : new OpenAIClient(new ApiKeyCredential("offline"), new OpenAIClientOptions { Endpoint = local.Endpoint });
string model = local is null ? Environment.GetEnvironmentVariable("OPENAI_MODEL") ?? "gpt-4o-mini" : SampleBackend.StrongModel;
Console.WriteLine(local is null ? $"Backend: the OpenAI batch API, model {model}" : $"Backend: local replay of the OpenAI batch API (recorded {model} answers; no API key, no network)");

string queue = Path.Combine(Path.GetTempPath(), "costaware-sample-deferred.db");
HostApplicationBuilder builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Services.AddCostAware()
    .AddCostAwareBatching(o =>
    {
        o.QueuePath = queue;
        o.MaxWait = TimeSpan.FromSeconds(1);                           // collect the job's calls into one batch
        o.PollInterval = TimeSpan.FromMilliseconds(local is null ? 30_000 : 250);
    })
    .AddCostAwareOpenAIBatches(openai);
builder.Services.AddChatClient(openai.GetChatClient(model).AsIChatClient())
    .UseBatchDeferral()                                                // deferrable calls go to the batch API
    .UseTokenMetering();                                               // everything else is metered as usual
using IHost host = builder.Build();
await host.StartAsync();
IChatClient chat = host.Services.GetRequiredService<IChatClient>();

IReadOnlyList<string> backlog = [.. RecordedAnswer.Load().Select(r => r.Question).Take(count)];
Console.WriteLine($"Nightly job: {backlog.Count} questions, every call deferrable (no deadline).");
Stopwatch clock = Stopwatch.StartNew();
ChatResponse[] answers = await Task.WhenAll(backlog.Select(question => chat.GetResponseAsync(
    [new ChatMessage(ChatRole.System, "Solve the question, then summarise the solution in two sentences."), new ChatMessage(ChatRole.User, question)],
    new ChatOptions { ModelId = model, MaxOutputTokens = 400 }
        .WithDeferral(Deferral.Unbounded)
        .WithCostScope(new CostScope { Tenant = "acme", Feature = "nightly-report" }))));
clock.Stop();

decimal batch = 0m, synchronous = 0m;
for (int i = 0; i < answers.Length; i++)
{
    CostReceiptEntry entry = answers[i].GetCostReceipt()!.Entries.Single();
    batch += entry.Cost!.Value.Total;
    synchronous += entry.Cost!.Value.Total + (entry.CostAvoided ?? 0m);          // the receipt says what the batch saved
    if (i < 3)
    {
        Console.WriteLine($"  {Shorten(backlog[i], 60),-60} -> {Shorten(answers[i].Text, 40),-40} {entry.Tokens.Input,5} in {entry.Tokens.Output,4} out  ${entry.Cost!.Value.Total:0.00000} (batch)");
    }
}

Console.WriteLine($"  ... {answers.Length} answers in {clock.Elapsed.TotalSeconds:0.0} s, one batch.");
Console.WriteLine($"Spent ${batch:0.0000} at batch prices; the same calls synchronously: ${synchronous:0.0000}. Saved ${synchronous - batch:0.0000} ({(synchronous == 0 ? 0 : (synchronous - batch) / synchronous):P0}).");
await host.StopAsync();
File.Delete(queue);
File.Delete(queue + "-wal");
File.Delete(queue + "-shm");

static string Shorten(string text, int length)
{
    string flat = text.ReplaceLineEndings(" ");
    return flat.Length <= length ? flat : flat[..(length - 1)] + "…";
}
