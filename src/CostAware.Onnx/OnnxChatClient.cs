using System.Runtime.CompilerServices;
using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// A chat client that runs a decoder-only model in process with ONNX Runtime: on an NVIDIA GPU through CUDA when the
/// app ships the GPU runtime, on the CPU otherwise. It is an <see cref="IChatClient"/> like a remote provider's, so the
/// same pipeline (metering, caches, budgets, cascade) runs over it.
/// </summary>
/// <remarks>
/// <para>
/// Loads a model folder as ONNX Runtime GenAI's model builder or Optimum export it: <c>genai_config.json</c> (or
/// Hugging Face <c>config.json</c> and <c>generation_config.json</c>), the <c>.onnx</c> file and its tokenizer
/// (<c>tokenizer.json</c>, <c>tokenizer.model</c>, <c>vocab.json</c> with <c>merges.txt</c>, or a <c>.tiktoken</c>
/// file). Inputs, outputs and the KV cache's shape are read from the session.
/// </para>
/// <para>
/// Honours <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopP"/>, <see cref="ChatOptions.TopK"/>,
/// <see cref="ChatOptions.Seed"/>, <see cref="ChatOptions.FrequencyPenalty"/>, <see cref="ChatOptions.PresencePenalty"/>,
/// <see cref="ChatOptions.StopSequences"/> and <see cref="ChatOptions.MaxOutputTokens"/>; sampling is greedy unless the
/// request or the model's generation defaults ask for sampling. Tools are ignored (no tool calling); non-text content
/// is refused. Usage is exact (the client tokenises), reported as <see cref="UsageDetails"/>.
/// </para>
/// <para>Thread-safe: concurrent requests share one session and are batched (see <see cref="OnnxChatClientOptions.MaxBatchSize"/>).</para>
/// </remarks>
public sealed class OnnxChatClient : IChatClient
{
    private const int DefaultContextCap = 4096;

    private readonly DecoderModel _model;
    private readonly ModelTokenizer _tokenizer;
    private readonly GenerationEngine _engine;
    private readonly OnnxChatTemplate _template;
    private readonly Func<IReadOnlyList<ChatMessage>, string>? _formatter;
    private readonly int _maxLength;
    private readonly int _defaultMaxOutput;
    private readonly ILogger _logger;
    private int _toolsLogged;
    private int _disposed;

    /// <summary>Initializes a new instance of the <see cref="OnnxChatClient"/> class and loads the model.</summary>
    /// <param name="options">The model folder, device and generation settings.</param>
    /// <param name="loggerFactory">Where the device choice and failures are logged.</param>
    /// <param name="timeProvider">The clock for timestamps and throughput; the system clock when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range, or the model folder does not exist; the message names the option.</exception>
    /// <exception cref="FileNotFoundException">The model folder has no tokenizer.</exception>
    /// <exception cref="OnnxBackendException">The runtime, device or model cannot be used; <see cref="OnnxBackendException.Failure"/> says which.</exception>
    public OnnxChatClient(OnnxChatClientOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OnnxOptionsValidation.ThrowIfInvalid(options);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<OnnxChatClient>();
        string directory = Path.GetFullPath(options.ModelPath);
        DecoderConfig config = DecoderConfig.Load(directory);
        _tokenizer = ModelTokenizerLoader.Load(directory);
        ModelId = options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        _formatter = options.PromptFormatter;
        _template = _formatter is null ? ChatTemplates.Resolve(options.ChatTemplate, _tokenizer, config.ModelType) : options.ChatTemplate;
        _model = DecoderModel.Load(config, options, _logger);
        try
        {
            bool shared = options.KvCache == OnnxKvCacheMode.SharedBuffer || (options.KvCache == OnnxKvCacheMode.Auto && config.ShareBuffer == true);
            _maxLength = options.MaxLength ?? Math.Min(config.ContextLength ?? DefaultContextCap, DefaultContextCap);
            _defaultMaxOutput = options.DefaultMaxOutputTokens;
            HashSet<int> stopIds = [.. config.EosIds];
            foreach (string marker in ChatTemplates.EndOfTurnTokens(_template))
            {
                if (_tokenizer.SpecialTokens.TryGetValue(marker, out int id))
                {
                    _ = stopIds.Add(id);
                }
            }

            int padId = config.PadId ?? (stopIds.Count > 0 ? stopIds.Min() : 0);
            Device = _model.Device;
            Metadata = new ChatClientMetadata("onnxruntime", new Uri("onnxruntime:" + Device), ModelId);
            _engine = new GenerationEngine(_model, _tokenizer, stopIds, padId, shared, _maxLength, options, ModelId, timeProvider ?? TimeProvider.System, _logger);
            Log.ChatModelLoaded(_logger, ModelId, _model.Layers, shared ? "shared buffer" : "grow", _maxLength, _formatter is null ? _template.ToString() : "custom", Device);
        }
        catch
        {
            _model.Dispose();
            throw;
        }
    }

