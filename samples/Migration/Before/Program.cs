using CostAware.Samples;
using Microsoft.Extensions.AI;

// Before: the app calls its provider client directly. It gets answers, and no idea what they cost or for whom.
(IChatClient chat, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
Console.WriteLine($"Backend: {description}");

foreach (string question in questions.Take(3))
{
    ChatResponse response = await chat.GetResponseAsync(question);
    Console.WriteLine($"- {response.Text.ReplaceLineEndings(" ")[..Math.Min(100, response.Text.Length)]}");
}
