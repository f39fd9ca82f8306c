namespace CostAware.Samples.ProviderCaching;

// Anthropic's prompt cache as its prompt caching guide describes it, over a request's blocks (the prefix hash and the
// tokens so far after each, and the lifetime of the breakpoint that ends it, if any): a request reads the longest live
// prefix ending at one of its breakpoints or up to 20 blocks before one (a read refreshes its lifetime); every
// breakpoint's prefix of at least 1,024 tokens is cached for its lifetime from now, and the tokens beyond what was read,
// up to the last breakpoint, are billed as written. Shared by the in-process model (sample, benchmark) and the wire
// stand-in (tests).
internal sealed class AnthropicCacheRules
{
    private const int Minimum = 1024;
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly Dictionary<UInt128, (DateTimeOffset Expires, TimeSpan Ttl)> _cache = [];

    public (long Read, long Written5m, long Written1h) Apply(IReadOnlyList<(UInt128 Key, long Tokens, TimeSpan? Ttl)> blocks, DateTimeOffset now)
    {
        long read = 0;
        int readAt = -1;
        for (int b = 0; b < blocks.Count; b++)
        {
            if (blocks[b].Ttl is null)
            {
                continue;
            }

            for (int j = b; j >= Math.Max(0, b - 20); j--)
            {
                if (blocks[j].Tokens > read && _cache.TryGetValue(blocks[j].Key, out var entry) && entry.Expires > now)
                {
                    (read, readAt) = (blocks[j].Tokens, j);
                }
            }
        }

        if (readAt >= 0)
        {
            TimeSpan lifetime = _cache[blocks[readAt].Key].Ttl;
            _cache[blocks[readAt].Key] = (now + lifetime, lifetime);
        }

        long written5m = 0, written1h = 0, writtenUpTo = read;
        foreach ((UInt128 key, long tokens, TimeSpan? mark) in blocks)
        {
            if (mark is not { } ttl || tokens < Minimum)
            {
                continue;
            }

            bool live = _cache.TryGetValue(key, out var entry) && entry.Expires > now;
            TimeSpan lifetime = live && entry.Ttl > ttl ? entry.Ttl : ttl;
            _cache[key] = (now + lifetime, lifetime);
            if (!live && tokens > writtenUpTo)
            {
                written1h += ttl >= Hour ? tokens - writtenUpTo : 0;
                written5m += ttl >= Hour ? 0 : tokens - writtenUpTo;
                writtenUpTo = tokens;
            }
        }

        return (read, written5m, written1h);
    }
}
