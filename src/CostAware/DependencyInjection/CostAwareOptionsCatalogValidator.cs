using Microsoft.Extensions.Options;

namespace CostAware.Internal;

// Cross-field and content rules: the catalog the options describe must build, so a bad price file or a typo in
// configuration stops the app at start-up instead of mispricing its first call.
internal sealed class CostAwareOptionsCatalogValidator : IValidateOptions<CostAwareOptions>
{
    public ValidateOptionsResult Validate(string? name, CostAwareOptions options)
    {
        if (options.UnknownModelPolicy == UnknownModelPolicy.UseDefaultPrice && options.DefaultPrice is null)
        {
            return ValidateOptionsResult.Fail(
                "CostAware:DefaultPrice is required when CostAware:UnknownModelPolicy is UseDefaultPrice.");
        }

        try
        {
            _ = PriceCatalogFactory.GetOrCreate(options);
            return ValidateOptionsResult.Success;
        }
        catch (PriceCatalogException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
