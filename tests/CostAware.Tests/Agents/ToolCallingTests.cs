using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Tests.Agents;

// Where Microsoft.Extensions.AI's function invocation goes in a CostAware pipeline: inside the budget (and the caches),
// outside the metering stage, so that one agent request is one receipt covering every round trip and a budget counts the
// whole run. Outermost, as MEAI users usually put it, each round trip is a request of its own.
public class ToolCallingTests
{
    // The model asks for the weather once, then answers with what the tool returned.
    private static TestChatClient Model()
    {
        int calls = 0;
        return new TestChatClient
        {
            GetResponseAsyncCallback = (messages, _, _) =>
            {
                bool first = Interlocked.Increment(ref calls) % 2 == 1;
                ChatMessage answer = first
                    ? new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call-1", "weather", new Dictionary<string, object?> { ["city"] = "Paris" })])
                    : new ChatMessage(ChatRole.Assistant, $"It is {messages.Last().Contents.OfType<FunctionResultContent>().Single().Result}.");
                return Task.FromResult(new ChatResponse(answer)
                {
                    ModelId = "gpt-4o",
                    FinishReason = first ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
                    Usage = new UsageDetails { InputTokenCount = 1000, OutputTokenCount = 100 },
                });
            },
        };
    }

    private static ChatOptions Request() => new ChatOptions
    {
        ModelId = "gpt-4o",
        MaxOutputTokens = 100,
        Tools = [AIFunctionFactory.Create((string city) => "sunny", "weather")],
    }.WithCostScope(new CostScope { Tenant = "acme" });

    private static ServiceProvider Services(Action<ChatClientBuilder> pipeline)
    {
        ServiceCollection services = new();
        _ = services.AddCostAware(o => o.Budget.Budgets["run"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Limit = 1m });
        pipeline(services.AddChatClient(Model()));
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task InsideTheBudget_OneRequestIsOneReceipt_AndTheBudgetCountsEveryRoundTrip()
    {
        await using ServiceProvider services = Services(b => b.UseBudget().UseFunctionInvocation().UseTokenMetering());
        IChatClient chat = services.GetRequiredService<IChatClient>();

        ChatResponse response = await chat.GetResponseAsync("Weather in Paris?", Request());

        Assert.Equal("It is sunny.", response.Text);
        CostReceipt receipt = response.GetCostReceipt()!;
        Assert.Equal(2, receipt.Entries.Count(e => e.Kind == CostEntryKind.ProviderCall));

        // gpt-4o: 1,000 in and 100 out is $0.0035 a round trip.
        Assert.Equal(0.007m, receipt.Spent);
        BudgetStatus status = Assert.Single(await chat.GetService<BudgetChatClient>()!.GetStatusAsync(new CostScope { Tenant = "acme" }));
        Assert.Equal(0.007m, status.Spent);
        Assert.Equal(1, status.Calls);
    }

    [Fact]
    public async Task Outermost_EachRoundTripIsARequestOfItsOwn()
    {
        await using ServiceProvider services = Services(b => b.UseFunctionInvocation().UseBudget().UseTokenMetering());
        IChatClient chat = services.GetRequiredService<IChatClient>();

        ChatResponse response = await chat.GetResponseAsync("Weather in Paris?", Request());

        // The response's receipt is the last round trip's; the budget saw two calls of $0.0035.
        Assert.Equal(0.0035m, response.GetCostReceipt()!.Spent);
        BudgetStatus status = Assert.Single(await chat.GetService<BudgetChatClient>()!.GetStatusAsync(new CostScope { Tenant = "acme" }));
        Assert.Equal(0.007m, status.Spent);
        Assert.Equal(2, status.Calls);
    }
}
