using System.ClientModel;
using System.ClientModel.Primitives;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Batching.OpenAI.Internal;

// Turns a call into the body the official OpenAI SDK would send to /v1/chat/completions, and a batch result body back
// into the ChatResponse that SDK and Microsoft.Extensions.AI's adapter would have produced for a synchronous call. Both
// directions run the real SDK over an in-process HTTP handler, so the batch carries exactly the JSON a synchronous call
// would have sent and the caller gets exactly the response it would have received.
internal static class OpenAIChatCodec
{
    private static readonly Uri Endpoint = new("http://costaware.invalid/v1");

    // A minimal chat.completion the request capture answers with, so that the SDK completes normally.
    private const string EmptyCompletion = """
        {"id":"capture","object":"chat.completion","created":0,"model":"capture","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}
        """;

    // The same for the Responses API (/v1/responses), through the SDK's responses client.
    private const string EmptyResponse = """
        {"id":"resp_capture","object":"response","created_at":0,"status":"completed","model":"capture","output":[{"type":"message","id":"msg_capture","status":"completed","role":"assistant","content":[{"type":"output_text","text":"","annotations":[]}]}],"parallel_tool_calls":true,"tool_choice":"auto","tools":[]}
        """;

    public static async Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken) =>
        await BuildRequestAsync(OpenAIBatchEndpoint.ChatCompletions, modelId, messages, options, cancellationToken).ConfigureAwait(false);

    public static async Task<ChatResponse> ReadResponseAsync(string modelId, byte[] completionBody, CancellationToken cancellationToken) =>
        await ReadResponseAsync(OpenAIBatchEndpoint.ChatCompletions, modelId, completionBody, cancellationToken).ConfigureAwait(false);

    public static async Task<byte[]> BuildRequestAsync(OpenAIBatchEndpoint endpoint, string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        using SdkExchange handler = new(endpoint == OpenAIBatchEndpoint.Responses ? EmptyResponse : EmptyCompletion);
        using IChatClient chat = Client(handler, endpoint, modelId);
        _ = await chat.GetResponseAsync(messages, OwnKeys.Without(options), cancellationToken).ConfigureAwait(false);
        return handler.RequestBody ?? throw new InvalidOperationException("The OpenAI SDK sent no request body.");
    }

    public static async Task<ChatResponse> ReadResponseAsync(OpenAIBatchEndpoint endpoint, string modelId, byte[] completionBody, CancellationToken cancellationToken)
    {
        using SdkExchange handler = new(System.Text.Encoding.UTF8.GetString(completionBody));
        using IChatClient chat = Client(handler, endpoint, modelId);
        return await chat.GetResponseAsync([new ChatMessage(ChatRole.User, string.Empty)], options: null, cancellationToken).ConfigureAwait(false);
    }

    private static IChatClient Client(SdkExchange handler, OpenAIBatchEndpoint endpoint, string modelId)
    {
#pragma warning disable CA2000 // The HttpClient is owned by the transport, which the SDK client keeps until it is collected; the handler is disposed by the caller.
        OpenAIClientOptions options = new()
        {
            Endpoint = Endpoint,
            Transport = new HttpClientPipelineTransport(new HttpClient(handler, disposeHandler: false)),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
#pragma warning restore CA2000
        OpenAIClient client = new(new ApiKeyCredential("costaware-codec"), options);
#pragma warning disable OPENAI001 // The SDK marks its responses client experimental; the wire format is the stable /v1/responses.
        return endpoint == OpenAIBatchEndpoint.Responses ? client.GetResponsesClient().AsIChatClient(modelId) : client.GetChatClient(modelId).AsIChatClient();
#pragma warning restore OPENAI001
    }
}
