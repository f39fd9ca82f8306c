using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Batch;
using OpenAI.Files;

namespace CostAware.Batching.OpenAI.Internal;

// The OpenAI batch protocol through the official SDK: the calls as a JSONL file uploaded with purpose "batch", a batch
// created on it (its metadata names CostAware's own batch id, so that a batch whose creation outlived a crash can be
// found again), its status polled, and its output and error files read back line by line, matched by custom_id.
internal sealed class OpenAIBatchProtocol(OpenAIClient client)
{
    public const string ChatCompletionsEndpoint = "/v1/chat/completions";
    public const string ResponsesEndpoint = "/v1/responses";
    public const int MaxRequests = 50_000;
    public const long MaxBytes = 200L * 1024 * 1024;

    public static byte[] BuildJsonl(string endpoint, IReadOnlyList<DeferredCall> calls)
    {
        using MemoryStream stream = new();
        foreach (DeferredCall call in calls)
        {
            using (Utf8JsonWriter writer = new(stream))
            {
                writer.WriteStartObject();
                writer.WriteString("custom_id", call.Id);
                writer.WriteString("method", "POST");
                writer.WriteString("url", endpoint);
                writer.WritePropertyName("body");
                writer.WriteRawValue(call.Body, skipInputValidation: false);
                writer.WriteEndObject();
            }

            stream.WriteByte((byte)'\n');
        }

        return stream.ToArray();
    }

    public async Task<string> SubmitAsync(string batchId, string endpoint, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken)
    {
        byte[] jsonl = BuildJsonl(endpoint, calls);
        OpenAIFile file = await client.GetOpenAIFileClient()
            .UploadFileAsync(BinaryData.FromBytes(jsonl), $"costaware-{batchId}.jsonl", FileUploadPurpose.Batch).ConfigureAwait(false);
        BinaryData request = BinaryData.FromObjectAsJson(new Dictionary<string, object>
        {
            ["input_file_id"] = file.Id,
            ["endpoint"] = endpoint,
            ["completion_window"] = "24h",
            ["metadata"] = new Dictionary<string, string> { ["costaware_batch"] = batchId },
        });
#pragma warning disable OPENAI001 // The SDK marks its batch client experimental; the wire protocol it speaks is the stable /v1/batches.
        // Never retried by the SDK: a create whose answer was lost may have created the batch, and a second create
        // would bill every call twice. The next scheduler pass looks the batch up by its metadata instead.
        CreateBatchOperation operation = await client.GetBatchClient().CreateBatchAsync(BinaryContent.Create(request), waitUntilCompleted: false, NoRetry.Options(cancellationToken)).ConfigureAwait(false);
#pragma warning restore OPENAI001
        return operation.BatchId;
    }

