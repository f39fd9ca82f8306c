using System.Globalization;
using System.Numerics.Tensors;
using CostAware;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// CostAware local backend: a model folder exported by ONNX Runtime GenAI's model builder or by Optimum runs in process,
// on CUDA when the GPU runtime is referenced and on the CPU otherwise, behind the same pipeline as a remote provider.
// Its cost is metered like any provider's: an hourly hardware cost spread over the throughput measured on a warm-up.
//
//   dotnet run --project samples/LocalModel -- <chat-model-folder> ["prompt"] [--cost-per-hour 0.40] [--cuda] [--embed <embedding-model-folder>]
if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
{
    Console.Error.WriteLine("usage: LocalModel <chat-model-folder> [\"prompt\"] [--cost-per-hour <usd>] [--cuda] [--embed <embedding-model-folder>]");
    Console.Error.WriteLine("A chat model folder holds genai_config.json or config.json, the .onnx file and its tokenizer (for example Qwen2.5-0.5B-Instruct exported by the model builder).");
    return 2;
}

string folder = args[0];
string prompt = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : "In one sentence: why do people cache LLM answers?";
decimal costPerHour = Option("--cost-per-hour") is { } cost ? decimal.Parse(cost, CultureInfo.InvariantCulture) : 0.40m;
OnnxDevice device = args.Contains("--cuda") ? OnnxDevice.Cuda : OnnxDevice.Auto;
using ILoggerFactory logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));

// Load the model and measure it once, to price its tokens.
using OnnxChatClient local = new(new OnnxChatClientOptions { ModelPath = folder, Device = device }, logging);
_ = await local.GetResponseAsync("Say hello.", new ChatOptions { MaxOutputTokens = 32 });
ModelPriceOptions price = local.Throughput.ToPrice(costPerHour);
Console.WriteLine($"{local.ModelId} on {local.Device}: {local.Throughput.PromptTokensPerSecond:F0} prompt tokens/s, {local.Throughput.OutputTokensPerSecond:F1} answer tokens/s");
Console.WriteLine($"At ${costPerHour}/hour: ${price.Input}/M input, ${price.Output}/M output tokens");

ServiceCollection services = new();
services.AddSingleton(logging);
services.AddCostAware(o => o.Prices[local.ModelId] = price);
services.AddChatClient(local).UsePromptCache().UseTokenMetering();
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();

// Streamed token by token; the last update carries the receipt.
Console.WriteLine();
Console.WriteLine($"> {prompt}");
List<ChatResponseUpdate> updates = [];
await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 256 }))
{
    Console.Write(update.Text);
    updates.Add(update);
}

Console.WriteLine();
ChatResponse answer = updates.ToChatResponse();
CostReceipt? receipt = updates.Select(u => u.GetCostReceipt()).LastOrDefault(r => r is not null);
Console.WriteLine($"[{answer.Usage?.InputTokenCount} in, {answer.Usage?.OutputTokenCount} out, {answer.FinishReason}; cost ${receipt?.Spent:0.000000}]");

ChatResponse again = await chat.GetResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 256 });
Console.WriteLine($"Asked again: served from the prompt cache, cost ${again.GetCostReceipt()?.Spent:0.000000}");

if (Option("--embed") is { } embedFolder)
{
    using OnnxEmbeddingGenerator embedder = new(new OnnxEmbeddingGeneratorOptions { ModelPath = embedFolder, Device = device }, logging);
    string[] texts = ["How do I reset my password?", "I forgot my password, how can I change it?", "What is the capital of France?"];
    GeneratedEmbeddings<Embedding<float>> vectors = await embedder.GenerateAsync(texts);
    Console.WriteLine();
    Console.WriteLine($"{embedder.ModelId} on {embedder.Device}, {embedder.Dimensions} dimensions:");
    for (int i = 1; i < texts.Length; i++)
    {
        Console.WriteLine($"  cosine(\"{texts[0]}\", \"{texts[i]}\") = {TensorPrimitives.CosineSimilarity(vectors[0].Vector.Span, vectors[i].Vector.Span):F3}");
    }
}

return 0;

string? Option(string name)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
