using System.Threading.Channels;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace CostAware.Onnx.Internal;

// Serves generation requests on a fixed number of workers. A worker takes every request waiting (up to the batch
// size) and generates them together, left-padded, until the last one finishes; requests arriving meanwhile wait for
// the next batch (static batching, as ONNX Runtime GenAI's classic path does). Each request samples, stops and is
// cancelled on its own; a cancelled or finished row rides along as padding until the batch ends.
internal sealed class GenerationEngine : IDisposable
{
    private readonly DecoderModel _model;
    private readonly ModelTokenizer _tokenizer;
    private readonly HashSet<int> _stopIds;
    private readonly int _padId;
    private readonly bool _shared;
    private readonly int _maxLength;
    private readonly int _batchSize;
    private readonly int _chunkSize;
    private readonly string _modelId;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<GenerationRequest> _queue = Channel.CreateUnbounded<GenerationRequest>();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private readonly Lock _statsGate = new();
    private OnnxThroughput _throughput = new(0, TimeSpan.Zero, 0, TimeSpan.Zero);

    public GenerationEngine(
        DecoderModel model, ModelTokenizer tokenizer, HashSet<int> stopIds, int padId, bool shared, int maxLength,
        OnnxChatClientOptions options, string modelId, TimeProvider time, ILogger logger)
    {
        _model = model;
        _tokenizer = tokenizer;
        _stopIds = stopIds;
        _padId = padId;
        _shared = shared;
        _maxLength = maxLength;
        _batchSize = shared ? 1 : options.MaxBatchSize;
        _chunkSize = options.PrefillChunkSize;
        _modelId = modelId;
        _time = time;
        _logger = logger;
        _workers = [.. Enumerable.Range(0, options.MaxConcurrency).Select(_ => Task.Run(WorkAsync))];
    }

    public OnnxThroughput Throughput
    {
        get
        {
            lock (_statsGate)
            {
                return _throughput;
            }
        }
    }

