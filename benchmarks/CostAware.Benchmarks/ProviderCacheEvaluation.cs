#pragma warning disable CAEXP001 // The provider cache hints are experimental.
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Anthropic.Models.Messages;
using CostAware.Samples.ProviderCaching;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// Provider prompt caching on replayed traffic: arrival times from the Azure LLM inference trace (conversation service)
// in ../shared/data, three workloads, four policies, and a provider stand-in with Anthropic's documented cache semantics
// (a breakpoint caches the prefix up to it for its lifetime from last use, a request reads the longest cached prefix
// ending at or up to 20 blocks before one of its breakpoints, writes cost 1.25x (5 minutes) or 2x (1 hour) the input
// price and reads 0.1x, nothing under 1,024 tokens is cached). Every call goes through the real metering stage, priced
// as claude-sonnet-4-5. Not a timing: it writes a table of input cost.
internal static class ProviderCacheEvaluation
{
    private const string Model = "claude-sonnet-4-5";
    private const int Requests = 4000;

    public static async Task RunAsync(string output)
    {
        List<(DateTimeOffset At, int Context, int Generated)> trace = [];
        foreach (string line in File.ReadLines(Path.Combine(TestData.PathOf("traces"), "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv")).Skip(1).Take(Requests))
        {
            string[] f = line.Split(',');
            trace.Add((DateTimeOffset.Parse(f[0] + "Z", CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture)));
        }

        StringBuilder md = new();
        md.AppendLine("# Provider prompt caching on replayed traffic");
        md.AppendLine();
        md.AppendLine("Written by `dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --provider-cache`. Arrival times: the first");
        md.AppendLine(CultureInfo.InvariantCulture, $"{trace.Count:N0} requests of the Azure LLM inference trace (conversation service, {(trace[^1].At - trace[0].At).TotalMinutes:0} minutes), each workload's sessions interleaved");
        md.AppendLine("over them. The provider is a stand-in with Anthropic's documented cache semantics (breakpoints, longest cached prefix");
        md.AppendLine("read, lifetime from last use, 1,024-token minimum); every call is metered by the real stage at claude-sonnet-4-5's prices");
        md.AppendLine("($3 input, $0.30 cache read, $3.75 5-minute write, $6 1-hour write per million tokens). Input cost only (output is the same");
        md.AppendLine("under every policy).");
        md.AppendLine();
        md.AppendLine("| workload | no caching | static: mark the system message | static: system + last message | CostAware | CostAware vs no caching |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach ((string name, Func<List<(DateTimeOffset, int, int)>, List<(DateTimeOffset At, List<ChatMessage> Messages)>> workload) in Workloads())
        {
            List<(DateTimeOffset At, List<ChatMessage> Messages)> requests = workload(trace);
            decimal none = await RunAsync(requests, Policy.None);
            decimal system = await RunAsync(requests, Policy.System);
            decimal systemAndLast = await RunAsync(requests, Policy.SystemAndLast);
            decimal costAware = await RunAsync(requests, Policy.CostAware);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | ${none:0.00} | ${system:0.00} ({Change(system, none)}) | ${systemAndLast:0.00} ({Change(systemAndLast, none)}) | ${costAware:0.00} | {Change(costAware, none)} |");
        }

        md.AppendLine();
        md.AppendLine("Targets: at least 60 % less input cost on the agent loop; never more than 2 % worse than no caching on traffic whose");
        md.AppendLine("prefixes do not recur. The static policies pay the write premium on every request whether the prefix comes back or not.");

        _ = Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, md.ToString());
        Console.WriteLine(md.ToString());
    }

    private static string Change(decimal cost, decimal baseline) =>
        string.Create(CultureInfo.InvariantCulture, $"{(cost - baseline) / baseline:+0.0 %;-0.0 %;0.0 %}");

    private enum Policy
    {
        None,
        System,
        SystemAndLast,
        CostAware,
    }

    // Text of about n tokens, distinct per seed.
    private static string Text(string seed, int tokens) => string.Join(' ', Enumerable.Range(0, Math.Max(1, tokens)).Select(i => seed + (i % 50).ToString(CultureInfo.InvariantCulture)));

