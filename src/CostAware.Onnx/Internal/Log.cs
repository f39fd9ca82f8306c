using Microsoft.Extensions.Logging;

namespace CostAware.Onnx.Internal;

internal static partial class Log
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Local model '{ModelFile}' runs on {Device}.")]
    public static partial void DeviceChosen(ILogger logger, string modelFile, string device);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Local model '{ModelFile}' runs on the CPU: {Reason}")]
    public static partial void AutoOnCpu(ILogger logger, string modelFile, string reason);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "Local model '{ModelFile}' was asked to run on CUDA but runs on the CPU (FallBackToCpu): {Reason}")]
    public static partial void CudaFallback(ILogger logger, string modelFile, string reason);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "Local chat model '{ModelId}' loaded: {Layers} layers, KV cache {CacheMode}, context {MaxLength} tokens, template {Template}, device {Device}.")]
    public static partial void ChatModelLoaded(ILogger logger, string modelId, int layers, string cacheMode, int maxLength, string template, string device);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Information, Message = "Local embedding model '{ModelId}' loaded: {Dimensions} dimensions, pooling {Pooling}, device {Device}.")]
    public static partial void EmbeddingModelLoaded(ILogger logger, string modelId, int dimensions, OnnxPooling pooling, string device);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Debug, Message = "Local chat model '{ModelId}' ignores {Count} tool definitions: tool calling is not supported locally.")]
    public static partial void ToolsIgnored(ILogger logger, string modelId, int count);

    [LoggerMessage(EventId = 9007, Level = LogLevel.Error, Message = "Local model '{ModelId}' failed a batch of {Rows} requests.")]
    public static partial void BatchFailed(ILogger logger, Exception exception, string modelId, int rows);
}
