using BenchmarkDotNet.Running;
using CostAware.Benchmarks;

// --semantic-quality runs the semantic cache's quality evaluation (not a timing) and writes its table.
if (args is ["--semantic-quality", ..])
{
    await SemanticQualityEvaluation.RunAsync(args.Length > 1 ? args[1] : "benchmarks/results/semantic-cache-quality.md");
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
