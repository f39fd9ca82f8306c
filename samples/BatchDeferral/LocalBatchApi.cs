using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using CostAware;
using CostAware.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CostAware.Samples.BatchDeferral;

// Offline only: the OpenAI files and batch endpoints on loopback, answering each request of a batch with the recorded
// GPT-4 answer to its question (../shared/data/cascade/gsm8k_responses.csv), token usage counted with the model's
// tokenizer. A batch completes a second after it is created. With OPENAI_API_KEY set the sample uses the real API.
internal sealed class LocalBatchApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, string> _answers;
    private readonly ConcurrentDictionary<string, byte[]> _files = new();
    private readonly ConcurrentDictionary<string, JsonObject> _batches = new();
    private int _next;

    private LocalBatchApi(WebApplication app, IReadOnlyList<RecordedAnswer> recorded)
    {
        _app = app;
        _answers = recorded.DistinctBy(r => r.Question).ToDictionary(r => r.Question, r => r.StrongAnswer);
    }

    public Uri Endpoint { get; private set; } = null!;

    public static async Task<LocalBatchApi> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        LocalBatchApi api = new(app, RecordedAnswer.Load());
        api.Map(app);
        await app.StartAsync();
        api.Endpoint = new Uri(app.Urls.First() + "/v1");
        return api;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private string Id(string prefix) => $"{prefix}_{Interlocked.Increment(ref _next):D4}";

    private void Map(WebApplication app)
    {
        app.MapPost("/v1/files", async (HttpRequest request) =>
        {
            IFormCollection form = await request.ReadFormAsync();
            using MemoryStream content = new();
            await form.Files[0].CopyToAsync(content);
            string id = Id("file");
            _files[id] = content.ToArray();
            return Results.Json(new { id, @object = "file", bytes = content.Length, created_at = 0, filename = form.Files[0].FileName, purpose = "batch", status = "processed" });
        });
        app.MapGet("/v1/files/{id}/content", (string id) => Results.Bytes(_files[id], "application/octet-stream"));
        app.MapPost("/v1/batches", async (HttpRequest request) =>
        {
            JsonObject body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
            string id = Id("batch");
            JsonObject batch = new()
            {
                ["id"] = id, ["object"] = "batch", ["endpoint"] = body["endpoint"]!.DeepClone(), ["input_file_id"] = body["input_file_id"]!.DeepClone(),
                ["completion_window"] = "24h", ["status"] = "in_progress", ["created_at"] = 0, ["metadata"] = body["metadata"]?.DeepClone(),
            };
            _batches[id] = batch;
            _ = CompleteLaterAsync(id);
            return Results.Text(batch.ToJsonString(), "application/json");
        });
        app.MapGet("/v1/batches", () => Results.Text(new JsonObject { ["object"] = "list", ["data"] = new JsonArray([.. _batches.Values.Select(b => (JsonNode)b.DeepClone())]), ["has_more"] = false }.ToJsonString(), "application/json"));
        app.MapGet("/v1/batches/{id}", (string id) => Results.Text(_batches[id].ToJsonString(), "application/json"));
    }

    private async Task CompleteLaterAsync(string batchId)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System);
        JsonObject batch = _batches[batchId];
        StringBuilder output = new();
        foreach (string line in Encoding.UTF8.GetString(_files[batch["input_file_id"]!.GetValue<string>()]).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            JsonObject input = JsonNode.Parse(line)!.AsObject();
            JsonObject requestBody = input["body"]!.AsObject();
            string model = requestBody["model"]!.GetValue<string>();
            string prompt = string.Concat(requestBody["messages"]!.AsArray().Select(m => m!["content"]!.GetValue<string>()));
            string question = requestBody["messages"]!.AsArray().Last()!["content"]!.GetValue<string>();
            string answer = _answers.TryGetValue(question, out string? recorded) ? recorded : "(no recorded answer)";
            int inputTokens = TiktokenTokenEstimator.Default.CountTokens(prompt, model) + 7;
            int outputTokens = TiktokenTokenEstimator.Default.CountTokens(answer, model);
            JsonObject completion = new()
            {
                ["id"] = "chatcmpl-" + input["custom_id"]!.GetValue<string>(), ["object"] = "chat.completion", ["created"] = 0, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = answer }, ["finish_reason"] = "stop" }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = inputTokens, ["completion_tokens"] = outputTokens, ["total_tokens"] = inputTokens + outputTokens },
            };
            output.Append(new JsonObject { ["custom_id"] = input["custom_id"]!.DeepClone(), ["response"] = new JsonObject { ["status_code"] = 200, ["body"] = completion } }.ToJsonString()).Append('\n');
        }

        string fileId = Id("file");
        _files[fileId] = Encoding.UTF8.GetBytes(output.ToString());
        batch["output_file_id"] = fileId;
        batch["status"] = "completed";
    }
}
