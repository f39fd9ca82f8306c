using Microsoft.Extensions.Options;

namespace CostAware.Internal;

[OptionsValidator]
internal sealed partial class CostAwareOptionsValidator : IValidateOptions<CostAwareOptions>
{
}
