using BenchmarkDotNet.Running;
using CostAware.Benchmarks;

// --semantic-quality runs the semantic cache's quality evaluation (not a timing) and writes its table.
if (args is ["--semantic-quality", ..])
{
    await SemanticQualityEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/semantic-cache-quality.md");
    return;
}

// --semantic-stream replays paraphrase sets through the semantic cache with MiniLM (static vs error-bounded) and writes its table.
if (args is ["--semantic-stream", ..])
{
    await SemanticStreamEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/semantic-cache-stream.md");
    return;
}

// --cascade-eval replays recorded GSM8K answers through the model cascade and writes its accuracy/cost table.
if (args is ["--cascade-eval", ..])
{
    await CascadeEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/cascade-evaluation.md");
    return;
}

// --cascade-judge replays MT-Bench's recorded answers and GPT-4 grades through the cascade with a judge scorer.
if (args is ["--cascade-judge", ..])
{
    await CascadeJudgeEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/cascade-judge-evaluation.md");
    return;
}

// --provider-cache replays traffic through the provider prompt caching stage against an Anthropic cache stand-in.
if (args is ["--provider-cache", ..])
{
    await ProviderCacheEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/provider-prompt-caching.md");
    return;
}

// --engine-compare runs CostAware's local chat client and ONNX Runtime GenAI's on the same model folders, a child
// process a cell (--engine-one), and writes the table.
if (args is ["--engine-compare", ..])
{
    await EngineComparison.RunAsync(args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : "benchmarks/results/onnx-engines.md", args.Contains("--quick"), args.Contains("--cuda"));
    return;
}

if (args is ["--engine-one", string engine, string folder, string concurrency, string prompt, string output, string repetitions])
{
    Environment.ExitCode = await EngineComparison.RunOneAsync(
        engine, folder, int.Parse(concurrency, System.Globalization.CultureInfo.InvariantCulture), int.Parse(prompt, System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(output, System.Globalization.CultureInfo.InvariantCulture), int.Parse(repetitions, System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (args is ["--engine-arrivals", string arrivalsEngine, string arrivalsFolder, string context])
{
    Environment.ExitCode = await EngineComparison.RunArrivalsAsync(arrivalsEngine, arrivalsFolder, int.Parse(context, System.Globalization.CultureInfo.InvariantCulture));
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
