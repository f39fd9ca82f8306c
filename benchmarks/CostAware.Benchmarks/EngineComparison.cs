using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;
#if GENAI
using Microsoft.ML.OnnxRuntimeGenAI;
#endif

namespace CostAware.Benchmarks;

// CostAware's OnnxChatClient against ONNX Runtime GenAI's own chat client (OnnxRuntimeGenAIChatClient, 0.20.0) on the
// same model folders: the tiny GQA test decoder and a Llama-style decoder of about 0.43 B parameters with random
// weights (fp32, and int4 MatMulNBits as the model builder writes it). Both run on ONNX Runtime 1.32.0 in one process
// type; each cell runs in a child process of its own, so that its peak memory is its own and no cell warms another.
//
//   dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --engine-compare [results.md] [--quick] [--cuda]
//
// --cuda runs CostAware's client on the GPU (a build with -p:OnnxRuntimeNativePackage=Microsoft.ML.OnnxRuntime.Gpu.Linux,
// as eng/gpu-check.sh does; GenAI is left out there). COSTAWARE_ENGINE_MODELS keeps the written models for a next run.
internal static class EngineComparison
{
    private sealed record class Cell(string Model, string Engine, int Concurrency, int PromptTokens, int OutputTokens, int Repetitions);

    // FirstTokenMs: the mean over the requests of the time to their first token. PrefillTokensPerSecond: prompt tokens
    // over the time to the first token, one request alone. DecodeTokensPerSecond: per request, the tokens after its first
    // over the time from its first to its last (what one user sees streaming), averaged. ThroughputTokensPerSecond: all
    // answer tokens over the whole run's wall clock (the capacity under that load).
    private sealed record class Measured(
        double LoadSeconds, double FirstTokenMs, double PrefillTokensPerSecond, double DecodeTokensPerSecond, double ThroughputTokensPerSecond,
        double TotalSeconds, long OutputTokens, long PeakMegabytes, double DecodeSpread);

