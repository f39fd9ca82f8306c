using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// CostAware's own ChatOptions keys (costaware.*) are for its stages, never for a provider: this is the one place that
// decides what a provider sees, used by the metering stage and by the batch stage's request writers.
internal static class OwnKeys
{
    public static bool Any(AdditionalPropertiesDictionary? properties)
    {
        if (properties is null)
        {
            return false;
        }

        foreach (KeyValuePair<string, object?> property in properties)
        {
            if (property.Key.StartsWith(CostAwareProperties.Prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    // The options as a provider should see them: a copy without CostAware's keys, or the options themselves when they
    // carry none.
    public static ChatOptions? Without(ChatOptions? options)
    {
        if (options is null || !Any(options.AdditionalProperties))
        {
            return options;
        }

        AdditionalPropertiesDictionary kept = [];
        foreach (KeyValuePair<string, object?> property in options.AdditionalProperties!)
        {
            if (!property.Key.StartsWith(CostAwareProperties.Prefix, StringComparison.Ordinal))
            {
                kept[property.Key] = property.Value;
            }
        }

        ChatOptions copy = options.Clone();
        copy.AdditionalProperties = kept.Count > 0 ? kept : null;
        return copy;
    }
}
