using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CostAware.Batching.Tests;

// The OpenAI Files and Batch protocol on loopback Kestrel, and nothing more: file upload (multipart, purpose=batch,
// JSONL checked line by line), file content, batch create/retrieve/cancel. The test drives each batch's status and
// writes its output and error files; the official SDK talks to it as to the real API.
internal sealed class OpenAIBatchStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _next;
    private bool _failPolls;

    private OpenAIBatchStandIn(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    public ConcurrentDictionary<string, byte[]> Files { get; } = new();

    public ConcurrentDictionary<string, JsonObject> Batches { get; } = new();

    public ConcurrentQueue<string> Problems { get; } = new();

    public int BatchCreates;

    // The next this many requests are answered 503, as an overloaded API would.
    public int FailNext;

    // The next this many batch creates create the batch and then answer 500: the answer is lost, the batch exists.
    public int CreateThenFail;

    // Every batch status request is answered 500 while this is set; Polls counts them either way.
    public bool FailPolls
    {
        get => Volatile.Read(ref _failPolls);
        set => Volatile.Write(ref _failPolls, value);
    }

    public int Polls;

    public static async Task<OpenAIBatchStandIn> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        OpenAIBatchStandIn server = new(app);
        server.Map(app);
        await app.StartAsync();
        server.Endpoint = new Uri(app.Urls.First() + "/v1");
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    // Moves a batch to a status, optionally with output and error files (JSONL lines).
    public void SetStatus(string batchId, string status, IEnumerable<string>? output = null, IEnumerable<string>? errors = null)
    {
        JsonObject batch = Batches[batchId];
        batch["status"] = status;
        if (output is not null)
        {
            string id = NewId("file");
            Files[id] = Encoding.UTF8.GetBytes(string.Join('\n', output) + "\n");
            batch["output_file_id"] = id;
        }

        if (errors is not null)
        {
            string id = NewId("file");
            Files[id] = Encoding.UTF8.GetBytes(string.Join('\n', errors) + "\n");
            batch["error_file_id"] = id;
        }
    }

    // Completes a batch: every input line answered with a chat.completion whose text is produced from its question.
    // Without usage, the completions carry no usage block (some gateways and replays leave it out).
    public void CompleteAll(string batchId, Func<string, string> answer, int inputTokens = 20, int outputTokens = 5, bool withUsage = true)
    {
        List<string> output = [];
        bool responses = Batches[batchId]["endpoint"]!.GetValue<string>() == "/v1/responses";
        foreach (JsonObject line in InputLines(batchId))
        {
            if (responses)
            {
                string asked = LastText(line["body"]!["input"]!);
                JsonObject response = new()
                {
                    ["id"] = "resp_" + line["custom_id"]!.GetValue<string>(),
                    ["object"] = "response",
                    ["created_at"] = 1_764_000_000,
                    ["status"] = "completed",
                    ["model"] = line["body"]!["model"]!.DeepClone(),
                    ["output"] = new JsonArray(new JsonObject
                    {
                        ["type"] = "message", ["id"] = "msg_1", ["status"] = "completed", ["role"] = "assistant",
                        ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = answer(asked), ["annotations"] = new JsonArray() }),
                    }),
                    ["parallel_tool_calls"] = true,
                    ["tool_choice"] = "auto",
                    ["tools"] = new JsonArray(),
                    ["usage"] = new JsonObject
                    {
                        ["input_tokens"] = inputTokens, ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
                        ["output_tokens"] = outputTokens, ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
                        ["total_tokens"] = inputTokens + outputTokens,
                    },
                };
                output.Add(new JsonObject { ["custom_id"] = line["custom_id"]!.DeepClone(), ["response"] = new JsonObject { ["status_code"] = 200, ["body"] = response } }.ToJsonString());
                continue;
            }

            string question = line["body"]!["messages"]!.AsArray().Last()!["content"]!.GetValue<string>();
            JsonObject completion = new()
            {
                ["id"] = "chatcmpl-" + line["custom_id"]!.GetValue<string>(),
                ["object"] = "chat.completion",
                ["created"] = 1_764_000_000,
                ["model"] = line["body"]!["model"]!.GetValue<string>(),
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = answer(question) }, ["finish_reason"] = "stop" }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = inputTokens, ["completion_tokens"] = outputTokens, ["total_tokens"] = inputTokens + outputTokens },
            };
            if (!withUsage)
            {
                _ = completion.Remove("usage");
            }

            output.Add(new JsonObject { ["id"] = "r-" + line["custom_id"]!.GetValue<string>(), ["custom_id"] = line["custom_id"]!.DeepClone(), ["response"] = new JsonObject { ["status_code"] = 200, ["body"] = completion }, ["error"] = null }.ToJsonString());
        }

        SetStatus(batchId, "completed", output);
    }

    // The last text anywhere in a request's input (a string, or messages with text parts).
    private static string LastText(JsonNode node) => node switch
    {
        JsonValue value when value.TryGetValue(out string? text) => text,
        JsonArray array => array.Select(static n => n is null ? null : LastText(n)).LastOrDefault(static t => t is { Length: > 0 }) ?? string.Empty,
        JsonObject obj => obj["text"] is JsonValue t ? t.GetValue<string>() : obj["content"] is { } c ? LastText(c) : string.Empty,
        _ => string.Empty,
    };

    // The JSONL lines a batch was created with.
    public IReadOnlyList<JsonObject> InputLines(string batchId) =>
        [.. Encoding.UTF8.GetString(Files[Batches[batchId]["input_file_id"]!.GetValue<string>()])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(static l => JsonNode.Parse(l)!.AsObject())];

    private string NewId(string prefix) => $"{prefix}_{Interlocked.Increment(ref _next):D6}";

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (Interlocked.Decrement(ref FailNext) >= 0)
            {
                context.Response.StatusCode = 503;
                await context.Response.WriteAsync("""{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}""");
                return;
            }

            _ = Interlocked.Exchange(ref FailNext, Math.Max(FailNext, 0));
            await next(context);
        });

        app.MapPost("/v1/files", async (HttpRequest request) =>
        {
            IFormCollection form = await request.ReadFormAsync();
            if (form["purpose"] != "batch" || form.Files.Count != 1)
            {
                Problems.Enqueue($"upload: purpose '{form["purpose"]}', {form.Files.Count} files");
                return Results.BadRequest();
            }

            using MemoryStream content = new();
            await form.Files[0].CopyToAsync(content);
            byte[] bytes = content.ToArray();
            HashSet<string> ids = [];
            foreach (string line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                JsonObject parsed = JsonNode.Parse(line)!.AsObject();
                string? customId = parsed["custom_id"]?.GetValue<string>();
                if (customId is null || !ids.Add(customId) || parsed["method"]?.GetValue<string>() != "POST" || parsed["body"] is not JsonObject)
                {
                    Problems.Enqueue($"upload: bad line {line}");
                    return Results.BadRequest();
                }
            }

            string id = NewId("file");
            Files[id] = bytes;
            return Results.Json(new { id, @object = "file", bytes = bytes.Length, created_at = 1_764_000_000, filename = form.Files[0].FileName, purpose = "batch", status = "processed" });
        });

        app.MapGet("/v1/files/{id}/content", (string id) =>
            Files.TryGetValue(id, out byte[]? bytes) ? Results.Bytes(bytes, "application/octet-stream") : Results.NotFound());

        app.MapPost("/v1/batches", async (HttpRequest request) =>
        {
            JsonObject body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
            string? file = body["input_file_id"]?.GetValue<string>();
            string? endpoint = body["endpoint"]?.GetValue<string>();
            if (file is null || !Files.TryGetValue(file, out byte[]? input) || endpoint is not ("/v1/chat/completions" or "/v1/responses") || body["completion_window"]?.GetValue<string>() != "24h")
            {
                Problems.Enqueue($"create: {body.ToJsonString()}");
                return Results.BadRequest();
            }

            foreach (string line in Encoding.UTF8.GetString(input).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (JsonNode.Parse(line)!["url"]?.GetValue<string>() != endpoint)
                {
                    Problems.Enqueue($"create: a line's url is not the batch endpoint: {line}");
                    return Results.BadRequest();
                }
            }

            _ = Interlocked.Increment(ref BatchCreates);
            string id = NewId("batch");
            JsonObject batch = new()
            {
                ["id"] = id,
                ["object"] = "batch",
                ["endpoint"] = endpoint,
                ["input_file_id"] = file,
                ["completion_window"] = "24h",
                ["status"] = "validating",
                ["created_at"] = 1_764_000_000,
                ["output_file_id"] = null,
                ["error_file_id"] = null,
                ["metadata"] = body["metadata"]?.DeepClone(),
                ["request_counts"] = new JsonObject { ["total"] = 0, ["completed"] = 0, ["failed"] = 0 },
            };
            Batches[id] = batch;
            if (Interlocked.Decrement(ref CreateThenFail) >= 0)
            {
                return Results.Text("""{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}""", "application/json", statusCode: 500);
            }

            _ = Interlocked.Exchange(ref CreateThenFail, Math.Max(CreateThenFail, 0));
            return Results.Text(batch.ToJsonString(), "application/json");
        });

        app.MapGet("/v1/batches", () =>
        {
            JsonArray data = [.. Batches.Values.OrderByDescending(static b => b["id"]!.GetValue<string>(), StringComparer.Ordinal).Select(static b => (JsonNode)b.DeepClone())];
            JsonObject page = new() { ["object"] = "list", ["data"] = data, ["has_more"] = false };
            return Results.Text(page.ToJsonString(), "application/json");
        });

        app.MapGet("/v1/batches/{id}", (string id) =>
        {
            _ = Interlocked.Increment(ref Polls);
            if (FailPolls)
            {
                return Results.Text("""{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}""", "application/json", statusCode: 500);
            }

            return Batches.TryGetValue(id, out JsonObject? batch) ? Results.Text(batch.ToJsonString(), "application/json") : Results.NotFound();
        });

        app.MapPost("/v1/batches/{id}/cancel", (string id) =>
        {
            if (!Batches.TryGetValue(id, out JsonObject? batch))
            {
                return Results.NotFound();
            }

            batch["status"] = "cancelling";
            return Results.Text(batch.ToJsonString(), "application/json");
        });
    }
}
