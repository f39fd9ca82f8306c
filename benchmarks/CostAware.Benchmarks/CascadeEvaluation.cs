using System.Data;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CostAware.Onnx.Internal;
using CostAware.Samples;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// Replays recorded real answers (GSM8K: Mixtral-8x7B and GPT-4-1106, each answer labelled right or wrong; RouteLLM's
// data in ../shared/data/cascade/) through the model cascade: the thresholds are calibrated on one half of the
// questions and the cascade is measured on the other half, by running the real ModelCascadeChatClient over a replay of
// the recorded answers, metered and priced from the catalog. Not a timing: it writes a table.
internal static partial class CascadeEvaluation
{
    private const string CheapModel = "open-mixtral-8x7b";
    private const string StrongModel = "gpt-4-1106-preview";

    public static async Task RunAsync(string output)
    {
        string data = TestData.PathOf("cascade");
        HashSet<string> contaminated = [.. File.ReadLines(Path.Combine(data, "gsm8k_contaminated_prompts.jsonl"))
            .Select(static l => JsonDocument.Parse(l).RootElement.GetProperty("eval_prompt").GetString()!.Trim())];
        string fewShot = string.Concat(File.ReadLines(Path.Combine(data, "gsm8k_fewshot8_train.jsonl")).Select(static l =>
        {
            JsonElement e = JsonDocument.Parse(l).RootElement;
            return $"Question: {e.GetProperty("question").GetString()}\nAnswer: {e.GetProperty("answer").GetString()}\n\n";
        }));

        List<Row> rows = [];
        using StreamReader csv = new(Path.Combine(data, "gsm8k_responses.csv"), Encoding.UTF8);
        foreach (List<string> fields in Csv.Rows(csv).Skip(1))
        {
            if (fields.Count < 5 || contaminated.Contains(fields[0].Trim()))
            {
                continue;
            }

            rows.Add(new Row(fields[0], fields[1] == "True", fields[2] == "True", fields[3], fields[4]));
        }

        IPriceCatalog catalog = PriceCatalog.BuiltIn;
        ITokenEstimator tokens = TiktokenTokenEstimator.Default;
        IAnswerScorer[] scorers = [StructuralAnswerScorer.Instance, new Gsm8kAnswerChecks()];

        // What each tier's answer scores and costs, per question.
        List<IReadOnlyList<CascadeTierOutcome>> outcomes = [];
        foreach (Row row in rows)
        {
            string prompt = fewShot + "Question: " + row.Question + "\nAnswer:";
            decimal cheapCost = Cost(catalog, CheapModel, tokens.CountTokens(prompt, CheapModel), tokens.CountTokens(row.CheapAnswer, CheapModel));
            decimal strongCost = Cost(catalog, StrongModel, tokens.CountTokens(prompt, StrongModel), tokens.CountTokens(row.StrongAnswer, StrongModel));
            double score = await ScoreAsync(scorers, row.Question, row.CheapAnswer);
            outcomes.Add([new CascadeTierOutcome(score, row.CheapRight ? 1 : 0, cheapCost), new CascadeTierOutcome(1, row.StrongRight ? 1 : 0, strongCost)]);
        }

        List<IReadOnlyList<CascadeTierOutcome>> calibration = [.. outcomes.Where((_, i) => i % 2 == 0)];
        List<int> evaluationRows = [.. Enumerable.Range(0, rows.Count).Where(static i => i % 2 == 1)];
        List<IReadOnlyList<CascadeTierOutcome>> evaluation = [.. evaluationRows.Select(i => outcomes[i])];

        double strongOnCalibration = calibration.Average(static o => o[1].Quality);
        double target = strongOnCalibration - 0.01;
        CascadeCalibrationResult calibrated = CascadeCalibration.Calibrate(calibration, target);
        double chosen = calibrated.Chosen.Thresholds[0];

        // The setting measured through the stage: the calibrated one, or, when only "GPT-4 for everything" reached the
        // target, the strictest threshold that still lets Mixtral answer (the best real cascade on the frontier).
        double threshold = double.IsPositiveInfinity(chosen)
            ? calibrated.Curve.Select(static p => p.Thresholds[0]).Where(static t => !double.IsPositiveInfinity(t)).Max()
            : chosen;

        // The real stage over the held-out half.
        (double accuracy, decimal cost, int escalated) = await RunStageAsync(rows, evaluationRows, fewShot, scorers, threshold);

        // The nearest-neighbour router, trained on the calibration half (label: the cheapest tier that was right): requests
        // it sends to GPT-4 skip Mixtral; the rest go through the cascade. Once with the built-in lexical embedder, once
        // with MiniLM (the question alone is embedded: the router's textOf).
        async Task<(double Quality, decimal Cost, int Strong)> RouteAsync(IEmbeddingGenerator<string, Embedding<float>> embedder)
        {
            NearestNeighbourCascadeRouter router = new(
                embedder,
                [.. Enumerable.Range(0, rows.Count).Where(static i => i % 2 == 0).Select(i => new CascadeRoutingExample(rows[i].Question, rows[i].CheapRight ? 0 : 1))],
                k: 20,
                confidence: 0.6,
                textOf: static m => m[^1].Text);
            double quality = 0;
            decimal spent = 0m;
            int toStrong = 0;
            foreach (int i in evaluationRows)
            {
                IReadOnlyList<CascadeTierOutcome> o = outcomes[i];
                int start = await router.SelectStartTierAsync([new ChatMessage(ChatRole.User, rows[i].Question)], null, 2, CancellationToken.None);
                if (start == 1)
                {
                    toStrong++;
                    quality += o[1].Quality;
                    spent += o[1].Cost;
                }
                else if (o[0].Score >= threshold)
                {
                    quality += o[0].Quality;
                    spent += o[0].Cost;
                }
                else
                {
                    quality += o[1].Quality;
                    spent += o[0].Cost + o[1].Cost;
                }
            }

            return (quality / evaluationRows.Count, spent / evaluationRows.Count, toStrong);
        }

        using LexicalEmbeddingGenerator embedder = new();
        (double routedQuality, decimal routedCost, int routedStrong) = await RouteAsync(embedder);
        using OnnxEmbeddingGenerator miniLM = MiniLMEmbeddings.CreateGenerator();
        (double miniQuality, decimal miniCost, int miniStrong) = await RouteAsync(miniLM);

        // The learned scorer (FrugalGPT's idea): MiniLM embeddings of the question and of Mixtral's answer, and a few
        // features of the answer, in a logistic regression trained on the calibration half only. Its L2 penalty is
        // picked on a quarter of the calibration half held out from training, by area under the ROC curve.
        List<int> calibrationRows = [.. Enumerable.Range(0, rows.Count).Where(static i => i % 2 == 0)];
        LearnedScorerExample Example(int i) => new(rows[i].Question, rows[i].CheapAnswer, rows[i].CheapRight);
        double bestAuc = -1, bestLambda = 0;
        foreach (double lambda in (double[])[1e-4, 1e-3, 1e-2])
        {
            LearnedAnswerScorer trial = await LearnedAnswerScorer.TrainAsync(miniLM, [.. calibrationRows.Where((_, k) => k % 4 != 0).Select(Example)], lambda);
            List<(double Score, bool Right)> held = [];
            foreach (int i in calibrationRows.Where((_, k) => k % 4 == 0))
            {
                held.Add((await trial.PredictAsync(rows[i].Question, rows[i].CheapAnswer), rows[i].CheapRight));
            }

            double auc = Auc(held);
            if (auc > bestAuc)
            {
                (bestAuc, bestLambda) = (auc, lambda);
            }
        }

        // Thresholds are calibrated on scores of answers the scorer was not trained on (two folds of the calibration
        // half, each scored by a model trained on the other): calibrating on its own training answers overfits.
        LearnedAnswerScorer learned = await LearnedAnswerScorer.TrainAsync(miniLM, [.. calibrationRows.Select(Example)], bestLambda);
        LearnedAnswerScorer[] folds =
        [
            await LearnedAnswerScorer.TrainAsync(miniLM, [.. calibrationRows.Where((_, k) => k % 2 == 1).Select(Example)], bestLambda),
            await LearnedAnswerScorer.TrainAsync(miniLM, [.. calibrationRows.Where((_, k) => k % 2 == 0).Select(Example)], bestLambda),
        ];
        List<IReadOnlyList<CascadeTierOutcome>> learnedOutcomes = [];
        List<(double Score, bool Right)> learnedHeldOut = [];
        for (int i = 0; i < rows.Count; i++)
        {
            // Calibration rows i = 0, 2, 4, ... are fold k = i / 2; fold 0 (even k) is scored by the model trained on odd k.
            LearnedAnswerScorer model = i % 2 == 1 ? learned : folds[i / 2 % 2];
            double p = await model.PredictAsync(rows[i].Question, rows[i].CheapAnswer);
            learnedOutcomes.Add([outcomes[i][0] with { Score = p }, outcomes[i][1]]);
            if (i % 2 == 1)
            {
                learnedHeldOut.Add((p, rows[i].CheapRight));
            }
        }

        CascadeCalibrationResult learnedCalibrated = CascadeCalibration.Calibrate([.. learnedOutcomes.Where((_, i) => i % 2 == 0)], target);
        double learnedChosen = learnedCalibrated.Chosen.Thresholds[0];
        double learnedThreshold = double.IsPositiveInfinity(learnedChosen)
            ? learnedCalibrated.Curve.Select(static p => p.Thresholds[0]).Where(static t => !double.IsPositiveInfinity(t)).Max()
            : learnedChosen;
        (double learnedAccuracy, decimal learnedCost, int learnedEscalated) = await RunStageAsync(rows, evaluationRows, fewShot, [learned], learnedThreshold);

        // The best the learned scorer can do on the held-out half at GPT-4's cost share of 40 % (the issue's target budget).
        CascadeCalibrationPoint learnedAtForty = CascadeCalibration.Calibrate([.. evaluationRows.Select(i => learnedOutcomes[i])], 1d).Curve
            .Where(p => p.Cost <= 0.4m * evaluation.Average(static o => o[1].Cost))
            .MaxBy(static p => p.Quality)!;

        double cheapAccuracy = evaluation.Average(static o => o[0].Quality);
        double strongAccuracy = evaluation.Average(static o => o[1].Quality);
        decimal cheapCostMean = evaluation.Average(static o => o[0].Cost);
        decimal strongCostMean = evaluation.Average(static o => o[1].Cost);
        double oracleAccuracy = evaluation.Average(static o => Math.Max(o[0].Quality, o[1].Quality));
        decimal oracleCost = evaluation.Average(static o => o[0].Quality >= 1 ? o[0].Cost : o[1].Cost);
        CascadeCalibrationPoint simulated = CascadeCalibration.Evaluate(evaluation, [threshold]);

        StringBuilder md = new();
        md.AppendLine("# Model cascade on recorded GSM8K answers");
        md.AppendLine();
        md.AppendLine("Written by `dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --cascade-eval`. Data: RouteLLM's recorded answers of");
        md.AppendLine(CultureInfo.InvariantCulture, $"Mixtral-8x7B (`{CheapModel}`, $0.70/$0.70 per million tokens) and GPT-4-1106 (`{StrongModel}`, $10/$30) to the GSM8K test questions,");
        md.AppendLine(CultureInfo.InvariantCulture, $"each labelled right or wrong; {contaminated.Count} contaminated questions removed, {rows.Count} left. Thresholds are calibrated on the");
        md.AppendLine(CultureInfo.InvariantCulture, $"even-numbered questions ({calibration.Count}) and everything below is measured on the odd-numbered ones ({evaluation.Count}).");
        md.AppendLine("Costs price the 8-shot prompt and the recorded answer, with tokens counted by OpenAI's tokenizer for both models");
        md.AppendLine("(Mixtral's own tokenizer is not available offline; the ratio between the models is what matters).");
        md.AppendLine();
        md.AppendLine("Scorers on the cheap tier: `StructuralAnswerScorer` and an app scorer for GSM8K-style answers (`Gsm8kAnswerChecks` in this");
        md.AppendLine("file: a final `####` answer present, every `<<a*b=c>>` calculation correct, no hedging words; one third each). No judge");
        md.AppendLine("and no second sample were recorded, so the agreement scorers cannot be replayed here; the judge path is measured on MT-Bench (cascade-judge-evaluation.md).");
        md.AppendLine();
        md.AppendLine("| strategy | accuracy | cost per 1,000 questions | cost vs GPT-4 | calls to GPT-4 |");
        md.AppendLine("|---|---|---|---|---|");
        md.AppendLine(Line("Mixtral alone", cheapAccuracy, cheapCostMean, strongCostMean, "0 %"));
        md.AppendLine(Line("GPT-4 alone", strongAccuracy, strongCostMean, strongCostMean, "100 %"));
        md.AppendLine(Line(string.Create(CultureInfo.InvariantCulture, $"cascade, threshold {threshold:0.00}, measured through `ModelCascadeChatClient`"), accuracy, cost, strongCostMean, $"{(double)escalated / evaluation.Count:P0}"));
        md.AppendLine(Line(string.Create(CultureInfo.InvariantCulture, $"cascade, threshold {threshold:0.00}, replayed by `CascadeCalibration.Evaluate`"), simulated.Quality, simulated.Cost, strongCostMean, "–"));
        md.AppendLine(Line(string.Create(CultureInfo.InvariantCulture, $"nearest-neighbour router (k 20, lexical embeddings, trained on the calibration half) + cascade at {threshold:0.00}"), routedQuality, routedCost, strongCostMean, $"{(double)routedStrong / evaluation.Count:P0} routed"));
        md.AppendLine(Line(string.Create(CultureInfo.InvariantCulture, $"nearest-neighbour router (k 20, MiniLM embeddings of the question, trained on the calibration half) + cascade at {threshold:0.00}"), miniQuality, miniCost, strongCostMean, $"{(double)miniStrong / evaluation.Count:P0} routed"));
        md.AppendLine(Line(
            string.Create(CultureInfo.InvariantCulture, $"learned scorer (MiniLM + logistic regression, L2 {bestLambda:G1}, trained on the calibration half, threshold calibrated on cross-fitted scores), threshold {learnedThreshold:0.000}, through `ModelCascadeChatClient`"),
            learnedAccuracy, learnedCost, strongCostMean, $"{(double)learnedEscalated / evaluation.Count:P0}"));
        md.AppendLine(Line(
            string.Create(CultureInfo.InvariantCulture, $"learned scorer, best held-out setting within 40 % of GPT-4's cost (chosen in hindsight: an upper bound), threshold {learnedAtForty.Thresholds[0]:0.000}"),
            learnedAtForty.Quality, learnedAtForty.Cost, strongCostMean, "–"));
        md.AppendLine(Line("oracle (GPT-4 only where Mixtral is wrong)", oracleAccuracy, oracleCost, strongCostMean, $"{evaluation.Count(static o => o[0].Quality < 1) / (double)evaluation.Count:P0}"));
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Goal: GPT-4's accuracy within one point (on the calibration half, {target:P1}) at a fraction of its cost.");
        md.AppendLine(double.IsPositiveInfinity(chosen)
            ? "**Not met.** With these scorers no threshold reaches it on the calibration half; calibration chooses GPT-4 for everything. The row measured"
              + " through the stage is the best real cascade on the frontier: "
              + string.Create(CultureInfo.InvariantCulture, $"{(strongAccuracy - accuracy) * 100:0.0} points below GPT-4 alone at {(double)(cost / strongCostMean):P0} of its cost.")
            : string.Create(CultureInfo.InvariantCulture, $"Met on the calibration half; on the held-out half the cascade is {(strongAccuracy - accuracy) * 100:0.0} points below GPT-4 at {(double)(cost / strongCostMean):P0} of its cost."));
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The learned scorer separates Mixtral's right answers from its wrong ones with an area under the ROC curve of {Auc(learnedHeldOut):0.000} on the held-out half"));
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"(the form-and-arithmetic checks: {Auc([.. evaluationRows.Select(i => (outcomes[i][0].Score, rows[i].CheapRight))]):0.000}; 0.5 is chance, 1 perfect). Calibrated for the target on cross-fitted scores of the calibration half, {(learnedCalibrated.TargetMet ? "a cascade meets it there" : "no cascade meets it there for less than GPT-4 alone")}."));
        md.AppendLine("These scorers cannot tell enough of Mixtral's wrong answers from its right ones (they check the form of an answer and its");
        md.AppendLine("annotated calculations, not whether the reasoning is right); the oracle row shows what a perfect scorer would give: better than GPT-4 alone, at under half its cost. A judge or");
        md.AppendLine("agreement scorer (another model, or several samples), which this data cannot replay, is the next thing to measure.");
        md.AppendLine();
        md.AppendLine("Cost/quality frontier on the calibration half (threshold on the cheap tier's score):");
        md.AppendLine();
        md.AppendLine("| threshold | accuracy | cost per 1,000 questions |");
        md.AppendLine("|---|---|---|");
        foreach (CascadeCalibrationPoint point in calibrated.Curve)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {Describe(point.Thresholds[0])} | {point.Quality:P1} | ${point.Cost * 1000:0.00} |");
        }

        _ = Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, md.ToString());
        Console.WriteLine(md.ToString());
    }

    // The probability that a right answer scores above a wrong one (ties count half).
    private static double Auc(List<(double Score, bool Right)> scored)
    {
        double[] right = [.. scored.Where(static s => s.Right).Select(static s => s.Score)];
        double[] wrong = [.. scored.Where(static s => !s.Right).Select(static s => s.Score)];
        double wins = 0;
        foreach (double r in right)
        {
            foreach (double w in wrong)
            {
                wins += r > w ? 1 : r == w ? 0.5 : 0;
            }
        }

        return right.Length == 0 || wrong.Length == 0 ? double.NaN : wins / (right.Length * (double)wrong.Length);
    }

    private static string Describe(double threshold) => double.IsPositiveInfinity(threshold) ? "never (GPT-4 only)" : threshold.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Line(string name, double accuracy, decimal cost, decimal strongCost, string toStrong) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name} | {accuracy:P1} | ${cost * 1000:0.00} | {(double)(cost / strongCost):P0} | {toStrong} |");

    private static decimal Cost(IPriceCatalog catalog, string model, long input, long output) =>
        catalog.TryGetPrice(model, out ModelPrice? price) ? price.CalculateCost(new TokenCounts { Input = input, Output = output }).Total : 0m;

    private static async Task<double> ScoreAsync(IAnswerScorer[] scorers, string question, string answer)
    {
        ChatResponse response = new(new ChatMessage(ChatRole.Assistant, answer)) { FinishReason = ChatFinishReason.Stop };
        AnswerScoringContext context = new([new ChatMessage(ChatRole.User, question)], null, response, 0, CheapModel, (_, _) => Task.FromResult(response));
        double score = 1;
        foreach (IAnswerScorer scorer in scorers)
        {
            score = Math.Min(score, (await scorer.ScoreAsync(context, CancellationToken.None)).Score);
        }

        return score;
    }

    // The real stage: a replay of the recorded answers behind metering, the cascade in front, receipts priced.
    private static async Task<(double Accuracy, decimal Cost, int Escalated)> RunStageAsync(List<Row> rows, List<int> evaluation, string fewShot, IAnswerScorer[] scorers, double threshold)
    {
        Dictionary<string, Row> byPrompt = rows.ToDictionary(static r => r.Question);
        ReplayClient replay = new(byPrompt, fewShot);
        using IChatClient cascade = new ModelCascadeChatClient(
            new TokenMeteringChatClient(replay),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = CheapModel, AcceptThreshold = Math.Min(threshold, 1) }, new CascadeTier { ModelId = StrongModel } },
                Scorers = [.. scorers],
            });
        int right = 0, escalated = 0;
        decimal cost = 0m;
        foreach (int i in evaluation)
        {
            Row row = rows[i];
            ChatResponse response = await cascade.GetResponseAsync(row.Question);
            CascadeReport report = response.GetCascadeReport()!;
            bool strong = report.Attempts[^1].ModelId == StrongModel;
            escalated += strong ? 1 : 0;
            right += (strong ? row.StrongRight : row.CheapRight) ? 1 : 0;
            cost += response.GetCostReceipt()!.Spent;
        }

        return ((double)right / evaluation.Count, cost / evaluation.Count, escalated);
    }

    private sealed record Row(string Question, bool CheapRight, bool StrongRight, string CheapAnswer, string StrongAnswer);

    // Answers each model with its recorded answer, with the tokens counted as the evaluation prices them.
    private sealed class ReplayClient(Dictionary<string, Row> rows, string fewShot) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            string model = options!.ModelId!;
            Row row = rows[messages.Last().Text];
            string answer = model == StrongModel ? row.StrongAnswer : row.CheapAnswer;
            string prompt = fewShot + "Question: " + row.Question + "\nAnswer:";
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer))
            {
                ModelId = model,
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails
                {
                    InputTokenCount = TiktokenTokenEstimator.Default.CountTokens(prompt, model),
                    OutputTokenCount = TiktokenTokenEstimator.Default.CountTokens(answer, model),
                },
            });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    // An app's own scorer for GSM8K-style answers: the checks a reader could make without solving the problem.
    private sealed partial class Gsm8kAnswerChecks : IAnswerScorer
    {
        public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
        {
            string text = context.Response.Text;
            bool final = Final().IsMatch(text);
            bool sums = Calculations().Matches(text).All(static m => Correct(m.Groups[1].Value, m.Groups[2].Value));
            bool plain = !Hedge().IsMatch(text);
            double score = ((final ? 1 : 0) + (sums ? 1 : 0) + (plain ? 1 : 0)) / 3d;
            return ValueTask.FromResult(new AnswerScore(score, $"final answer {(final ? "given" : "missing")}, calculations {(sums ? "right" : "wrong")}, {(plain ? "no hedging" : "hedged")}"));
        }

        private static bool Correct(string expression, string result)
        {
            try
            {
                object? value = new DataTable { Locale = CultureInfo.InvariantCulture }.Compute(expression.Replace("x", "*", StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal), null);
                return Math.Abs(Convert.ToDouble(value, CultureInfo.InvariantCulture) - double.Parse(result.Replace(",", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture)) < 1e-6;
            }
            catch (Exception ex) when (ex is EvaluateException or SyntaxErrorException or FormatException or InvalidCastException or OverflowException or DivideByZeroException)
            {
                return false;
            }
        }

        [GeneratedRegex(@"####\s*\$?-?[\d,\.]+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
        private static partial Regex Final();

        [GeneratedRegex(@"<<([^=<>]+)=([^<>]+)>>", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
        private static partial Regex Calculations();

        [GeneratedRegex(@"\b(however|assum\w*|approximately|can't|cannot|not possible|round\w*)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
        private static partial Regex Hedge();
    }
}
