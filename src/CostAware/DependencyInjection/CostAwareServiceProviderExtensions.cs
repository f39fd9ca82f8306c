using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Checks CostAware's configuration in an app that does not run under the generic host.</summary>
public static class CostAwareServiceProviderExtensions
{
    /// <summary>
    /// Validates now every option registered with <c>ValidateOnStart</c> (all of CostAware's, and any other the app
    /// registered that way), as the generic host does when it starts. An app that builds a plain
    /// <c>ServiceProvider</c> (a console tool, a test) never starts a host, so without this call a bad configuration is
    /// found only when the first call needs it.
    /// </summary>
    /// <param name="services">The built service provider.</param>
    /// <param name="cancellationToken">Cancels the validation.</param>
    /// <returns>A task that completes when every option has been validated.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">An option is not valid; the message names it and the value.</exception>
    /// <exception cref="InvalidOperationException">A configuration section could not be bound (an unknown key, a value of the wrong type).</exception>
    public static async Task ValidateCostAwareOptionsAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.GetService<IAsyncStartupValidator>() is { } validator)
        {
            await validator.ValidateAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
