using System.Globalization;
using System.Text;

namespace CostAware.Internal;

// A validated BudgetDefinition in the form the stage uses on every call: which calls it applies to, the counter key
// for a scope and an instant, and the limits in store units.
internal sealed class CompiledBudget
{
    private const int RollingBuckets = 10;
    private static readonly long CounterGraceMs = (long)TimeSpan.FromDays(1).TotalMilliseconds;
    private static readonly double[] DefaultThresholds = [0.5, 0.8, 1.0];

    private readonly CostScopeDimension[] _per;
    private readonly KeyValuePair<CostScopeDimension, string>[] _where;
    private readonly Dictionary<string, long> _scopeLimits;
    private readonly long _bucketMs;
    private readonly bool _poolUnscoped;
    private readonly string _keyName;

    public CompiledBudget(string name, BudgetDefinition definition)
    {
        Name = name;
        StringBuilder keyName = new();
        AppendEscaped(keyName, name);
        _keyName = keyName.ToString();
        _per = [.. definition.Per];
        _where = [.. definition.Where];
        Window = definition.Window;
        Zone = TimeZoneInfo.FindSystemTimeZoneById(definition.TimeZone);
        Limit = definition.Limit is { } limit ? BudgetMoney.ToUnitsFloor(limit) : -1;
        _scopeLimits = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, decimal> pair in definition.ScopeLimits)
        {
            _scopeLimits[pair.Key] = BudgetMoney.ToUnitsFloor(pair.Value);
        }

