namespace CostAware.Cli;

// What `costaware report` says, computed once and rendered as terminal tables, JSON or HTML. Money is exact (decimal).
internal sealed record class SpendReport
{
    public required string Source { get; init; }

    public required DateTimeOffset? From { get; init; }

    public required DateTimeOffset? To { get; init; }

    public required string TimeZone { get; init; }

    public required string GroupBy { get; init; }

    public required Totals Total { get; init; }

    public required IReadOnlyList<Row> ByModel { get; init; }

    public required IReadOnlyList<Row> ByScope { get; init; }

    public required IReadOnlyList<Row> ByDay { get; init; }

    public required IReadOnlyList<Row> TopSpenders { get; init; }

    public required IReadOnlyList<Saving> SavingsByStage { get; init; }

    public required IReadOnlyList<Agent> Agents { get; init; }

    public required string BudgetRefusals { get; init; }

    internal sealed record class Totals(decimal Spent, decimal CacheAvoided, decimal BatchSaved, decimal ProviderCacheSaved, long Calls, long CacheHits, long InputTokens, long OutputTokens, long AvoidedTokens);

    internal sealed record class Row(string Name, decimal Spent, decimal Avoided, long Calls, long CacheHits, long InputTokens, long OutputTokens);

    internal sealed record class Saving(string Stage, decimal Saved, long Count);

    // An agent (or workflow) and what one completed task costs it; a zombie when that is more than the task is worth.
    internal sealed record class Agent(string Name, decimal Spent, long Tasks, decimal CostPerTask, decimal? ValuePerTask, bool Zombie);

    public static async Task<SpendReport> BuildAsync(
        LedgerSource source, CostLedgerQuery filter, CostScopeDimension groupBy, TimeZoneInfo zone, int top,
        IReadOnlyDictionary<string, decimal> values, CancellationToken cancellationToken)
    {
        ICostLedgerAggregates ledger = source.Aggregates;
        async Task<IReadOnlyList<CostLedgerAggregate>> SumAsync(CostScopeDimension? by, bool byModel, CostLedgerBucket bucket, int? limit = null) =>
            await ledger.AggregateAsync(new CostLedgerAggregateQuery { GroupBy = by, ByModel = byModel, Bucket = bucket, TimeZone = zone, Filter = filter, Top = limit }, cancellationToken);

        IReadOnlyList<CostLedgerAggregate> all = await SumAsync(null, false, CostLedgerBucket.None);
        CostLedgerAggregate total = all.Count == 0 ? new CostLedgerAggregate() : all[0];

        // What aggregates do not carry: savings by the stage that saved, what batch calls saved (the providers' batch
        // price is half the synchronous one, so a batch call saved what it cost), and per-agent tasks.
        Dictionary<string, (decimal Saved, long Count)> stages = new(StringComparer.Ordinal);
        decimal batchSaved = 0m;
        long batchCalls = 0;
        Dictionary<string, (decimal Spent, HashSet<string> Tasks)> agents = new(StringComparer.Ordinal);
        await foreach (CostLedgerRecord record in source.Ledger.QueryAsync(filter, cancellationToken))
        {
            CostReceiptEntry e = record.Entry;
            if (e.Kind == CostEntryKind.CacheHit)
            {
                string stage = e.Stage ?? "cache";
                (decimal saved, long count) = stages.GetValueOrDefault(stage);
                stages[stage] = (saved + (e.CostAvoided ?? 0m), count + 1);
            }
            else if (e.IsBatch && e.Cost is { } batchCost)
            {
                batchSaved += batchCost.Total;
                batchCalls++;
            }

            if ((record.Scope.Agent ?? record.Scope.Workflow) is { } agent)
            {
                (decimal spent, HashSet<string> tasks) = agents.TryGetValue(agent, out var known) ? known : (0m, new HashSet<string>(StringComparer.Ordinal));
                if (e.Kind is CostEntryKind.ProviderCall or CostEntryKind.Embedding)
                {
                    spent += e.Cost?.Total ?? 0m;
                }

                // A task is one workflow run when the app names runs (CostScope.Workflow), else one request (receipt).
                _ = tasks.Add(record.Scope.Agent is not null && record.Scope.Workflow is { } run ? "w:" + run : "r:" + record.ReceiptId.ToString("N"));
                agents[agent] = (spent, tasks);
            }
        }

        if (batchCalls > 0)
        {
            stages["batch"] = (batchSaved, batchCalls);
        }

        if (total.ProviderCacheSaved != 0m)
        {
            stages["provider prompt cache"] = (total.ProviderCacheSaved, 0);
        }

        static Row ToRow(CostLedgerAggregate a, string name) => new(name, a.Spent, a.Avoided, a.Calls, a.CacheHits, a.InputTokens, a.OutputTokens);
        return new SpendReport
        {
            Source = source.Description,
            From = filter.From,
            To = filter.To,
            TimeZone = zone.Id,
            GroupBy = groupBy.ToString(),
            Total = new Totals(total.Spent, total.Avoided, batchSaved, total.ProviderCacheSaved, total.Calls, total.CacheHits, total.InputTokens, total.OutputTokens, total.AvoidedTokens),
            ByModel = [.. (await SumAsync(null, true, CostLedgerBucket.None)).OrderByDescending(static a => a.Spent).Select(static a => ToRow(a, a.ModelId ?? "(none)"))],
            ByScope = [.. (await SumAsync(groupBy, false, CostLedgerBucket.None)).OrderByDescending(static a => a.Spent).Select(static a => ToRow(a, a.Key ?? "(none)"))],
            ByDay = [.. (await SumAsync(null, false, CostLedgerBucket.Day)).Select(static a => ToRow(a, a.BucketStart.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)))],
            TopSpenders = [.. (await SumAsync(groupBy, false, CostLedgerBucket.None, top)).Select(static a => ToRow(a, a.Key ?? "(none)"))],
            SavingsByStage = [.. stages.OrderByDescending(static s => s.Value.Saved).Select(static s => new Saving(s.Key, s.Value.Saved, s.Value.Count))],
            Agents = [.. agents.OrderByDescending(static a => a.Value.Spent).Select(a =>
            {
                long tasks = a.Value.Tasks.Count;
                decimal perTask = tasks == 0 ? 0m : decimal.Round(a.Value.Spent / tasks, 10);
                decimal? value = values.TryGetValue(a.Key, out decimal v) ? v : values.TryGetValue("*", out decimal any) ? any : null;
                return new Agent(a.Key, a.Value.Spent, tasks, perTask, value, value is { } worth && perTask > worth);
            })],
            BudgetRefusals = "not in the ledger: a refused call is never paid, so it has no receipt; see the costaware_budget_exceeded metric (dashboards/costaware-grafana.json)",
        };
    }
}
