using Microsoft.Extensions.Options;

namespace CostAware.Redis.Internal;

// The attribute rules, source-generated as for every CostAware options type. AddCostAwareRedis runs them at
// registration, not at start-up: whether the app uses Redis or memory is decided there.
[OptionsValidator]
internal sealed partial class CostAwareRedisOptionsValidator : IValidateOptions<CostAwareRedisOptions>
{
}
