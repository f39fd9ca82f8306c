using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CostAware.Batching.Tests;

// Anthropic's Message Batches protocol on loopback Kestrel, and nothing more: create (inline requests, checked),
// retrieve, list, cancel, and the results JSONL at results_url. The test drives each batch to "ended" with results.
internal sealed class AnthropicBatchStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _next;

    private AnthropicBatchStandIn(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = null!;

    public ConcurrentDictionary<string, JsonObject> Batches { get; } = new();

    public ConcurrentDictionary<string, JsonArray> Requests { get; } = new();

    public ConcurrentDictionary<string, string> ResultFiles { get; } = new();

    public ConcurrentQueue<string> Problems { get; } = new();

    public static async Task<AnthropicBatchStandIn> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        AnthropicBatchStandIn server = new(app);
        server.Map(app);
        await app.StartAsync();
        server.BaseUrl = app.Urls.First();
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    // Ends a batch: each request answered by the function (null: errored), in reverse order (no guaranteed order).
    public void End(string batchId, Func<string, string?> answer)
    {
        List<string> lines = [];
        int succeeded = 0, errored = 0;
        foreach (JsonNode? request in Requests[batchId].Reverse())
        {
            string customId = request!["custom_id"]!.GetValue<string>();
            string question = request["params"]!["messages"]!.AsArray().Last()!["content"] is JsonArray parts
                ? parts.Last()!["text"]!.GetValue<string>()
                : request["params"]!["messages"]!.AsArray().Last()!["content"]!.GetValue<string>();
            string? text = answer(question);
            JsonObject result = text is null
                ? new JsonObject { ["type"] = "errored", ["error"] = new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = "invalid_request_error", ["message"] = "max_tokens: too large" } } }
                : new JsonObject
                {
                    ["type"] = "succeeded",
                    ["message"] = new JsonObject
                    {
                        ["id"] = "msg_" + customId,
                        ["type"] = "message",
                        ["role"] = "assistant",
                        ["model"] = request["params"]!["model"]!.DeepClone(),
                        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
                        ["stop_reason"] = "end_turn",
                        ["stop_sequence"] = null,
                        ["usage"] = new JsonObject { ["input_tokens"] = 1_000, ["output_tokens"] = 500, ["service_tier"] = "batch" },
                    },
                };
            _ = text is null ? errored++ : succeeded++;
            lines.Add(new JsonObject { ["custom_id"] = customId, ["result"] = result }.ToJsonString());
        }

        ResultFiles[batchId] = string.Join('\n', lines) + "\n";
        JsonObject batch = Batches[batchId];
        batch["processing_status"] = "ended";
        batch["ended_at"] = "2026-11-24T03:00:00Z";
        batch["results_url"] = $"{BaseUrl}/v1/messages/batches/{batchId}/results";
        batch["request_counts"] = new JsonObject { ["processing"] = 0, ["succeeded"] = succeeded, ["errored"] = errored, ["canceled"] = 0, ["expired"] = 0 };
    }

    private void Map(WebApplication app)
    {
        app.MapPost("/v1/messages/batches", async (HttpRequest request) =>
        {
            if (request.Headers["anthropic-version"].Count == 0 || (request.Headers["x-api-key"].Count == 0 && request.Headers.Authorization.Count == 0))
            {
                Problems.Enqueue("create: missing anthropic-version or credentials");
            }

            JsonObject body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
            JsonArray? requests = body["requests"] as JsonArray;
            HashSet<string> ids = [];
            foreach (JsonNode? item in requests ?? [])
            {
                JsonNode? parameters = item?["params"];
                if (item?["custom_id"]?.GetValue<string>() is not { } id || !ids.Add(id) || parameters?["model"] is null || parameters["max_tokens"] is null
                    || parameters["messages"] is not JsonArray || parameters["stream"] is not null)
                {
                    Problems.Enqueue($"create: bad request {item?.ToJsonString()}");
                    return Results.BadRequest();
                }
            }

            if (requests is null || requests.Count == 0)
            {
                Problems.Enqueue("create: no requests");
                return Results.BadRequest();
            }

            string batchId = $"msgbatch_{Interlocked.Increment(ref _next):D6}";
            Requests[batchId] = (JsonArray)requests.DeepClone();
            JsonObject batch = new()
            {
                ["id"] = batchId,
                ["type"] = "message_batch",
                ["processing_status"] = "in_progress",
                ["request_counts"] = new JsonObject { ["processing"] = requests.Count, ["succeeded"] = 0, ["errored"] = 0, ["canceled"] = 0, ["expired"] = 0 },
                ["created_at"] = "2026-11-24T02:00:00Z",
                ["expires_at"] = "2026-11-25T02:00:00Z",
                ["ended_at"] = null,
                ["cancel_initiated_at"] = null,
                ["archived_at"] = null,
                ["results_url"] = null,
            };
            Batches[batchId] = batch;
            return Results.Text(batch.ToJsonString(), "application/json");
        });

        app.MapGet("/v1/messages/batches", () =>
        {
            JsonArray data = [.. Batches.Values.Select(static b => (JsonNode)b.DeepClone())];
            return Results.Text(new JsonObject { ["data"] = data, ["has_more"] = false, ["first_id"] = null, ["last_id"] = null }.ToJsonString(), "application/json");
        });

        app.MapGet("/v1/messages/batches/{id}", (string id) =>
            Batches.TryGetValue(id, out JsonObject? batch) ? Results.Text(batch.ToJsonString(), "application/json") : Results.NotFound());

        app.MapGet("/v1/messages/batches/{id}/results", (string id) =>
            ResultFiles.TryGetValue(id, out string? jsonl) ? Results.Text(jsonl, "application/binary") : Results.NotFound());

        app.MapPost("/v1/messages/batches/{id}/cancel", (string id) =>
        {
            if (!Batches.TryGetValue(id, out JsonObject? batch))
            {
                return Results.NotFound();
            }

            batch["processing_status"] = "canceling";
            return Results.Text(batch.ToJsonString(), "application/json");
        });
    }
}