    public static async Task RunAsync(string output, bool quick, bool cuda)
    {
        // The children read the device from the environment they inherit.
        Environment.SetEnvironmentVariable("COSTAWARE_ENGINE_DEVICE", cuda ? "cuda" : "cpu");
        // COSTAWARE_ENGINE_MODELS keeps the written models in a folder of one's own (and reuses them next time).
        string? kept = Environment.GetEnvironmentVariable("COSTAWARE_ENGINE_MODELS");
        string root = kept ?? Directory.CreateTempSubdirectory("costaware-engines-").FullName;
        try
        {
            Console.WriteLine("writing the models…");
            string tiny = TinyModels.GqaDecoder(shareBuffer: true);
            LlamaShape shape = quick ? LlamaShape.Small : LlamaShape.Realistic;
            string Model(bool int4)
            {
                string folder = Path.Combine(root, $"llama-{shape.Hidden}x{shape.Layers}-{(int4 ? "int4" : "fp32")}");
                return kept is not null && File.Exists(Path.Combine(folder, "genai_config.json")) ? folder : LlamaModels.Write(shape, int4, folder);
            }

            string fp32 = Model(int4: false);
            string int4 = Model(int4: true);
            (string Name, string Folder, int Prompt, int Output, int Repetitions)[] models =
            [
                ("tiny GQA (test model)", tiny, 40, 64, 20),
                ($"Llama-style {shape.Parameters / 1e9:0.00} B, fp32", fp32, Math.Min(287, shape.Context - 80), 64, quick ? 3 : 2),
                ($"Llama-style {shape.Parameters / 1e9:0.00} B, int4 (MatMulNBits)", int4, Math.Min(287, shape.Context - 80), 64, 3),
            ];
            string[] engines = [.. ((string[])["costaware", "costaware-grow", "genai"]).Where(Available)];
            List<(Cell Cell, Measured Result)> results = [];
            foreach ((string name, string folder, int prompt, int answer, int repetitions) in models)
            {
                foreach (int concurrency in (int[])[1, 8])
                {
                    foreach (string engine in engines)
                    {
                        Cell cell = new(name, engine, concurrency, prompt, answer, repetitions);
                        Console.WriteLine($"{name} · {engine} · {concurrency} at once…");
                        Measured measured = await RunChildAsync(cell, folder);
                        Console.WriteLine($"   {JsonSerializer.Serialize(measured)}");
                        results.Add((cell, measured));
                    }
                }
            }

            // Arrivals spread in time on the int4 model: continuous against static batching (and GenAI's own client).
            List<(string Engine, Arrivals Result)> arrivals = [];
            foreach (string engine in ((string[])["costaware-grow", "costaware-static", "genai"]).Where(Available))
            {
                Console.WriteLine($"arrivals · {engine}…");
                Arrivals measured = await RunArrivalsChildAsync(engine, int4, shape);
                Console.WriteLine($"   {JsonSerializer.Serialize(measured)}");
                arrivals.Add((engine, measured));
            }

            await File.WriteAllTextAsync(output, Render(results, shape) + RenderArrivals(arrivals, shape));
            Console.WriteLine($"wrote {output}");
        }
        finally
        {
            if (kept is null)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static Task<Measured> RunChildAsync(Cell cell, string folder) =>
        RunChildAsync<Measured>($"{cell.Engine} on {cell.Model}", "--engine-one", cell.Engine, folder, Str(cell.Concurrency), Str(cell.PromptTokens), Str(cell.OutputTokens), Str(cell.Repetitions));

    private sealed record class Arrivals(int Requests, double MeanGapSeconds, double MeanFirstTokenSeconds, double P90FirstTokenSeconds, double MeanLatencySeconds, double P90LatencySeconds, double MakespanSeconds, long OutputTokens, double ThroughputTokensPerSecond);

    private static Task<Arrivals> RunArrivalsChildAsync(string engine, string folder, LlamaShape shape) =>
        RunChildAsync<Arrivals>($"arrivals with {engine}", "--engine-arrivals", engine, folder, Str(shape.Context));

    // This program again, in a process of its own; its last line of output is the JSON result.
    private static async Task<T> RunChildAsync<T>(string what, params string[] args)
    {
        ProcessStartInfo start = new(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith("CostAware.Benchmarks", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(EngineComparison).Assembly.Location);
        }

        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string text = await stdout;
        string? line = text.Split('\n').LastOrDefault(static l => l.StartsWith('{'));
        return process.ExitCode == 0 && line is not null
            ? JsonSerializer.Deserialize<T>(line)!
            : throw new InvalidOperationException($"{what} failed ({process.ExitCode}): {text}\n{await stderr}");
    }

    // The child for arrivals: 16 requests arriving at seeded exponential gaps (mean 0.5 s), prompts of 32–256 tokens
    // and answers of 16–96 tokens (seeded), each streamed; times from each request's own arrival.
    public static async Task<int> RunArrivalsAsync(string engine, string folder, int context)
    {
        using (IChatClient client = Engine(engine, folder))
        {
            await OneRunAsync(client, "warm g", concurrency: 1, maxTokens: 4);
            const int Requests = 16;
            const double MeanGap = 0.5;
            Random random = new(23);
            double at = 0;
            List<(double At, int Prompt, int Answer)> plan = [];
            for (int i = 0; i < Requests; i++)
            {
                plan.Add((at, random.Next(32, Math.Min(257, context - 100)), random.Next(16, 97)));
                at += -Math.Log(1 - random.NextDouble()) * MeanGap;
            }

            Stopwatch clock = Stopwatch.StartNew();
            async Task<(double First, double Latency, long Tokens)> OneAsync((double At, int Prompt, int Answer) request)
            {
                TimeSpan wait = TimeSpan.FromSeconds(request.At) - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, TimeProvider.System);
                }

                double arrived = clock.Elapsed.TotalSeconds;
                string prompt = new string((char)('a' + (request.Prompt % 26)), request.Prompt - 1) + "g";
                (TimeSpan first, TimeSpan last, long tokens) = await StreamAsync(client, prompt, request.Answer, clock);
                return (first.TotalSeconds - arrived, last.TotalSeconds - arrived, tokens);
            }

            (double First, double Latency, long Tokens)[] all = await Task.WhenAll(plan.Select(p => Task.Run(() => OneAsync(p))));
            double makespan = clock.Elapsed.TotalSeconds;
            static double P90(IEnumerable<double> values)
            {
                double[] sorted = [.. values.Order()];
                return sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1];
            }

            long tokens = all.Sum(static a => a.Tokens);
            Console.WriteLine(JsonSerializer.Serialize(new Arrivals(
                Requests, MeanGap, all.Average(static a => a.First), P90(all.Select(static a => a.First)), all.Average(static a => a.Latency),
                P90(all.Select(static a => a.Latency)), makespan, tokens, tokens / makespan)));
        }

