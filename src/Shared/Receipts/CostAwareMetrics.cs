using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CostAware.Shared;

internal sealed class CostAwareMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _cacheLookups;
    private readonly Counter<long> _cacheNotStored;
    private readonly Counter<double> _costAvoided;
    private readonly Counter<long> _cacheVetoes;
    private readonly Counter<long> _budgetDecisions;
    private readonly Counter<long> _budgetThresholds;
    private readonly Counter<long> _budgetStoreFailures;
    private readonly Counter<long> _budgetUnpriced;
    private readonly UpDownCounter<long> _budgetPendingSettles;
    private readonly Counter<long> _batchCalls;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _providerCacheBreakers;

    public CostAwareMetrics(IMeterFactory? meterFactory)
    {
        _meter = meterFactory?.Create(CostAwareTelemetry.Name) ?? new Meter(CostAwareTelemetry.Name);
        _tokens = _meter.CreateCounter<long>("costaware.tokens", "{token}", "Tokens used by real provider calls, by class (classes are subsets of input and output).");
        _cost = _meter.CreateCounter<double>("costaware.cost", "{USD}", "Money spent on real provider calls, in US dollars.");
        _calls = _meter.CreateCounter<long>("costaware.calls", "{call}", "Metered calls and cache hits.");
        _cacheLookups = _meter.CreateCounter<long>("costaware.cache.lookups", "{lookup}", "Cache lookups, by cache and result (hit, miss, bypass; verify for the semantic cache's error-bounded mode).");
        _cacheNotStored = _meter.CreateCounter<long>("costaware.cache.not_stored", "{response}", "Answers a cache did not store, by reason.");
        _costAvoided = _meter.CreateCounter<double>("costaware.cost.avoided", "{USD}", "Money not spent because a cache answered, at current prices, in US dollars.");
        _cacheVetoes = _meter.CreateCounter<long>("costaware.cache.vetoes", "{candidate}", "Near matches a cache refused to serve, by reason (a guard, the lexical floor, the verifier, a reported wrong hit).");
        _budgetDecisions = _meter.CreateCounter<long>("costaware.budget.exceeded", "{call}", "Calls a budget had no room for, by budget and what was done (refuse, clamp_output, switch_model, defer, allow, stream_stopped).");
        _budgetThresholds = _meter.CreateCounter<long>("costaware.budget.thresholds", "{crossing}", "Budget thresholds crossed by settled spend, by budget and threshold.");
        _batchCalls = _meter.CreateCounter<long>("costaware.batch.calls", "{call}", "Deferred calls, by provider and event (deferred, submitted, answered, failed, requeued).");
        _batches = _meter.CreateCounter<long>("costaware.batch.batches", "{batch}", "Provider batches that ended, by provider and final status.");
        _budgetStoreFailures = _meter.CreateCounter<long>("costaware.budget.store_failures", "{operation}", "Budget store operations that failed, by operation and failure mode.");
        _budgetUnpriced = _meter.CreateCounter<long>("costaware.budget.unpriced", "{call}", "Calls under a budget whose model has no price, by model and what was done (refuse, allow).");
        _providerCacheBreakers = _meter.CreateCounter<long>("costaware.provider_cache.breakers", "{family}", "Prompt families whose long start changes between calls only in a small span, so that the provider's cache cannot be reused (reported once per family).");
        _budgetPendingSettles = _meter.CreateUpDownCounter<long>("costaware.budget.pending_settlements", "{settlement}", "Settlements the budget store has not acknowledged yet, retried until it does.");
    }

    // Used when a stage is built without DI.
    public static CostAwareMetrics Shared { get; } = new(meterFactory: null);

    public bool Enabled => _tokens.Enabled || _cost.Enabled || _calls.Enabled;

    public bool CacheEnabled => _cacheLookups.Enabled || _cacheNotStored.Enabled || _costAvoided.Enabled || _cacheVetoes.Enabled;

    public void RecordCacheLookup(string cache, string result, CostScope scope, bool includeScope, decimal? avoided)
    {
        TagList tags = default;
        tags.Add("costaware.cache.name", cache);
        if (includeScope)
        {
            AddScope(ref tags, scope);
        }

        if (avoided is > 0m && _costAvoided.Enabled)
        {
            _costAvoided.Add((double)avoided.GetValueOrDefault(), tags);
        }

        tags.Add("costaware.cache.result", result);
        _cacheLookups.Add(1, tags);
    }

    public void RecordNotStored(string cache, string reason) => _cacheNotStored.Add(1, ReasonTags(cache, reason));

    public void RecordVeto(string cache, string reason) => _cacheVetoes.Add(1, ReasonTags(cache, reason));

    private static TagList ReasonTags(string cache, string reason)
    {
        TagList tags = default;
        tags.Add("costaware.cache.name", cache);
        tags.Add("costaware.cache.reason", reason);
        return tags;
    }

    public void Record(CostReceiptEntry entry, CostScope scope, bool includeScope)
    {
        TagList tags = default;
        tags.Add("gen_ai.provider.name", entry.Provider);
        tags.Add("gen_ai.response.model", entry.ModelId);
        tags.Add("costaware.entry.kind", CostEntryKindNames.Of(entry.Kind));
        if (includeScope)
        {
            AddScope(ref tags, scope);
        }

        if (_calls.Enabled)
        {
            TagList callTags = tags;
            callTags.Add("costaware.priced", entry.Cost is null ? BoxedFalse : BoxedTrue);
            callTags.Add("costaware.estimated", entry.IsEstimated ? BoxedTrue : BoxedFalse);
            _calls.Add(1, callTags);
        }

        if (entry.Kind == CostEntryKind.CacheHit)
        {
            return;
        }

        if (_cost.Enabled && entry.Cost is { } cost)
        {
            // Whether the call was paid at a batch API's price: the dashboards' batch discount.
            TagList costTags = tags;
            costTags.Add("costaware.batch", entry.IsBatch ? BoxedTrue : BoxedFalse);
            _cost.Add((double)cost.Total, costTags);
        }

        if (_tokens.Enabled)
        {
            TokenCounts t = entry.Tokens;
            AddTokens(t.Input, "input", tags);
            AddTokens(t.Output, "output", tags);
            AddTokens(t.CachedInput, "cached_input", tags);
            AddTokens(t.CacheWrite + t.CacheWrite1h, "cache_write", tags);
            AddTokens(t.Reasoning, "reasoning", tags);
        }
    }

    public void RecordBudgetExceeded(string budget, string action)
    {
        TagList tags = default;
        tags.Add("costaware.budget.name", budget);
        tags.Add("costaware.budget.action", action);
        _budgetDecisions.Add(1, tags);
    }

    public void RecordBudgetThreshold(string budget, double threshold)
    {
        TagList tags = default;
        tags.Add("costaware.budget.name", budget);
        tags.Add("costaware.budget.threshold", threshold);
        _budgetThresholds.Add(1, tags);
    }

    public void RecordBudgetUnpriced(string? model, string action)
    {
        TagList tags = default;
        tags.Add("gen_ai.request.model", model ?? "unknown");
        tags.Add("costaware.budget.action", action);
        _budgetUnpriced.Add(1, tags);
    }

    public void RecordProviderCacheBreaker() => _providerCacheBreakers.Add(1);

    public void RecordPendingSettlements(long delta) => _budgetPendingSettles.Add(delta);

    public void RecordBudgetStoreFailure(string operation, string mode)
    {
        TagList tags = default;
        tags.Add("costaware.budget.operation", operation);
        tags.Add("costaware.budget.failure_mode", mode);
        _budgetStoreFailures.Add(1, tags);
    }

    public void RecordBatchCalls(string provider, string batchEvent, long count = 1)
    {
        TagList tags = default;
        tags.Add("costaware.batch.provider", provider);
        tags.Add("costaware.batch.event", batchEvent);
        _batchCalls.Add(count, tags);
    }

    public void RecordBatchEnded(string provider, string status)
    {
        TagList tags = default;
        tags.Add("costaware.batch.provider", provider);
        tags.Add("costaware.batch.status", status);
        _batches.Add(1, tags);
    }

    public void Dispose() => _meter.Dispose();

    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private void AddTokens(long count, string type, TagList tags)
    {
        if (count > 0)
        {
            tags.Add("gen_ai.token.type", type);
            _tokens.Add(count, tags);
        }
    }

    private static void AddScope(ref TagList tags, CostScope scope)
    {
        AddIfSet(ref tags, "costaware.scope.tenant", scope.Tenant);
        AddIfSet(ref tags, "costaware.scope.user", scope.User);
        AddIfSet(ref tags, "costaware.scope.api_key", scope.ApiKey);
        AddIfSet(ref tags, "costaware.scope.agent", scope.Agent);
        AddIfSet(ref tags, "costaware.scope.workflow", scope.Workflow);
        AddIfSet(ref tags, "costaware.scope.feature", scope.Feature);
    }

    private static void AddIfSet(ref TagList tags, string name, string? value)
    {
        if (value is not null)
        {
            tags.Add(name, value);
        }
    }

}