        MaxCalls = definition.MaxCalls ?? -1;
        Action = definition.Action;
        _poolUnscoped = definition.PoolUnscopedCalls;
        FallbackModelId = definition.FallbackModelId;
        Thresholds = definition.Thresholds is { } thresholds ? [.. thresholds.Order()] : DefaultThresholds;
        _bucketMs = definition.RollingDuration is { } rolling ? (long)rolling.TotalMilliseconds / RollingBuckets : 0;
    }

    public string Name { get; }

    public BudgetWindow Window { get; }

    public TimeZoneInfo Zone { get; }

    public long Limit { get; }

    public long MaxCalls { get; }

    public BudgetAction Action { get; }

    public string? FallbackModelId { get; }

    public double[] Thresholds { get; }

    public bool AppliesTo(CostScope scope)
    {
        if (!_poolUnscoped)
        {
            foreach (CostScopeDimension dimension in _per)
            {
                if (scope.Get(dimension) is null)
                {
                    return false;
                }
            }
        }

        foreach (KeyValuePair<CostScopeDimension, string> condition in _where)
        {
            if (!string.Equals(scope.Get(condition.Key), condition.Value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    // The values of the Per dimensions joined with '/', each escaped so that no two scopes share a key; '-' for an
    // unset value. The key must also stay apart once a store encodes it as UTF-8 (Redis does): a lone surrogate, which
    // UTF-8 cannot carry and would turn into U+FFFD, is written as %uXXXX, so "x\uD800" and "x\uD801" keep two counters
    // in every store.
    public string ScopeValues(CostScope scope)
    {
        if (_per.Length == 0)
        {
            return string.Empty;
        }

        StringBuilder text = new();
        for (int i = 0; i < _per.Length; i++)
        {
            if (i > 0)
            {
                _ = text.Append('/');
            }

            string? value = scope.Get(_per[i]);
            if (value is null)
            {
                _ = text.Append('-');
            }
            else if (value == "-")
            {
                _ = text.Append("%2D");
            }
            else
            {
                AppendEscaped(text, value);
            }
        }

        return text.ToString();
    }

    // '%', '/' and '|' are the key's own separators and escape character; lone surrogates cannot be encoded as UTF-8.
    internal static void AppendEscaped(StringBuilder text, string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                _ = text.Append(c).Append(value[++i]);
                continue;
            }

            _ = c switch
            {
                '%' => text.Append("%25"),
                '/' => text.Append("%2F"),
                '|' => text.Append("%7C"),
                _ when char.IsSurrogate(c) => text.Append("%u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }
    }

    public string ScopeKey(CostScope scope)
    {
        if (_per.Length == 0)
        {
            return "global";
        }

        StringBuilder text = new();
        for (int i = 0; i < _per.Length; i++)
        {
            _ = text.Append(i > 0 ? "," : string.Empty).Append(_per[i].ToString().ToLowerInvariant()).Append('=').Append(scope.Get(_per[i]) ?? "-");
        }

        return text.ToString();
    }

    public long LimitFor(string scopeValues) => _scopeLimits.TryGetValue(scopeValues, out long limit) ? limit : Limit;

    public BudgetLine Line(CostScope scope, DateTimeOffset now, out BudgetPeriod period)
    {
        string values = ScopeValues(scope);
        period = Period(now);
        string prefix = string.Concat(_keyName, "|", values, "|");
        string[] windowKeys = [];
        if (Window == BudgetWindow.Rolling)
        {
            windowKeys = new string[RollingBuckets];
            long bucket = period.Bucket;
            for (int i = 0; i < RollingBuckets; i++)
            {
                windowKeys[i] = prefix + "r" + (bucket - 1 - i).ToString(CultureInfo.InvariantCulture);
            }
        }

        return new BudgetLine(prefix + period.Id, windowKeys, LimitFor(values), MaxCalls, Action != BudgetAction.Allow, period.ExpiresAtMs);
    }

    public BudgetPeriod Period(DateTimeOffset now)
    {
        switch (Window)
        {
            case BudgetWindow.Lifetime:
                return new BudgetPeriod("life", null, null, 0, 0);
            case BudgetWindow.Rolling:
            {
                long bucket = now.ToUnixTimeMilliseconds() / _bucketMs;
                DateTimeOffset start = DateTimeOffset.FromUnixTimeMilliseconds((bucket - RollingBuckets) * _bucketMs);
                DateTimeOffset next = DateTimeOffset.FromUnixTimeMilliseconds((bucket + 1) * _bucketMs);
                return new BudgetPeriod(
                    "r" + bucket.ToString(CultureInfo.InvariantCulture), start, next, ((bucket + RollingBuckets + 1) * _bucketMs) + CounterGraceMs, bucket);
            }

            default:
            {
                DateTime local = Window == BudgetWindow.Minute ? now.UtcDateTime : TimeZoneInfo.ConvertTime(now, Zone).DateTime;
                (DateTime startLocal, DateTime endLocal, string format) = Window switch
                {
                    BudgetWindow.Minute => (Floor(local, TimeSpan.TicksPerMinute), Floor(local, TimeSpan.TicksPerMinute).AddMinutes(1), "'m'yyyyMMddHHmm"),
                    BudgetWindow.Hour => (Floor(local, TimeSpan.TicksPerHour), Floor(local, TimeSpan.TicksPerHour).AddHours(1), "'h'yyyyMMddHH"),
                    BudgetWindow.Day => (local.Date, local.Date.AddDays(1), "'d'yyyyMMdd"),
                    _ => (new DateTime(local.Year, local.Month, 1), new DateTime(local.Year, local.Month, 1).AddMonths(1), "'M'yyyyMM"),
                };
                DateTimeOffset start = Window == BudgetWindow.Minute ? new DateTimeOffset(startLocal, TimeSpan.Zero) : At(startLocal);
                DateTimeOffset end = Window == BudgetWindow.Minute ? new DateTimeOffset(endLocal, TimeSpan.Zero) : At(endLocal);
                return new BudgetPeriod(
                    startLocal.ToString(format, CultureInfo.InvariantCulture), start, end, end.ToUnixTimeMilliseconds() + CounterGraceMs, 0);
            }
        }
    }

    private static DateTime Floor(DateTime time, long ticks) => new(time.Ticks - (time.Ticks % ticks), DateTimeKind.Unspecified);

    // A local wall-clock time in the budget's zone as an instant. A time skipped by a daylight-saving jump does not
    // exist; it is taken at the offset in force before the jump.
    private DateTimeOffset At(DateTime local)
    {
        DateTime unspecified = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        TimeSpan offset = Zone.IsInvalidTime(unspecified) ? Zone.GetUtcOffset(unspecified.AddHours(-2)) : Zone.GetUtcOffset(unspecified);
        return new DateTimeOffset(unspecified, offset);
    }

    // The state of this budget's counter line for a scope, in currency.
    public BudgetStatus Status(CostScope scope, BudgetLine line, BudgetPeriod period, BudgetCounterState state) => new()
    {
        BudgetName = Name,
        ScopeKey = ScopeKey(scope),
        Window = Window,
        WindowStart = period.Start,
        ResetsAt = period.End,
        Limit = line.Limit >= 0 ? BudgetMoney.ToCurrency(line.Limit) : null,
        Spent = BudgetMoney.ToCurrency(state.Spent),
        Reserved = BudgetMoney.ToCurrency(state.Reserved),
        MaxCalls = line.MaxCalls >= 0 ? line.MaxCalls : null,
        Calls = state.Calls,
    };
}

// The window a call falls in: its id in counter keys, its bounds (null for a lifetime budget; for a rolling window,
// Start is the oldest counted bucket and End the next time spend may leave), and when its counters may be dropped.
internal readonly record struct BudgetPeriod(string Id, DateTimeOffset? Start, DateTimeOffset? End, long ExpiresAtMs, long Bucket);