        return 0;
    }

    private static string RenderArrivals(List<(string Engine, Arrivals Result)> arrivals, LlamaShape shape)
    {
        StringBuilder md = new();
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Arrivals spread in time (Llama-style {shape.Parameters / 1e9:0.00} B, int4; {arrivals[0].Result.Requests} requests, exponential gaps of mean {arrivals[0].Result.MeanGapSeconds} s, prompts 32–256 tokens, answers 16–96 tokens, seeded):");
        md.AppendLine();
        md.AppendLine("| engine | time to first token, mean | p90 | latency to the last token, mean | p90 | all done after | answer tokens/s |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach ((string engine, Arrivals a) in arrivals)
        {
            string name = engine switch
            {
                "genai" => "ONNX Runtime GenAI `OnnxRuntimeGenAIChatClient`",
                "costaware-grow" => "CostAware, grow mode, continuous batching (default)",
                _ => "CostAware, grow mode, static batching (`ContinuousBatching = false`)",
            };
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {a.MeanFirstTokenSeconds:N2} s | {a.P90FirstTokenSeconds:N2} s | {a.MeanLatencySeconds:N2} s | {a.P90LatencySeconds:N2} s | {a.MakespanSeconds:N1} s | {a.ThroughputTokensPerSecond:N1} |");
        }

        return md.ToString();
    }

    // The child: load the engine, warm up, run the requests `repetitions` times, print the medians as one JSON line.
    public static async Task<int> RunOneAsync(string engine, string folder, int concurrency, int promptTokens, int outputTokens, int repetitions)
    {
        Stopwatch load = Stopwatch.StartNew();
        IChatClient client = Engine(engine, folder);
        double loadSeconds = load.Elapsed.TotalSeconds;
        using (client)
        {
            // One token a byte (no merges reach further): the prompt is exactly promptTokens tokens. It ends on 'g' so
            // that the tiny model's successor table runs 64 tokens before its end of turn.
            string prompt = new string('a', promptTokens - 1) + "g";
            await OneRunAsync(client, "warm g", concurrency: 1, maxTokens: 4);
            List<Measured> runs = [];
            for (int r = 0; r < repetitions; r++)
            {
                runs.Add(await OneRunAsync(client, prompt, concurrency, outputTokens));
            }

            double Median(Func<Measured, double> f)
            {
                double[] values = [.. runs.Select(f).Order()];
                return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
            }

            double[] decode = [.. runs.Select(static m => m.DecodeTokensPerSecond)];
            Measured median = new(
                loadSeconds, Median(static m => m.FirstTokenMs), Median(static m => m.PrefillTokensPerSecond), Median(static m => m.DecodeTokensPerSecond),
                Median(static m => m.ThroughputTokensPerSecond), Median(static m => m.TotalSeconds), runs[0].OutputTokens, PeakMegabytes(),
                (decode.Max() - decode.Min()) / Median(static m => m.DecodeTokensPerSecond));
            Console.WriteLine(JsonSerializer.Serialize(median));
        }

        return 0;
    }

    // GenAI's CPU package brings the CPU runtime: it is left out of a build against the GPU runtime (no CUDA build of
    // GenAI is served by the registry).
    private static bool Available(string engine) =>
#if GENAI
        engine != "genai" || Environment.GetEnvironmentVariable("COSTAWARE_ENGINE_DEVICE") != "cuda";
#else
        engine != "genai";
#endif

    // costaware: the defaults (Auto: a model-builder folder's shared buffer); costaware-grow: grow mode, batched,
    // continuous; costaware-static: grow mode, static batching; genai: ONNX Runtime GenAI's own chat client.
    private static IChatClient Engine(string engine, string folder)
    {
        OnnxDevice device = Environment.GetEnvironmentVariable("COSTAWARE_ENGINE_DEVICE") == "cuda" ? OnnxDevice.Cuda : OnnxDevice.Cpu;
        return engine switch
        {
#if GENAI
            "genai" => new OnnxRuntimeGenAIChatClient(folder, new OnnxRuntimeGenAIChatClientOptions { PromptFormatter = static (m, _) => m.Last().Text }),
#endif
            "costaware" or "costaware-grow" or "costaware-static" => new OnnxChatClient(new OnnxChatClientOptions
            {
                ModelPath = folder,
                Device = device,
                PromptFormatter = static m => m[^1].Text,
                KvCache = engine == "costaware" ? OnnxKvCacheMode.Auto : OnnxKvCacheMode.Grow,
                ContinuousBatching = engine != "costaware-static",
                MaxBatchSize = 8,
                IntraOpThreads = int.TryParse(Environment.GetEnvironmentVariable("COSTAWARE_ENGINE_THREADS"), out int threads) ? threads : 0,
            }),
            _ => throw new ArgumentException($"No engine '{engine}' in this build.", nameof(engine)),
        };
    }

    // `concurrency` streamed requests started together: time to each first token, tokens after it, and the wall clock.
    private static async Task<Measured> OneRunAsync(IChatClient client, string prompt, int concurrency, int maxTokens)
    {
        Stopwatch clock = Stopwatch.StartNew();
        async Task<(double First, double Last, long Tokens)> OneAsync()
        {
            (TimeSpan first, TimeSpan last, long tokens) = await StreamAsync(client, prompt, maxTokens, clock);
            return (first.TotalMilliseconds, last.TotalMilliseconds, tokens);
        }

        (double First, double Last, long Tokens)[] all = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(OneAsync)));
        double end = all.Max(static a => a.Last);
        long tokens = all.Sum(static a => a.Tokens);
        return new Measured(
            0,
            all.Average(static a => a.First),
            PromptTokensOf(prompt) / (all.Average(static a => a.First) / 1000),
            all.Average(static a => (a.Tokens - 1) / Math.Max(1e-9, (a.Last - a.First) / 1000)),
            tokens / (end / 1000),
            end / 1000,
            tokens,
            0,
            0);
    }

    // One streamed request, greedy: the clock's reading at its first text and at its end, and its answer tokens (the
    // usage when the engine reports it, else the text updates).
    private static async Task<(TimeSpan First, TimeSpan Last, long Tokens)> StreamAsync(IChatClient client, string prompt, int maxTokens, Stopwatch clock)
    {
        TimeSpan? first = null;
        long updates = 0;
        long? usage = null;
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(prompt, new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0f }))
        {
            if (update.Text.Length > 0)
            {
                first ??= clock.Elapsed;
                updates++;
            }

            usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details.OutputTokenCount ?? usage;
        }

        TimeSpan last = clock.Elapsed;
        return (first ?? last, last, usage ?? updates);
    }

    private static int PromptTokensOf(string prompt) => Encoding.UTF8.GetByteCount(prompt);

    private static long PeakMegabytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }

        return 0;
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Render(List<(Cell Cell, Measured Result)> results, LlamaShape shape)
    {
        StringBuilder md = new();
        md.AppendLine("| model | engine | requests at once | time to first token (mean) | prefill tokens/s (alone) | decode tokens/s per request | answer tokens/s, all requests | throughput vs GenAI | spread of decode runs | peak memory | load |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach ((Cell cell, Measured m) in results)
        {
            Measured? genai = results.FirstOrDefault(r => r.Cell.Model == cell.Model && r.Cell.Concurrency == cell.Concurrency && r.Cell.Engine == "genai").Result;
            string ratio = genai is null ? "–" : (m.ThroughputTokensPerSecond / genai.ThroughputTokensPerSecond).ToString("0.00", CultureInfo.InvariantCulture) + "×";
            string engine = cell.Engine switch
            {
                "genai" => "ONNX Runtime GenAI `OnnxRuntimeGenAIChatClient`",
                "costaware-grow" => "CostAware `OnnxChatClient`, `KvCache = Grow` (batched)",
                _ => "CostAware `OnnxChatClient`, default (`Auto`: the config's shared buffer)",
            };
            string prefill = cell.Concurrency == 1 ? m.PrefillTokensPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "–";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {cell.Model} | {engine} | {cell.Concurrency} | {m.FirstTokenMs:N1} ms | {prefill} | {m.DecodeTokensPerSecond:N1} | {m.ThroughputTokensPerSecond:N1} | {ratio} | ±{m.DecodeSpread / 2:P0} | {m.PeakMegabytes:N0} MB | {m.LoadSeconds:N1} s |");
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Realistic shape: hidden {shape.Hidden}, {shape.Layers} layers, {shape.Heads} heads / {shape.KvHeads} KV heads, MLP {shape.Intermediate}, vocabulary {shape.Vocabulary}, context {shape.Context}; {shape.Parameters:N0} parameters.");
        return md.ToString();
    }
}
