using CostAware.Internal;
using CostAware.Shared;
using CsCheck;

namespace CostAware.Tests.Budgets;

public class CompiledBudgetTests
{
    private static readonly CompiledBudget TenantFeature = new("b", new BudgetDefinition { Per = [CostScopeDimension.Tenant, CostScopeDimension.Feature], Limit = 1m });

    // Values full of the characters the key uses as separators and escapes, and of the '-' that stands for unset.
    private static readonly Gen<string?> Value = Gen.Select(Gen.Int[0, 4], Gen.String[Gen.Int[0, 6].Select(static i => "a/|%-2F"[i]), 0, 6])
        .Select(static pair => pair.Item1 == 0 ? null : pair.Item2);

    [Fact]
    public void ScopeValues_DifferentScopes_NeverShareAKey()
    {
        Gen.Select(Value, Value, Value, Value).Sample((t1, f1, t2, f2) =>
        {
            CostScope a = new() { Tenant = t1, Feature = f1 };
            CostScope b = new() { Tenant = t2, Feature = f2 };
            return (t1 == t2 && f1 == f2) == (TenantFeature.ScopeValues(a) == TenantFeature.ScopeValues(b));
        });
    }

    // Any UTF-16 string, lone surrogates included (they reach CostScope from JSON, headers, user input).
    private static readonly Gen<string?> AnyValue = Gen.Select(Gen.Int[0, 4], Gen.String[Gen.Char[(char)0x20, (char)0xFFFF], 0, 4], Gen.String[Gen.Char["x\uD800\uD801\uDC00/%|-"], 0, 4])
        .Select(static t => t.Item1 switch { 0 => null, 1 => t.Item2, _ => t.Item3 });

    [Fact]
    public void ScopeValues_DifferentScopes_DifferentKeysOnceEncodedAsUtf8()
    {
        // Redis stores keys as UTF-8, which turns every lone surrogate into U+FFFD: two tenants must not meet there.
        Gen.Select(AnyValue, AnyValue, AnyValue, AnyValue).Sample((t1, f1, t2, f2) =>
        {
            byte[] a = System.Text.Encoding.UTF8.GetBytes(TenantFeature.ScopeValues(new CostScope { Tenant = t1, Feature = f1 }));
            byte[] b = System.Text.Encoding.UTF8.GetBytes(TenantFeature.ScopeValues(new CostScope { Tenant = t2, Feature = f2 }));
            return (t1 == t2 && f1 == f2) == a.AsSpan().SequenceEqual(b);
        });
    }

    [Fact]
    public void ScopeValues_LoneSurrogates_Escaped()
    {
        CompiledBudget perTenant = new("b", new BudgetDefinition { Per = [CostScopeDimension.Tenant], Limit = 1m });

        Assert.Equal("x%uD800", perTenant.ScopeValues(new CostScope { Tenant = "x\uD800" }));
        Assert.Equal("x%uD801", perTenant.ScopeValues(new CostScope { Tenant = "x\uD801" }));
        Assert.Equal("\uD83D\uDE00", perTenant.ScopeValues(new CostScope { Tenant = "\uD83D\uDE00" }));
    }

    [Fact]
    public void ScopeValues_KeyNeverContainsTheCounterSeparator()
    {
        Gen.Select(Value, Value).Sample((t, f) => !TenantFeature.ScopeValues(new CostScope { Tenant = t, Feature = f }).Contains('|', StringComparison.Ordinal));
    }

    [Fact]
    public void ScopeValues_OtherDimensionsDoNotMatter()
    {
        Assert.Equal(
            TenantFeature.ScopeValues(new CostScope { Tenant = "acme", Feature = "chat" }),
            TenantFeature.ScopeValues(new CostScope { Tenant = "acme", Feature = "chat", User = "u1", Agent = "a" }));
        Assert.Equal("acme/chat", TenantFeature.ScopeValues(new CostScope { Tenant = "acme", Feature = "chat" }));
        Assert.Equal("-/-", TenantFeature.ScopeValues(CostScope.None));
    }

    [Fact]
    public void ToUnits_RoundsSpendUpAndLimitsDown_ExactForCatalogPrices()
    {
        Gen.Decimal[0m, 1_000m].Sample(amount =>
        {
            long up = BudgetMoney.ToUnitsCeiling(amount);
            long down = BudgetMoney.ToUnitsFloor(amount);
            decimal upValue = BudgetMoney.ToCurrency(up);
            decimal downValue = BudgetMoney.ToCurrency(down);
            return upValue >= amount && upValue - amount < 1e-9m && downValue <= amount && amount - downValue < 1e-9m;
        });

        // Any whole number of tokens at a price with three decimals per million is a whole number of nano-units.
        Gen.Select(Gen.Long[0, 10_000_000], Gen.Int[0, 100_000]).Sample((tokens, milliDollarsPerMillion) =>
        {
            decimal cost = tokens * (milliDollarsPerMillion / 1000m) / 1_000_000m;
            return BudgetMoney.ToCurrency(BudgetMoney.ToUnitsCeiling(cost)) == cost;
        });
    }

    [Theory]
    [InlineData(BudgetWindow.Minute, "UTC", "2026-11-24T13:30:42+00:00", "2026-11-24T13:30:00+00:00")]
    [InlineData(BudgetWindow.Hour, "Asia/Kolkata", "2026-11-24T13:45:00+00:00", "2026-11-24T19:00:00+05:30")]
    [InlineData(BudgetWindow.Hour, "UTC", "2026-11-24T13:30:00+00:00", "2026-11-24T13:00:00+00:00")]
    [InlineData(BudgetWindow.Day, "Asia/Tokyo", "2026-11-24T13:30:00+00:00", "2026-11-24T00:00:00+09:00")]
    [InlineData(BudgetWindow.Month, "Europe/Paris", "2026-11-30T23:30:00+00:00", "2026-12-01T00:00:00+01:00")]
    public void Period_StartsOnTheZonesCalendar(BudgetWindow window, string zone, string now, string start)
    {
        CompiledBudget budget = new("b", new BudgetDefinition { Window = window, TimeZone = zone, Limit = 1m });

        BudgetPeriod period = budget.Period(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), period.Start);
    }

    [Fact]
    public void Period_DayAcrossADaylightSavingChange_Is23Hours()
    {
        CompiledBudget budget = new("b", new BudgetDefinition { Window = BudgetWindow.Day, TimeZone = "America/New_York", Limit = 1m });

        // 8 March 2026: clocks go from 02:00 to 03:00 in New York.
        BudgetPeriod period = budget.Period(new DateTimeOffset(2026, 3, 8, 12, 0, 0, TimeSpan.Zero));

        Assert.Equal(TimeSpan.FromHours(23), period.End!.Value - period.Start!.Value);
    }
}
