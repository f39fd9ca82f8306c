using Microsoft.Extensions.Options;

namespace CostAware.Onnx.Internal;

[OptionsValidator]
internal sealed partial class OnnxChatClientOptionsValidator : IValidateOptions<OnnxChatClientOptions>
{
}

[OptionsValidator]
internal sealed partial class OnnxEmbeddingGeneratorOptionsValidator : IValidateOptions<OnnxEmbeddingGeneratorOptions>
{
}

// The rules the attributes cannot express, for DI (ValidateOnStart) and for a client built by hand, which runs the
// attribute rules and these when it is built: the same shape as every other CostAware options type.
internal sealed class OnnxOptionsCrossFieldValidator : IValidateOptions<OnnxChatClientOptions>, IValidateOptions<OnnxEmbeddingGeneratorOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxChatClientOptions options) => Result(OnnxOptionsValidation.CrossFieldFailures(options, OnnxOptionsValidation.ChatSection));

    public ValidateOptionsResult Validate(string? name, OnnxEmbeddingGeneratorOptions options) => Result(OnnxOptionsValidation.CrossFieldFailures(options, OnnxOptionsValidation.EmbeddingsSection));

    private static ValidateOptionsResult Result(IEnumerable<string> failures)
    {
        List<string> list = [.. failures];
        return list.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(list);
    }
}

internal static class OnnxOptionsValidation
{
    public const string ChatSection = "Onnx:Chat";
    public const string EmbeddingsSection = "Onnx:Embeddings";

    public static void ThrowIfInvalid(OnnxChatClientOptions options) =>
        Throw(options, new OnnxChatClientOptionsValidator().Validate(nameof(OnnxChatClientOptions), options), ChatSection);

    public static void ThrowIfInvalid(OnnxEmbeddingGeneratorOptions options) =>
        Throw(options, new OnnxEmbeddingGeneratorOptionsValidator().Validate(nameof(OnnxEmbeddingGeneratorOptions), options), EmbeddingsSection);

    public static IEnumerable<string> CrossFieldFailures(OnnxModelOptions options, string section)
    {
        if (!string.IsNullOrWhiteSpace(options.ModelPath) && !Directory.Exists(options.ModelPath))
        {
            yield return $"{section}:ModelPath names '{options.ModelPath}', which is not a folder; it must be the model's folder.";
        }

        if (!Enum.IsDefined(options.Device))
        {
            yield return $"{section}:Device is {options.Device}; use Auto, Cpu or Cuda.";
        }
    }

    private static void Throw<T>(T options, ValidateOptionsResult attributes, string section)
        where T : OnnxModelOptions
    {
        List<string> failures = attributes.Failed ? [.. attributes.Failures] : [];
        failures.AddRange(CrossFieldFailures(options, section));
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(typeof(T).Name, typeof(T), failures);
        }
    }
}
