using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Asks a (cheap) judge model to grade the answer against a rubric, from 0 to 10; the score is the grade / 10. The
/// judge's call is metered onto the request's receipt (give it a client with <c>UseTokenMetering()</c>), so its cost
/// counts against what the cascade saves.
/// </summary>
/// <remarks>A judge that cannot be read (no grade in its reply) scores 0: the cascade escalates. Thread-safe.</remarks>
public sealed partial class JudgeAnswerScorer : IAnswerScorer
{
    private const string DefaultRubric =
        "Grade the assistant's answer to the user's last message from 0 to 10: 10 is correct, complete and helpful; 5 is partly right or vague; 0 is wrong, a refusal or off topic.";

    private readonly IChatClient _judge;
    private readonly string? _modelId;
    private readonly string _rubric;

    /// <summary>Initializes a new instance of the <see cref="JudgeAnswerScorer"/> class.</summary>
    /// <param name="judge">The judge client.</param>
    /// <param name="modelId">The judge model, or <see langword="null"/> for the client's default.</param>
    /// <param name="rubric">What a good answer is, or <see langword="null"/> for a general rubric.</param>
    /// <exception cref="ArgumentNullException"><paramref name="judge"/> is <see langword="null"/>.</exception>
    public JudgeAnswerScorer(IChatClient judge, string? modelId = null, string? rubric = null)
    {
        ArgumentNullException.ThrowIfNull(judge);
        _judge = judge;
        _modelId = modelId;
        _rubric = rubric ?? DefaultRubric;
    }

    /// <inheritdoc />
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The whole conversation the answer replies to (system prompt and few-shot examples included), then the answer.
        StringBuilder transcript = new();
        foreach (ChatMessage message in context.Messages)
        {
            string text = message.Text;
            if (text.Length > 0)
            {
                _ = transcript.Append('[').Append(message.Role.Value).Append("]\n").Append(text).Append("\n\n");
            }
        }

        ChatMessage[] prompt =
        [
            new(ChatRole.System, _rubric + " Reply with one line: GRADE: <0-10>, then one short sentence why."),
            new(ChatRole.User, $"Conversation:\n{transcript}Answer to grade (the assistant's reply to the last message):\n{context.Response.Text}"),
        ];
        ChatOptions options = new() { ModelId = _modelId, Temperature = 0, MaxOutputTokens = 80 };
        if (CostCallContext.Find(context.Options) is { } call)
        {
            // The judge's call is charged to the request it judges, and admitted by the same budgets.
            options = call.Forward(options);
        }

        ChatResponse verdict = await _judge.GetResponseAsync(prompt, options, cancellationToken);
        Match grade = Grade().Match(verdict.Text);
        if (!grade.Success)
        {
            return new AnswerScore(0d, "the judge gave no grade");
        }

        double points = Math.Clamp(double.Parse(grade.Groups[1].Value, CultureInfo.InvariantCulture), 0d, 10d);
        string why = verdict.Text[(grade.Index + grade.Length)..].Trim().TrimStart('-', ':', '.', ' ');
        return new AnswerScore(points / 10d, $"judge: {points:0.#}/10{(why.Length > 0 ? " — " + (why.Length > 120 ? why[..120] : why) : string.Empty)}");
    }

    [GeneratedRegex(@"GRADE:\s*(\d+(?:\.\d+)?)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Grade();
}
