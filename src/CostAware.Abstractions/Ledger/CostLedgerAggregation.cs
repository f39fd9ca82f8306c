namespace CostAware;

/// <summary>
/// The one definition of what an aggregate counts, for ledgers that sum in memory (and for exports read back), and the
/// time buckets every ledger uses.
/// </summary>
public static class CostLedgerAggregation
{
    /// <summary>The length of the partial buckets a database ledger sums in SQL: every time zone's offset is a multiple of it.</summary>
    public static readonly TimeSpan PartialBucket = TimeSpan.FromMinutes(15);

    /// <summary>Sums rows as <see cref="ICostLedgerAggregates.AggregateAsync"/> does.</summary>
    /// <param name="records">The rows (any order); those outside <see cref="CostLedgerAggregateQuery.Filter"/> are skipped.</param>
    /// <param name="query">What to sum and how to group it.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>One row per group.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static async Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(
        IAsyncEnumerable<CostLedgerRecord> records, CostLedgerAggregateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(query);
        CostLedgerQuery filter = query.Filter ?? CostLedgerQuery.All;
        List<CostLedgerAggregate> rows = [];
        await foreach (CostLedgerRecord record in records.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (filter.Matches(record))
            {
                rows.Add(Row(record, query));
            }
        }

        return Fold(rows, query);
    }

    /// <summary>
    /// Folds partial sums (each with its <see cref="CostLedgerAggregate.BucketStart"/> at a UTC moment, for example the
    /// start of a <see cref="PartialBucket"/>) into the query's buckets in its time zone, then orders them and keeps the
    /// top spenders when asked.
    /// </summary>
    /// <param name="partial">The partial sums.</param>
    /// <param name="query">The query they answer.</param>
    /// <returns>One row per group.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IReadOnlyList<CostLedgerAggregate> Fold(IEnumerable<CostLedgerAggregate> partial, CostLedgerAggregateQuery query)
    {
        ArgumentNullException.ThrowIfNull(partial);
        ArgumentNullException.ThrowIfNull(query);
        TimeZoneInfo zone = query.TimeZone ?? TimeZoneInfo.Utc;
        Dictionary<(string? Key, string? Model, DateTimeOffset Bucket), CostLedgerAggregate> groups = [];
        foreach (CostLedgerAggregate row in partial)
        {
            DateTimeOffset bucket = BucketStart(row.BucketStart, query.Bucket, zone);
            (string?, string?, DateTimeOffset) key = (row.Key, row.ModelId, bucket);
            groups[key] = groups.TryGetValue(key, out CostLedgerAggregate? sum) ? sum.Add(row) : row with { BucketStart = bucket };
        }

        IEnumerable<CostLedgerAggregate> ordered = groups.Values
            .OrderBy(static r => r.BucketStart).ThenBy(static r => r.Key, StringComparer.Ordinal).ThenBy(static r => r.ModelId, StringComparer.Ordinal);
        return [.. query.Top is { } top ? ordered.OrderByDescending(static r => r.Spent).Take(top) : ordered];
    }

    /// <summary>The start of the bucket a moment falls in, in a time zone.</summary>
    /// <param name="moment">The moment.</param>
    /// <param name="bucket">The bucket size.</param>
    /// <param name="zone">The time zone whose hours, days or months are the buckets.</param>
    /// <returns>The bucket's start with the zone's offset at that start; <see cref="DateTimeOffset.MinValue"/> for <see cref="CostLedgerBucket.None"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="zone"/> is <see langword="null"/>.</exception>
    public static DateTimeOffset BucketStart(DateTimeOffset moment, CostLedgerBucket bucket, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (bucket == CostLedgerBucket.None)
        {
            return DateTimeOffset.MinValue;
        }

        DateTimeOffset local = TimeZoneInfo.ConvertTime(moment, zone);
        DateTime start = bucket switch
        {
            CostLedgerBucket.Hour => new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified),
            CostLedgerBucket.Day => new DateTime(local.Year, local.Month, local.Day, 0, 0, 0, DateTimeKind.Unspecified),
            CostLedgerBucket.Month => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified),
            _ => throw new ArgumentOutOfRangeException(nameof(bucket), bucket, "Not a CostLedgerBucket."),
        };

        // A start that falls in a skipped hour (clocks forward) is taken at the offset before the change.
        return new DateTimeOffset(start, zone.IsInvalidTime(start) ? zone.GetUtcOffset(start.AddHours(-1)) : zone.GetUtcOffset(start));
    }

    private static CostLedgerAggregate Row(CostLedgerRecord record, CostLedgerAggregateQuery query)
    {
        CostReceiptEntry e = record.Entry;
        bool hit = e.Kind == CostEntryKind.CacheHit;
        bool spends = e.Kind is CostEntryKind.ProviderCall or CostEntryKind.Embedding;
        return new CostLedgerAggregate
        {
            Key = query.GroupBy is { } dimension ? record.Scope.Get(dimension) : null,
            ModelId = query.ByModel ? e.ModelId : null,
            BucketStart = e.Timestamp,
            Spent = spends ? e.Cost?.Total ?? 0m : 0m,
            Avoided = e.CostAvoided ?? 0m,
            Calls = e.Kind == CostEntryKind.ProviderCall ? 1 : 0,
            CacheHits = hit ? 1 : 0,
            InputTokens = hit ? 0 : e.Tokens.Input,
            OutputTokens = hit ? 0 : e.Tokens.Output,
            AvoidedTokens = hit ? e.Tokens.Input + e.Tokens.Output : 0,
            ProviderCacheSaved = e.ProviderCacheSaved ?? 0m,
        };
    }
}
