using Microsoft.Extensions.AI;

namespace CostAware.Internal.Batching;

internal static class ProviderOptions
{
    // CostAware's own keys never reach the provider (as in the metering stage).
    public static ChatOptions? WithoutOwnKeys(ChatOptions? options)
    {
        if (options?.AdditionalProperties is not { Count: > 0 } properties)
        {
            return options;
        }

        ChatOptions copy = options.Clone();
        AdditionalPropertiesDictionary kept = [];
        foreach (KeyValuePair<string, object?> property in properties)
        {
            if (!property.Key.StartsWith(CostAwareProperties.Prefix, StringComparison.Ordinal))
            {
                kept[property.Key] = property.Value;
            }
        }

        copy.AdditionalProperties = kept.Count > 0 ? kept : null;
        return copy;
    }
}