    public async Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken)
    {
        // GET /batches/{id} through the SDK's own pipeline (its authentication, headers and endpoint), sent once: the
        // scheduler backs off between polls that fail, so the SDK's retries would only multiply the load on an API that
        // is already failing. (Rehydrating an operation would fetch the batch with the SDK's retries on.)
#pragma warning disable OPENAI001
        BatchClient batches = client.GetBatchClient();
        Uri endpoint = batches.Endpoint;
#pragma warning restore OPENAI001
        using PipelineMessage message = batches.Pipeline.CreateMessage();
        message.ResponseClassifier = PipelineMessageClassifier.Create(stackalloc ushort[] { 200 });
        message.Request.Method = "GET";
        message.Request.Uri = new Uri($"{endpoint.AbsoluteUri.TrimEnd('/')}/batches/{Uri.EscapeDataString(providerBatchId)}");
        message.Request.Headers.Set("Accept", "application/json");
        message.Apply(NoRetry.Options(cancellationToken));
        await batches.Pipeline.SendAsync(message).ConfigureAwait(false);
        PipelineResponse response = message.Response!;
        if (response.IsError)
        {
            throw new ClientResultException(response);
        }

        using JsonDocument json = JsonDocument.Parse(response.Content);
        JsonElement root = json.RootElement;
        string status = root.GetProperty("status").GetString() ?? "unknown";
        string? errors = root.TryGetProperty("errors", out JsonElement list) && list.ValueKind == JsonValueKind.Object ? list.GetRawText() : null;
        return new ProviderBatchStatus(
            status,
            status is "completed" or "failed" or "expired" or "cancelled",
            OptionalString(root, "output_file_id"),
            OptionalString(root, "error_file_id"),
            errors);
    }

    // The provider batch created for one of CostAware's batch ids, found by the metadata it was created with: how a
    // batch whose creation outlived a crash is picked up instead of being submitted again.
    public async Task<string?> FindAsync(string batchId, CancellationToken cancellationToken)
    {
#pragma warning disable OPENAI001
        await foreach (ClientResult page in client.GetBatchClient().GetBatchesAsync(after: null, limit: 100, options: null).GetRawPagesAsync().WithCancellation(cancellationToken).ConfigureAwait(false))
#pragma warning restore OPENAI001
        {
            using JsonDocument json = JsonDocument.Parse(page.GetRawResponse().Content);
            foreach (JsonElement batch in json.RootElement.GetProperty("data").EnumerateArray())
            {
                if (batch.TryGetProperty("metadata", out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object
                    && OptionalString(metadata, "costaware_batch") == batchId)
                {
                    return OptionalString(batch, "id");
                }
            }
        }

        return null;
    }

    public async Task CancelAsync(string providerBatchId, CancellationToken cancellationToken)
    {
#pragma warning disable OPENAI001
        CreateBatchOperation operation = await CreateBatchOperation.RehydrateAsync(client.GetBatchClient(), providerBatchId, cancellationToken).ConfigureAwait(false);
        _ = await operation.CancelAsync(options: null).ConfigureAwait(false);
#pragma warning restore OPENAI001
    }

    // Every line of the output and error files. A line that does not parse is returned as malformed rather than
    // failing the whole batch.
    public async Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(ProviderBatchStatus status, CancellationToken cancellationToken)
    {
        List<ProviderLineResult> results = [];
        foreach (string? fileId in (string?[])[status.OutputFileId, status.ErrorFileId])
        {
            if (fileId is null)
            {
                continue;
            }

            BinaryData content = await client.GetOpenAIFileClient().DownloadFileAsync(fileId, cancellationToken).ConfigureAwait(false);
            foreach (string line in Encoding.UTF8.GetString(content.ToMemory().Span).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                results.Add(ParseLine(line));
            }
        }

        return results;
    }

    // {"custom_id": ..., "response": {"status_code": 200, "body": {...}}, "error": null} or an error line
    // {"custom_id": ..., "response": null, "error": {"code": ..., "message": ...}}.
    public static ProviderLineResult ParseLine(string line)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(line);
            JsonElement root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Malformed(line, "the line is not a JSON object");
            }

            string? customId = OptionalString(root, "custom_id");
            if (customId is null)
            {
                return Malformed(line, "the line has no custom_id");
            }

            if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object)
            {
                return new ProviderLineResult(customId, Body: null, $"{OptionalString(error, "code") ?? "error"}: {OptionalString(error, "message")}", Malformed: false);
            }

            if (root.TryGetProperty("response", out JsonElement response) && response.ValueKind == JsonValueKind.Object)
            {
                int status = response.TryGetProperty("status_code", out JsonElement code) && code.TryGetInt32(out int value) ? value : 0;
                if (!response.TryGetProperty("body", out JsonElement body))
                {
                    return Malformed(line, "the response has no body");
                }

                if (status is >= 200 and < 300 && body.ValueKind != JsonValueKind.Object)
                {
                    // A body that is not an object cannot be an answer: this call fails, the others are unaffected.
                    return new ProviderLineResult(customId, Body: null, $"malformed response body: {Shorten(body.GetRawText())}", Malformed: false);
                }

                byte[] bytes = Encoding.UTF8.GetBytes(body.GetRawText());
                return status is >= 200 and < 300
                    ? new ProviderLineResult(customId, bytes, Error: null, Malformed: false)
                    : new ProviderLineResult(customId, Body: null, $"HTTP {status}: {body.GetRawText()}", Malformed: false);
            }

            return Malformed(line, "the line has neither a response nor an error");
        }
        catch (JsonException ex)
        {
            return Malformed(line, ex.Message);
        }
    }

    private static string Shorten(string text) => text.Length > 200 ? text[..200] : text;

    // Malformed lines keep their text (shortened) for the log.
    private static ProviderLineResult Malformed(string line, string why) =>
        new(null, null, $"malformed result line ({why}): {Shorten(line)}", Malformed: true);

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

// Request options that turn the SDK's own retries off for one request: a policy placed before the retry policy marks
// the message as never retriable. Where CostAware retries (or must not retry), the SDK does not retry as well.
internal sealed class NoRetry : PipelinePolicy
{
    private static readonly NoRetry Instance = new();

    public static RequestOptions Options(CancellationToken cancellationToken)
    {
        RequestOptions options = new() { CancellationToken = cancellationToken };
        options.AddPolicy(Instance, PipelinePosition.PerCall);
        return options;
    }

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.ResponseClassifier = new Classifier(message.ResponseClassifier);
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.ResponseClassifier = new Classifier(message.ResponseClassifier);
        return ProcessNextAsync(message, pipeline, currentIndex);
    }

    private sealed class Classifier(PipelineMessageClassifier inner) : PipelineMessageClassifier
    {
        public override bool TryClassify(PipelineMessage message, out bool isError) => inner.TryClassify(message, out isError);

        public override bool TryClassify(PipelineMessage message, Exception? exception, out bool isRetriable)
        {
            isRetriable = false;
            return true;
        }
    }
}
