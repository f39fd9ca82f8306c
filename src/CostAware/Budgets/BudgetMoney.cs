namespace CostAware.Internal;

// Money as the stores count it: 64-bit integers of 1e-9 currency units. Prices in the catalog have at most three
// decimals per million tokens, so a call's cost is a whole number of nano-units and converts exactly; anything finer
// is rounded up for spend and reservations (never under-counted) and down for limits (never over-granted).
internal static class BudgetMoney
{
    public const decimal UnitsPerCurrency = 1_000_000_000m;

    // 2^53 nano-units, the largest integer Redis's Lua numbers hold exactly: nine million currency units.
    public const decimal MaxLimit = 9_000_000m;

    public static long ToUnitsCeiling(decimal amount) => amount <= 0m ? 0 : (long)decimal.Ceiling(Math.Min(amount, MaxLimit * 1000m) * UnitsPerCurrency);

    public static long ToUnitsFloor(decimal amount) => amount <= 0m ? 0 : (long)decimal.Floor(Math.Min(amount, MaxLimit) * UnitsPerCurrency);

    public static decimal ToCurrency(long units) => units / UnitsPerCurrency;
}