    /// <summary>Gets the model id reported in responses and priced by the metering stage.</summary>
    public string ModelId { get; }

    /// <summary>Gets where the model runs: <c>cpu</c> or <c>cuda:&lt;id&gt;</c>.</summary>
    public string Device { get; }

    /// <summary>Gets the provider (<c>onnxruntime</c>), the device (as the provider URI, <c>onnxruntime:cpu</c> or <c>onnxruntime:cuda:0</c>) and the model id.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <summary>Gets the tokens read and written so far and the time they took; see <see cref="OnnxThroughput.ToPrice"/>.</summary>
    public OnnxThroughput Throughput => _engine.Throughput;

    /// <summary>Counts the tokens of a prompt as this model's tokenizer and chat template render it.</summary>
    /// <param name="messages">The conversation.</param>
    /// <returns>The number of prompt tokens.</returns>
    public int CountPromptTokens(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return _tokenizer.EncodeToIds(Format([.. messages])).Count;
    }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // A caller that stops reading early (or cancels) stops the generation at its next step, freeing the model.
        using CancellationTokenSource abandoned = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        GenerationRequest request = Start(messages, options, abandoned.Token);
        try
        {
            await foreach (ChatResponseUpdate update in request.Updates.Reader.ReadAllAsync(cancellationToken))
            {
                yield return update;
            }
        }
        finally
        {
            await abandoned.CancelAsync();
        }
    }

    private GenerationRequest Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        ChatMessage[] conversation = [.. messages];
        if (conversation.Length == 0)
        {
            throw new ArgumentException("At least one message is required.", nameof(messages));
        }

        if (options?.Tools is { Count: > 0 } tools && Interlocked.Exchange(ref _toolsLogged, 1) == 0)
        {
            Log.ToolsIgnored(_logger, ModelId, tools.Count);
        }

        IReadOnlyList<int> prompt = _tokenizer.EncodeToIds(Format(conversation));
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt renders to no tokens.", nameof(messages));
        }

        if (prompt.Count >= _maxLength)
        {
            throw new ArgumentException($"The prompt is {prompt.Count} tokens; the model '{ModelId}' holds at most {_maxLength} (MaxLength), answer included.", nameof(messages));
        }

        int maxOutput = options?.MaxOutputTokens is int asked
            ? asked > 0 ? asked : throw new ArgumentOutOfRangeException(nameof(options), asked, "MaxOutputTokens must be positive.")
            : _defaultMaxOutput;
        GenerationRequest request = new(
            prompt, SamplingSettings.From(options, _model.Config), Math.Min(maxOutput, _maxLength - prompt.Count), options?.StopSequences?.ToArray(), cancellationToken);
        _engine.Enqueue(request);
        return request;
    }

    private string Format(IReadOnlyList<ChatMessage> conversation) =>
        _formatter is not null ? _formatter(conversation) : ChatTemplates.Format(_template, conversation);

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? Metadata
            : serviceType == typeof(Microsoft.ML.OnnxRuntime.InferenceSession) ? _model.Session
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>
    /// Fails requests still waiting, and those being generated at their next step, with <see cref="ObjectDisposedException"/>;
    /// the model is released when the running batch has stopped.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The engine releases the model once its workers have stopped.
            _engine.Dispose();
        }
    }
}
