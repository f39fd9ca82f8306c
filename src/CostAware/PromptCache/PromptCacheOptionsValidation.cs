using Microsoft.Extensions.Options;

namespace CostAware.Internal;

[OptionsValidator]
internal sealed partial class PromptCacheOptionsValidator : IValidateOptions<PromptCacheOptions>
{
}

// Rules across fields, and the check a stage built without DI runs when it is built rather than on its first call.
internal static class PromptCacheOptionsValidation
{
    public static void ThrowIfInvalid(PromptCacheOptions options)
    {
        ValidateOptionsResult result = new PromptCacheOptionsValidator().Validate(nameof(PromptCacheOptions), options);
        List<string> failures = result.Failed ? [.. result.Failures] : [];
        failures.AddRange(CrossFieldFailures(options));
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(nameof(PromptCacheOptions), typeof(PromptCacheOptions), failures);
        }
    }

    public static IEnumerable<string> CrossFieldFailures(PromptCacheOptions options)
    {
        if (options.LocalTimeToLive is { } local && local > options.TimeToLive)
        {
            yield return $"PromptCache:LocalTimeToLive ({local}) must not exceed PromptCache:TimeToLive ({options.TimeToLive}).";
        }

        foreach (string? name in options.SharedPartitions)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                yield return "PromptCache:SharedPartitions must not contain an empty name.";
            }
        }
    }
}

internal sealed class PromptCacheOptionsCrossFieldValidator : IValidateOptions<CostAwareOptions>
{
    public ValidateOptionsResult Validate(string? name, CostAwareOptions options)
    {
        List<string> failures = [.. PromptCacheOptionsValidation.CrossFieldFailures(options.PromptCache)];
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
