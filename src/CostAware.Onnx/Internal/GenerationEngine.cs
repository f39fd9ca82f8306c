using System.Threading.Channels;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace CostAware.Onnx.Internal;

// Serves generation requests on a fixed number of workers. A worker takes every request waiting (up to the batch
// size) and generates them together, left-padded. With continuous batching (grow mode) the batch is regrouped between
// steps: finished and cancelled rows leave it, and requests that arrived meanwhile are prefilled and join it while
// there is room. Otherwise (static batching, as ONNX Runtime GenAI's classic path does; always with a shared buffer)
// requests arriving meanwhile wait for the batch to end, and a finished row rides along as padding until then. Each
// request samples, stops and is cancelled on its own.
internal sealed class GenerationEngine : IDisposable
{
    // Read only: TakeWaiting's answer when nothing waits.
    private static readonly List<GenerationRequest> NoneWaiting = [];

    private readonly DecoderModel _model;
    private readonly ModelTokenizer _tokenizer;
    private readonly HashSet<int> _stopIds;
    private readonly int _padId;
    private readonly bool _shared;
    private readonly int _maxLength;
    private readonly int _batchSize;
    private readonly int _chunkSize;
    private readonly bool _continuous;
    private readonly int _joinLimit;
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
        _continuous = !shared && options.ContinuousBatching && _batchSize > 1;

        // A model without position ids prefills a batch's prompts one by one anyway (DecoderRunner.Start): with
        // continuous batching they start one at a time and join between steps, so each request's first token comes
        // right after its own prefill instead of after every prompt of the batch has been read.
        _joinLimit = _continuous && model.RightPadded ? 1 : _batchSize;
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
                List<GenerationRequest> batch = TakeWaiting(_joinLimit);
                if (batch.Count > 0)
                {
                    // A batch runs for seconds on its own thread, not a thread-pool one: holding a pool thread that
                    // long starves the app (on two cores the pool starts with two threads, and the updates of this very
                    // batch waited for the batch to end before any reader saw its first token).
                    await Task.Factory.StartNew(() => RunBatch(batch), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    // Up to `count` waiting requests, those already cancelled completed as such. Asked between every two steps of a
    // continuous batch: allocates only when something is waiting.
    private List<GenerationRequest> TakeWaiting(int count)
    {
        List<GenerationRequest>? taken = null;
        while ((taken?.Count ?? 0) < count && _queue.Reader.TryRead(out GenerationRequest? request))
        {
            if (request.CancellationToken.IsCancellationRequested)
            {
                _ = request.Updates.Writer.TryComplete(new OperationCanceledException(request.CancellationToken));
            }
            else
            {
                (taken ??= []).Add(request);
            }
        }

        return taken ?? NoneWaiting;
    }

    private void RunBatch(List<GenerationRequest> batch)
    {
        List<Row> rows = [.. batch.Select(request => new Row(request, _tokenizer))];
        DecoderRunner? runner = null;
        try
        {
            long started = _time.GetTimestamp();
            long promptTokens = batch.Sum(r => r.Prompt.Count);
            runner = DecoderRunner.Start(_model, [.. batch.Select(r => r.Prompt)], _shared, _maxLength, _padId, _chunkSize);
            TimeSpan prefill = _time.GetElapsedTime(started);
            long decodeStarted = _time.GetTimestamp();
            int steps = 0;
            long generated = 0;
            TimeSpan joining = TimeSpan.Zero;
            int[] next = new int[_continuous ? _batchSize : rows.Count];
            float[] scratch = new float[runner.VocabularySize];
            while (true)
            {
                bool anyLeft = false;
                for (int b = 0; b < rows.Count; b++)
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
                    generated++;
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
                    else if (row.Generated >= row.Request.MaxNewTokens || runner.RowLength(b) + 1 > _maxLength)
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
                if (_continuous)
                {
                    // Between steps: finished rows leave, waiting requests join while there is room.
                    int active = 0;
                    foreach (Row row in rows)
                    {
                        active += row.Done ? 0 : 1;
                    }

                    List<GenerationRequest> arrived = active < _batchSize && !_stopping.IsCancellationRequested ? TakeWaiting(Math.Min(_batchSize - active, _joinLimit)) : NoneWaiting;
                    if (active < rows.Count || arrived.Count > 0)
                    {
                        long joinStarted = _time.GetTimestamp();
                        (runner, rows) = Regroup(runner, rows, arrived);
                        joining += _time.GetElapsedTime(joinStarted);
                        promptTokens += arrived.Sum(r => r.Prompt.Count);
                    }
                }
            }

            Record(promptTokens, prefill + joining, generated, _time.GetElapsedTime(decodeStarted) - joining, steps);
        }
        catch (Exception ex)
        {
            Log.BatchFailed(_logger, ex, _modelId, rows.Count);
            foreach (Row row in rows.Where(r => !r.Done))
            {
                row.Done = true;
                _ = row.Request.Updates.Writer.TryComplete(ex);
            }
        }
        finally
        {
            runner?.Dispose();
        }
    }

    // Drops the finished rows of a running grow-mode batch and joins the arrived requests, prefilled together. When
    // the joiners' prefill fails they fail alone and the batch goes on as it was.
    private (DecoderRunner Runner, List<Row> Rows) Regroup(DecoderRunner running, List<Row> rows, List<GenerationRequest> arrived)
    {
        List<int> keep = [.. Enumerable.Range(0, rows.Count).Where(i => !rows[i].Done)];
        List<Row> joined = [.. arrived.Select(request => new Row(request, _tokenizer))];
        DecoderRunner? prefilled = null;
        try
        {
            if (joined.Count > 0)
            {
                prefilled = DecoderRunner.Start(_model, [.. arrived.Select(r => r.Prompt)], shared: false, _maxLength, _padId, _chunkSize);
            }

            DecoderRunner regrouped = DecoderRunner.Regroup(running, keep, prefilled is null ? [] : [prefilled]);
            running.Dispose();
            return (regrouped, [.. keep.Select(i => rows[i]), .. joined]);
        }
        catch (Exception ex)
        {
            Log.BatchFailed(_logger, ex, _modelId, joined.Count);
            foreach (Row row in joined)
            {
                row.Done = true;
                _ = row.Request.Updates.Writer.TryComplete(ex);
            }

            return (running, rows);
        }
        finally
        {
            prefilled?.Dispose();
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
