using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages.Batches;
using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware.Batching.Anthropic.Internal;

// Anthropic's Message Batches through the official SDK: each call's params are the Messages request body the SDK's
// own chat client would send (captured in process, as for OpenAI), sent inline in one create request; results are
// streamed from the batch's results URL and matched by custom_id. The batch window, status words and result types
// are Anthropic's: in_progress, canceling, ended; succeeded, errored, canceled, expired.
internal sealed class AnthropicBatchProvider(IAnthropicClient client) : IBatchProvider
{
    private const string CaptureUrl = "http://costaware.invalid";

    private const string EmptyMessage = """
        {"id":"msg_capture","type":"message","role":"assistant","model":"capture","content":[{"type":"text","text":""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}
        """;

    public string Name => "anthropic";

    public string Endpoint => "/v1/messages";

    public int MaxRequests => 100_000;

    public long MaxBytes => 256L * 1024 * 1024;

    public async Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        using SdkExchange handler = new(EmptyMessage);
        using IChatClient chat = Capture(handler).AsIChatClient(modelId);
        _ = await chat.GetResponseAsync(messages, OwnKeys.Without(options), cancellationToken).ConfigureAwait(false);
        byte[] body = handler.RequestBody ?? throw new InvalidOperationException("The Anthropic SDK sent no request body.");

        // A batch request is never streamed.
        using JsonDocument json = JsonDocument.Parse(body);
        Dictionary<string, JsonElement> fields = json.RootElement.EnumerateObject().Where(static p => p.Name != "stream").ToDictionary(static p => p.Name, static p => p.Value.Clone());
        return JsonSerializer.SerializeToUtf8Bytes(fields);
    }

    public async Task<ChatResponse> ReadResponseAsync(string modelId, byte[] body, CancellationToken cancellationToken)
    {
        using SdkExchange handler = new(Encoding.UTF8.GetString(body));
        using IChatClient chat = Capture(handler).AsIChatClient(modelId);
        return await chat.GetResponseAsync([new ChatMessage(ChatRole.User, string.Empty)], new ChatOptions { MaxOutputTokens = 1 }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> SubmitAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken)
    {
        List<Request> requests = new(calls.Count);
        foreach (DeferredCall call in calls)
        {
            using JsonDocument json = JsonDocument.Parse(call.Body);
            Dictionary<string, JsonElement> fields = json.RootElement.EnumerateObject().ToDictionary(static p => p.Name, static p => p.Value.Clone());
            requests.Add(new Request { CustomID = call.Id, Params = Params.FromRawUnchecked(fields) });
        }

        // Never retried by the SDK: a create whose answer was lost may have created the batch, and a second create
        // would bill every call twice. The next scheduler pass looks for it (FindAsync) instead.
        MessageBatch batch = await client.WithOptions(static o => o with { MaxRetries = 0 }).Messages.Batches
            .Create(new BatchCreateParams { Requests = requests }, cancellationToken).ConfigureAwait(false);
        return batch.ID;
    }

    // Anthropic batches carry no metadata, so a batch whose creation outlived a crash is recognised by what can be
    // seen of it: created after the local batch was begun, holding as many requests. Only a unique candidate is
    // adopted; its results are matched by custom_id, so a wrong guess costs a retry, never a wrong answer.
    public async Task<string?> FindAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken)
    {
        DateTimeOffset since = calls.Count == 0 ? DateTimeOffset.MaxValue : calls.Min(static c => c.CreatedAt);
        List<string> candidates = [];
        var page = await client.Messages.Batches.List(new BatchListParams { Limit = 100 }, cancellationToken).ConfigureAwait(false);
        foreach (MessageBatch batch in page.Items)
        {
            long total = batch.RequestCounts.Processing + batch.RequestCounts.Succeeded + batch.RequestCounts.Errored + batch.RequestCounts.Canceled + batch.RequestCounts.Expired;
            if (batch.CreatedAt >= since && total == calls.Count)
            {
                candidates.Add(batch.ID);
            }
        }

        return candidates.Count == 1 ? candidates[0] : null;
    }

    public async Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken)
    {
        // One request per poll: the scheduler backs off between polls that fail.
        MessageBatch batch = await client.WithOptions(static o => o with { MaxRetries = 0 }).Messages.Batches
            .Retrieve(providerBatchId, new BatchRetrieveParams(), cancellationToken).ConfigureAwait(false);
        string status = batch.ProcessingStatus.Raw();
        return new ProviderBatchStatus(status, status == "ended");
    }

    public async Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(string providerBatchId, ProviderBatchStatus status, CancellationToken cancellationToken)
    {
        List<ProviderLineResult> results = [];
        await foreach (MessageBatchIndividualResponse line in client.Messages.Batches.ResultsStreaming(providerBatchId, new BatchResultsParams(), cancellationToken).ConfigureAwait(false))
        {
            results.Add(line.Result.Match(
                succeeded => new ProviderLineResult(line.CustomID, JsonSerializer.SerializeToUtf8Bytes(succeeded.Message.RawData), Error: null, Malformed: false),
                errored => new ProviderLineResult(line.CustomID, Body: null, $"errored: {JsonSerializer.Serialize(errored.Error.RawData)}", Malformed: false),
                canceled => new ProviderLineResult(line.CustomID, Body: null, "canceled", Malformed: false),
                expired => new ProviderLineResult(line.CustomID, Body: null, "expired", Malformed: false)));
        }

        return results;
    }

    // The SDK retries its own reads (429 and 5xx); what reaches here transiently is the connection itself.
    public bool IsTransient(Exception exception) => exception is HttpRequestException or TimeoutException or IOException;

    private static AnthropicClient Capture(SdkExchange handler) => new(new ClientOptions
    {
        ApiKey = "costaware-codec",
        BaseUrl = CaptureUrl,
        MaxRetries = 0,
#pragma warning disable CA2000 // The handler is disposed by the caller; the HttpClient lives with this short-lived SDK client.
        HttpClient = new HttpClient(handler, disposeHandler: false),
#pragma warning restore CA2000
    });
}
