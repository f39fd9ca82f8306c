using System.Globalization;
using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// A null message or content item is the caller's mistake; it is reported as such, naming where it is, rather than as
// a NullReferenceException from deep inside the key builder or the tokenizer.
internal static class MessageChecks
{
    public static void ThrowIfInvalid(IEnumerable<ChatMessage> messages, string paramName)
    {
        if (messages is IList<ChatMessage> list)
        {
            // Indexed, so that the check allocates no enumerator on every call.
            for (int k = 0; k < list.Count; k++)
            {
                Check(list[k], k, paramName);
            }

            return;
        }

        int i = 0;
        foreach (ChatMessage? message in messages)
        {
            Check(message, i++, paramName);
        }
    }

    private static void Check(ChatMessage? message, int i, string paramName)
    {
        if (message is null)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"messages[{i}] is null."), paramName);
        }

        IList<AIContent> contents = message.Contents;
        for (int j = 0; j < contents.Count; j++)
        {
            if (contents[j] is null)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"messages[{i}].Contents[{j}] is null."), paramName);
            }
        }
    }
}