    private static IEnumerable<(string, Func<List<(DateTimeOffset, int, int)>, List<(DateTimeOffset, List<ChatMessage>)>>)> Workloads()
    {
        // An agent loop: 120 concurrent tasks sharing one 2,000-token system prompt; each turn resends the whole context
        // plus the model's last step and a tool result (the trace's generated tokens and ~300 tokens); a task ends after
        // 12 steps and a new one starts.
        yield return ("agent loop (120 tasks at a time, 12 steps each, growing context)", trace =>
        {
            string system = "You are a coding agent. " + Text("rule", 2000);
            List<List<ChatMessage>> sessions = [];
            List<int> steps = [];
            List<(DateTimeOffset, List<ChatMessage>)> requests = [];
            for (int i = 0; i < trace.Count; i++)
            {
                (DateTimeOffset at, int context, int generated) = trace[i];
                int s = i % 120;
                if (s >= sessions.Count || steps[s] == 12)
                {
                    List<ChatMessage> fresh = [new(ChatRole.System, system), new(ChatRole.User, Text($"task{i}-", Math.Min(context, 1500)))];
                    if (s >= sessions.Count)
                    {
                        sessions.Add(fresh);
                        steps.Add(0);
                    }
                    else
                    {
                        sessions[s] = fresh;
                        steps[s] = 0;
                    }
                }
                else
                {
                    sessions[s].Add(new ChatMessage(ChatRole.Assistant, Text($"step{i}-", Math.Min(generated, 400))));
                    sessions[s].Add(new ChatMessage(ChatRole.User, Text($"tool{i}-", 300)));
                }

                steps[s]++;
                requests.Add((at, [.. sessions[s]]));
            }

            return requests;
        });

        // A support chat: one 1,500-token system prompt, 400 conversations at a time of 4 short turns.
        yield return ("support chat (one 1,500-token system prompt, 4-turn conversations)", trace =>
        {
            string system = "You are the support assistant. " + Text("policy", 1500);
            List<List<ChatMessage>> sessions = [];
            List<(DateTimeOffset, List<ChatMessage>)> requests = [];
            for (int i = 0; i < trace.Count; i++)
            {
                int s = i % 400;
                if (s >= sessions.Count || sessions[s].Count >= 8)
                {
                    List<ChatMessage> fresh = [new(ChatRole.System, system)];
                    if (s >= sessions.Count)
                    {
                        sessions.Add(fresh);
                    }
                    else
                    {
                        sessions[s] = fresh;
                    }
                }
                else
                {
                    sessions[s].Add(new ChatMessage(ChatRole.Assistant, Text($"reply{i}-", 150)));
                }

                sessions[s].Add(new ChatMessage(ChatRole.User, Text($"ask{i}-", 60)));
                requests.Add((trace[i].Item1, [.. sessions[s]]));
            }

            return requests;
        });

        // Retrieval with a different document each time: long prompts whose prefixes never recur.
        yield return ("prefixes that never recur (a fresh 2,000-token document in each system prompt)", trace =>
            [.. trace.Select((r, i) => (r.Item1, new List<ChatMessage> { new(ChatRole.System, "Answer from this document: " + Text($"doc{i}-", 2000)), new(ChatRole.User, Text($"q{i}-", 50)) }))]);
    }

    private static async Task<decimal> RunAsync(List<(DateTimeOffset At, List<ChatMessage> Messages)> requests, Policy policy)
    {
        ReplayTime time = new() { Now = requests[0].At };
        AnthropicCacheModel provider = new(time, Model);
        IChatClient metered = new TokenMeteringChatClient(provider, timeProvider: time);
        using IChatClient client = policy == Policy.CostAware
            ? new ProviderPromptCachingChatClient(metered, AnthropicPromptCacheHints.Instance, timeProvider: time)
            : metered;
        decimal input = 0m;
        foreach ((DateTimeOffset at, List<ChatMessage> messages) in requests)
        {
            time.Now = at;
            List<ChatMessage> sent = policy switch
            {
                Policy.System => Static(messages, markLast: false),
                Policy.SystemAndLast => Static(messages, markLast: true),
                _ => messages,
            };
            ChatResponse response = await client.GetResponseAsync(sent, new ChatOptions { ModelId = Model });
            CostBreakdown cost = response.GetCostReceipt()!.Entries[0].Cost!.Value;
            input += cost.Input + cost.CachedInput + cost.CacheWrite;
        }

        return input;
    }

    // LiteLLM-style injection points: always mark the system message (and the last message), five minutes.
    private static List<ChatMessage> Static(List<ChatMessage> messages, bool markLast)
    {
        List<ChatMessage> copy = [.. messages];
        copy[0] = new ChatMessage(copy[0].Role, [AnthropicPromptCacheHints.Instance.MarkBreakpoint(copy[0].Contents[0], TimeSpan.FromMinutes(5))!]);
        if (markLast && copy.Count > 1)
        {
            copy[^1] = new ChatMessage(copy[^1].Role, [AnthropicPromptCacheHints.Instance.MarkBreakpoint(copy[^1].Contents[0], TimeSpan.FromMinutes(5))!]);
        }

        return copy;
    }

    // The replay's clock: the arrival time of the request being replayed.
    private sealed class ReplayTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
