using System.ComponentModel.DataAnnotations;

namespace CostAware.Internal;

// A cascade tier's accept threshold: 0 or more, +∞ included (the options generator cannot write a range up to +∞).
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ThresholdAttribute : ValidationAttribute
{
    public ThresholdAttribute()
        : base("The field {0} must be 0 or more: scores are in [0, 1], 0 serves without scoring and above 1 never serves the tier.")
    {
    }

    public override bool IsValid(object? value) => value is not double threshold || threshold >= 0d;
}
