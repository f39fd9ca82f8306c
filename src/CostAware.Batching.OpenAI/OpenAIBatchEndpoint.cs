namespace CostAware;

/// <summary>The OpenAI endpoint whose requests a batch carries: one per batch, chosen per <c>AddCostAwareOpenAIBatches</c>.</summary>
public enum OpenAIBatchEndpoint
{
    /// <summary><c>/v1/chat/completions</c>: what <c>ChatClient.AsIChatClient()</c> calls.</summary>
    ChatCompletions = 0,

    /// <summary><c>/v1/responses</c>: what <c>ResponsesClient.AsIChatClient()</c> calls.</summary>
    Responses = 1,
}