    public void Enqueue(GenerationRequest request)
    {
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(request), typeof(OnnxChatClient));
    }

    private async Task WorkAsync()
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                List<GenerationRequest> batch = [];
                while (batch.Count < _batchSize && _queue.Reader.TryRead(out GenerationRequest? request))
                {
                    if (request.CancellationToken.IsCancellationRequested)
                    {
                        _ = request.Updates.Writer.TryComplete(new OperationCanceledException(request.CancellationToken));
                    }
                    else
                    {
                        batch.Add(request);
                    }
                }

                if (batch.Count > 0)
                {
                    RunBatch(batch);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private void RunBatch(List<GenerationRequest> batch)
    {
        Row[] rows = [.. batch.Select(request => new Row(request, _tokenizer))];
        try
        {
            using DecoderRunner runner = new(_model, [.. batch.Select(r => r.Prompt.Count)], _shared, _maxLength);
            long started = _time.GetTimestamp();
            runner.Prefill([.. batch.Select(r => r.Prompt)], _padId, _chunkSize);
            TimeSpan prefill = _time.GetElapsedTime(started);
            long decodeStarted = _time.GetTimestamp();
            int steps = 0;
            int[] next = new int[rows.Length];
            float[] scratch = new float[runner.VocabularySize];
            while (true)
            {
                bool anyLeft = false;
                for (int b = 0; b < rows.Length; b++)
                {
                    Row row = rows[b];
                    next[b] = _padId;
                    if (row.Done)
                    {
                        continue;
                    }

                    if (row.Request.CancellationToken.IsCancellationRequested)
                    {
                        row.Done = true;
                        _ = row.Request.Updates.Writer.TryComplete(new OperationCanceledException(row.Request.CancellationToken));
                        continue;
                    }

                    if (_stopping.IsCancellationRequested)
                    {
                        row.Done = true;
                        _ = row.Request.Updates.Writer.TryComplete(new ObjectDisposedException(nameof(OnnxChatClient)));
                        continue;
                    }

                    runner.Logits.Slice(b * runner.VocabularySize, runner.VocabularySize).CopyTo(scratch);
                    int token = row.Sampler.Next(scratch);
                    row.Generated++;
                    next[b] = token;
                    if (_stopIds.Contains(token))
                    {
                        Finish(row, ChatFinishReason.Stop);
                        continue;
                    }

                    string text = row.Streamer.Add(token);
                    Emit(row, text);
                    if (row.Streamer.Stopped)
                    {
                        Finish(row, ChatFinishReason.Stop);
                    }
                    else if (row.Generated >= row.Request.MaxNewTokens || runner.Length + 1 > _maxLength - runner.Padding(b))
                    {
                        Finish(row, ChatFinishReason.Length);
                    }
                    else
                    {
                        anyLeft = true;
                    }
                }

                if (!anyLeft)
                {
                    break;
                }

                runner.Step(next);
                steps++;
            }

            Record(batch.Sum(r => r.Prompt.Count), prefill, rows.Sum(r => r.Generated), _time.GetElapsedTime(decodeStarted), steps);
        }
        catch (Exception ex)
        {
            Log.BatchFailed(_logger, ex, _modelId, rows.Length);
            foreach (Row row in rows.Where(r => !r.Done))
            {
                row.Done = true;
                _ = row.Request.Updates.Writer.TryComplete(ex);
            }
        }
    }

    private void Record(long promptTokens, TimeSpan prefill, long outputTokens, TimeSpan decode, int steps)
    {
        lock (_statsGate)
        {
            _throughput = new OnnxThroughput(
                _throughput.PromptTokens + promptTokens,
                _throughput.PrefillTime + prefill,
                _throughput.OutputTokens + outputTokens,
                _throughput.DecodeTime + (steps == 0 ? TimeSpan.Zero : decode));
        }
    }

    private void Emit(Row row, string text)
    {
        if (text.Length > 0)
        {
            _ = row.Request.Updates.Writer.TryWrite(Update(row, [new TextContent(text)]));
        }
    }

    private void Finish(Row row, ChatFinishReason reason)
    {
        row.Done = true;
        Emit(row, row.Streamer.Flush());
        UsageDetails usage = new()
        {
            InputTokenCount = row.Request.Prompt.Count,
            OutputTokenCount = row.Generated,
            TotalTokenCount = row.Request.Prompt.Count + row.Generated,
        };
        ChatResponseUpdate last = Update(row, [new UsageContent(usage)]);
        last.FinishReason = reason;
        _ = row.Request.Updates.Writer.TryWrite(last);
        _ = row.Request.Updates.Writer.TryComplete();
    }

    private ChatResponseUpdate Update(Row row, IList<AIContent> contents) => new(ChatRole.Assistant, contents)
    {
        ResponseId = row.ResponseId,
        MessageId = row.ResponseId,
        ModelId = _modelId,
        CreatedAt = _time.GetUtcNow(),
    };

    public void Dispose()
    {
        if (!_queue.Writer.TryComplete())
        {
            return;
        }

        _stopping.Cancel();
        while (_queue.Reader.TryRead(out GenerationRequest? request))
        {
            _ = request.Updates.Writer.TryComplete(new ObjectDisposedException(nameof(OnnxChatClient)));
        }

        // The workers observe the cancellation between steps and stop; the model is released only after the last
        // one has left its run (never under a running session). The token source is left to the collector so that a
        // worker still reading its token never meets a disposed source.
        _ = Task.WhenAll(_workers).ContinueWith(_ => _model.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private sealed class Row(GenerationRequest request, ModelTokenizer tokenizer)
    {
        public GenerationRequest Request { get; } = request;
        public TokenSampler Sampler { get; } = new(request.Sampling);
        public TextStreamer Streamer { get; } = new(tokenizer, request.StopSequences);
        public string ResponseId { get; } = "onnx-" + Guid.NewGuid().ToString("N");
        public int Generated { get; set; }
        public bool Done { get; set; }
    }
}
