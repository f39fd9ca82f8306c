using System.ClientModel;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Samples;

// Chooses the samples' provider: the real OpenAI API (or any OpenAI-compatible server) when OPENAI_API_KEY is set,
// else a replay of real recorded model answers from ../shared/data/cascade/gsm8k_responses.csv.
internal static class SampleBackend
{
    public const string CheapModel = "open-mixtral-8x7b";
    public const string StrongModel = "gpt-4-1106-preview";

    public static (IChatClient Client, string Description, IReadOnlyList<string> Questions) Create()
    {
        IReadOnlyList<RecordedAnswer> recorded = RecordedAnswer.Load();
        string[] questions = [.. recorded.Select(r => r.Question)];
        string? key = Environment.GetEnvironmentVariable("OPENAI_API_KEY");
        if (!string.IsNullOrEmpty(key))
        {
            string model = Environment.GetEnvironmentVariable("OPENAI_MODEL") ?? "gpt-4o-mini";
            OpenAIClientOptions options = new();
            if (Environment.GetEnvironmentVariable("OPENAI_BASE_URL") is { Length: > 0 } baseUrl)
            {
                options.Endpoint = new Uri(baseUrl);
            }

            IChatClient openai = new OpenAIClient(new ApiKeyCredential(key), options).GetChatClient(model).AsIChatClient();
            return (openai, $"the OpenAI API ({options.Endpoint?.ToString() ?? "default endpoint"}, model {model})", questions);
        }

        return (new ReplayChatClient(recorded), $"replay of recorded answers ({recorded.Count} GSM8K questions answered by Mixtral-8x7B and GPT-4; no API key, no network)", questions);
    }

    public static string DataPath(params string[] parts)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CostAware.sln")))
            {
                return Path.Combine([dir.FullName, "..", "shared", "data", .. parts]);
            }
        }

        throw new DirectoryNotFoundException("Run the samples from the repository: ../shared/data is read from beside it.");
    }
}

internal sealed record RecordedAnswer(string Question, string CheapAnswer, string StrongAnswer)
{
    public static IReadOnlyList<RecordedAnswer> Load()
    {
        using StreamReader reader = new(SampleBackend.DataPath("cascade", "gsm8k_responses.csv"), Encoding.UTF8);
        List<RecordedAnswer> answers = [];
        bool header = true;
        foreach (List<string> row in Csv.Rows(reader))
        {
            if (header)
            {
                header = false;
                continue;
            }

            answers.Add(new RecordedAnswer(row[0], row[3].Trim(), row[4].Trim()));
        }

        return answers;
    }
}

// Answers with the recorded answer of the model the request names. Like a provider that reports no usage, it
// returns none: the metering stage estimates the tokens and marks the receipt "estimated".
internal sealed class ReplayChatClient(IReadOnlyList<RecordedAnswer> recorded) : IChatClient
{
    private readonly Dictionary<string, RecordedAnswer> _byQuestion = recorded.DistinctBy(r => r.Question).ToDictionary(r => r.Question);
    private readonly ChatClientMetadata _metadata = new("replay", null, SampleBackend.CheapModel);

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        string model = options?.ModelId ?? SampleBackend.CheapModel;
        string question = messages.Last(m => m.Role == ChatRole.User).Text;
        string answer = _byQuestion.TryGetValue(question, out RecordedAnswer? r)
            ? model == SampleBackend.StrongModel ? r.StrongAnswer : r.CheapAnswer
            : "(no recorded answer for this question)";
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)) { ModelId = model, FinishReason = ChatFinishReason.Stop });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ChatResponse response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (ChatResponseUpdate update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? _metadata : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
