using Microsoft.Extensions.Options;

namespace CostAware.Batching.Internal;

[OptionsValidator]
internal sealed partial class BatchDeferralOptionsValidator : IValidateOptions<BatchDeferralOptions>
{
}

// The rules the attributes cannot express; with the generated validator, checked at start-up (ValidateOnStart), the
// same shape as every other CostAware options type.
internal sealed class BatchDeferralOptionsCrossFieldValidator : IValidateOptions<BatchDeferralOptions>
{
    public ValidateOptionsResult Validate(string? name, BatchDeferralOptions options)
    {
        List<string> failures = [.. CrossFieldFailures(options)];
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static IEnumerable<string> CrossFieldFailures(BatchDeferralOptions options)
    {
        if (options.MaxPollInterval < options.PollInterval)
        {
            yield return $"Batching:MaxPollInterval ({options.MaxPollInterval}) must not be shorter than Batching:PollInterval ({options.PollInterval}).";
        }

        for (int i = 0; i < (options.DeferScopes?.Count ?? 0); i++)
        {
            if (options.DeferScopes![i] is null)
            {
                yield return $"Batching:DeferScopes:{i} is null.";
            }
        }
    }
}
