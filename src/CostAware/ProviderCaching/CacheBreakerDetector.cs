using System.Collections.Concurrent;

namespace CostAware.Internal;

// Finds cache breakers: a long prompt start (a system prompt, usually) that changes between consecutive calls of the
// same family only in a small span (a timestamp, a request id, a user's name), so that the provider can never reuse
// what comes after it. A family is a tenant's prompts of about the same length that begin alike. Each family is
// reported once. Bounded; thread-safe.
internal sealed class CacheBreakerDetector(int capacity)
{
    // A change this short, anywhere before the last tenth of the text, is a volatile span rather than a new prompt.
    private const int MaxVolatileSpan = 64;
    private const int FamilyPrefix = 32;
    // Only the start of a long prompt is compared (and kept): what breaks a cache early is what costs.
    private const int Compared = 16_384;

    private readonly ConcurrentDictionary<(UInt128 Tenant, string Start, int Bucket), Family> _families = new();

    // The offset and length of the volatile span when this text breaks the family's cache for the first time; else null.
    public (int Offset, int Length)? Observe(UInt128 tenant, string text)
    {
        if (text.Length < FamilyPrefix * 4)
        {
            return null;
        }

        int bucket = text.Length / 256;
        text = text.Length > Compared ? text[..Compared] : text;

        // The start is cut before any digit, so that a timestamp at the very start does not split the family.
        int cut = 0;
        while (cut < FamilyPrefix && !char.IsAsciiDigit(text[cut]))
        {
            cut++;
        }

        (UInt128, string, int) key = (tenant, text[..cut], bucket);
        if (!_families.TryGetValue(key, out Family? family))
        {
            if (_families.Count >= capacity)
            {
                return null;
            }

            family = _families.GetOrAdd(key, static _ => new Family());
        }

        return family.Observe(text);
    }

    private sealed class Family
    {
        private readonly Lock _gate = new();
        private string? _last;
        private bool _reported;

        public (int Offset, int Length)? Observe(string text)
        {
            lock (_gate)
            {
                string? last = _last;
                _last = text;
                if (_reported || last is null || string.Equals(last, text, StringComparison.Ordinal))
                {
                    return null;
                }

                int common = text.AsSpan().CommonPrefixLength(last);
                int shorter = Math.Min(text.Length, last.Length);
                int suffix = 0;
                while (suffix < shorter - common && text[^(suffix + 1)] == last[^(suffix + 1)])
                {
                    suffix++;
                }

                int span = Math.Max(text.Length, last.Length) - common - suffix;
                if (span > MaxVolatileSpan || common >= text.Length * 9 / 10)
                {
                    return null;
                }

                _reported = true;
                return (common, span);
            }
        }
    }
}
