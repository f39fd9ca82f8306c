using System.Collections.Immutable;

namespace CostAware;

/// <summary>
/// What a response cost: every real provider call behind it, every cache hit and the money it avoided.
/// </summary>
/// <remarks>
/// <para>
/// The stage that first sees a request creates the receipt and records it to the ledger; inner stages add entries to
/// the same receipt, so a cascade's two calls and an embedding call add up on one receipt.
/// </para>
/// <para>Adding entries and reading the receipt are safe from any thread; <see cref="Entries"/> is a snapshot.</para>
/// </remarks>
public sealed class CostReceipt
{
    private ImmutableArray<CostReceiptEntry> _entries = [];

    /// <summary>Initializes a new instance of the <see cref="CostReceipt"/> class.</summary>
    /// <param name="id">The receipt's id.</param>
    /// <param name="scope">Who pays.</param>
    /// <param name="createdAt">When the receipt was opened.</param>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> is <see langword="null"/>.</exception>
    public CostReceipt(Guid id, CostScope scope, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(scope);
        Id = id;
        Scope = scope;
        CreatedAt = createdAt;
    }

    /// <summary>Gets the receipt's id.</summary>
    public Guid Id { get; }

    /// <summary>Gets who pays.</summary>
    public CostScope Scope { get; }

    /// <summary>Gets when the receipt was opened.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Gets a snapshot of the entries, in the order they were added.</summary>
    public ImmutableArray<CostReceiptEntry> Entries => _entries;

    /// <summary>Gets the money spent: the sum of every priced entry's cost, in US dollars.</summary>
    /// <remarks>Unpriced entries add nothing here; check <see cref="IsFullyPriced"/> before treating the figure as complete.</remarks>
    public decimal Spent
    {
        get
        {
            decimal total = 0m;
            foreach (CostReceiptEntry entry in _entries)
            {
                total += entry.Cost?.Total ?? 0m;
            }

            return total;
        }
    }

    /// <summary>Gets the money avoided by cache hits, in US dollars.</summary>
    public decimal Avoided
    {
        get
        {
            decimal total = 0m;
            foreach (CostReceiptEntry entry in _entries)
            {
                total += entry.CostAvoided ?? 0m;
            }

            return total;
        }
    }

    /// <summary>
    /// Gets the money the providers' own prompt caches saved on this request's calls, in US dollars: cache reads at the
    /// input price less what they cost, net of the premium cache writes paid over the input price (negative when writes
    /// were not read back). Entries without a price add nothing.
    /// </summary>
    public decimal ProviderCacheSaved
    {
        get
        {
            decimal total = 0m;
            foreach (CostReceiptEntry entry in _entries)
            {
                total += entry.ProviderCacheSaved ?? 0m;
            }

            return total;
        }
    }

    /// <summary>Gets the tokens of the real provider calls (cache hits excluded), summed by class.</summary>
    public TokenCounts Tokens
    {
        get
        {
            TokenCounts total = default;
            foreach (CostReceiptEntry entry in _entries)
            {
                if (entry.Kind != CostEntryKind.CacheHit)
                {
                    total += entry.Tokens;
                }
            }

            return total;
        }
    }

    /// <summary>Gets a value indicating whether every entry has a known cost.</summary>
    public bool IsFullyPriced
    {
        get
        {
            foreach (CostReceiptEntry entry in _entries)
            {
                if (entry.Cost is null)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Gets a value indicating whether any entry's tokens were estimated rather than reported by the provider.</summary>
    public bool HasEstimates
    {
        get
        {
            foreach (CostReceiptEntry entry in _entries)
            {
                if (entry.IsEstimated)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Adds an entry.</summary>
    /// <param name="entry">The entry.</param>
    /// <exception cref="ArgumentNullException"><paramref name="entry"/> is <see langword="null"/>.</exception>
    public void Add(CostReceiptEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ImmutableInterlocked.Update(ref _entries, static (entries, added) => entries.Add(added), entry);
    }
}
