using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace CostAware.AspNetCore.Internal;

// The cost response headers (and trailers) a request's CostTally is written as.
internal static class CostHeaders
{
    public const string Spent = "CostAware-Spent";
    public const string Avoided = "CostAware-Avoided";
    public const string Receipts = "CostAware-Receipts";
    public const string Priced = "CostAware-Priced";

    public static void Declare(HttpResponse response)
    {
        foreach (string name in (string[])[Spent, Avoided, Receipts, Priced])
        {
            response.DeclareTrailer(name);
        }
    }

    public static void Write(CostTally tally, Action<string, StringValues> append)
    {
        append(Spent, Dollars(tally.Spent));
        append(Avoided, Dollars(tally.Avoided));
        append(Receipts, tally.Receipts.ToString(CultureInfo.InvariantCulture));
        if (!tally.IsFullyPriced)
        {
            append(Priced, "false");
        }
    }

    // Exact, invariant, without the trailing zeros a sum of prices carries (0.00350000 is written 0.0035).
    private static string Dollars(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
