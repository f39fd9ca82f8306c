using Microsoft.Extensions.Options;

namespace CostAware.Internal;

[OptionsValidator]
internal sealed partial class ProviderPromptCachingOptionsValidator : IValidateOptions<ProviderPromptCachingOptions>
{
}

// The check a stage built without DI runs when it is built rather than on its first call.
internal static class ProviderPromptCachingOptionsValidation
{
    public static void ThrowIfInvalid(ProviderPromptCachingOptions options)
    {
        ValidateOptionsResult result = new ProviderPromptCachingOptionsValidator().Validate(nameof(ProviderPromptCachingOptions), options);
        if (result.Failed)
        {
            throw new OptionsValidationException(nameof(ProviderPromptCachingOptions), typeof(ProviderPromptCachingOptions), result.Failures);
        }
    }
}
