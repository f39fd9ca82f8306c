using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;

// After: the same app with three CostAware lines (marked). Every answer now carries what it cost.
(IChatClient provider, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
Console.WriteLine($"Backend: {description}");

IChatClient chat = provider.AsBuilder().UseTokenMetering().Build();                              // CostAware line 1

foreach (string question in questions.Take(3))
{
    ChatResponse response = await chat.GetResponseAsync(question);
    CostReceipt receipt = response.GetCostReceipt()!;                                             // CostAware line 2
    Console.WriteLine($"- {response.Text.ReplaceLineEndings(" ")[..Math.Min(100, response.Text.Length)]}");
    Console.WriteLine($"  {receipt.Tokens.Input} in / {receipt.Tokens.Output} out tokens, ${receipt.Spent:0.000000}"); // CostAware line 3
}
