using Microsoft.Extensions.Options;

namespace CostAware.SemanticCache.Internal;

[OptionsValidator]
internal sealed partial class SemanticCacheOptionsValidator : IValidateOptions<SemanticCacheOptions>
{
}

// The attribute rules plus the rules across fields, for DI (ValidateOnStart) and for a stage built by hand.
internal sealed class SemanticCacheOptionsFullValidator : IValidateOptions<SemanticCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, SemanticCacheOptions options)
    {
        List<string> failures = Failures(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static void ThrowIfInvalid(SemanticCacheOptions options)
    {
        List<string> failures = Failures(options);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(nameof(SemanticCacheOptions), typeof(SemanticCacheOptions), failures);
        }
    }

    private static List<string> Failures(SemanticCacheOptions options)
    {
        ValidateOptionsResult result = new SemanticCacheOptionsValidator().Validate(nameof(SemanticCacheOptions), options);
        List<string> failures = result.Failed ? [.. result.Failures] : [];
        foreach ((string partition, float threshold) in options.PartitionThresholds)
        {
            if (!(threshold is >= -1f and <= 1f))
            {
                failures.Add($"SemanticCache:PartitionThresholds:{partition} is {threshold}; a cosine similarity threshold lies in [-1, 1].");
            }
        }

        if ((options.Guards & ~SemanticGuards.All) != 0)
        {
            failures.Add($"SemanticCache:Guards has unknown flags ({options.Guards}); use Numbers, Dates, Negations, Entities, All or None.");
        }

        foreach (string? name in options.SharedPartitions.Concat(options.VerifiedPartitions))
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                failures.Add("SemanticCache:SharedPartitions and SemanticCache:VerifiedPartitions must not contain an empty name.");
                break;
            }
        }

        if (options.Model2VecModelPath is { } path && !Directory.Exists(path))
        {
            failures.Add($"SemanticCache:Model2VecModelPath names '{path}', which is not a folder.");
        }

        return failures;
    }
}
