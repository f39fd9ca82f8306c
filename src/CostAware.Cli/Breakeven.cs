using System.Globalization;

namespace CostAware.Cli;

// API against rented and owned hardware, month by month, for a monthly token volume (given, or scaled from a trace) and
// the local throughput measured on the hardware (OnnxChatClient.Throughput, or figures the user has). Money is exact.
internal sealed record class Breakeven
{
    public required string Model { get; init; }

    public required decimal ApiInputPrice { get; init; }

    public required decimal ApiOutputPrice { get; init; }

    public required double PromptTokensPerSecond { get; init; }

    public required double OutputTokensPerSecond { get; init; }

    public required IReadOnlyList<Month> Months { get; init; }

    public required int? RentedBreaksEvenInMonth { get; init; }

    public required int? OwnedBreaksEvenInMonth { get; init; }

    internal sealed record class Month(
        int Number, long InputTokens, long OutputTokens, int Gpus, decimal Api, decimal Rented, decimal Owned, decimal ApiTotal, decimal RentedTotal, decimal OwnedTotal);

    internal sealed record class Inputs(
        ModelPrice Price, long InputTokensPerMonth, long OutputTokensPerMonth, double Growth, double PromptTokensPerSecond, double OutputTokensPerSecond,
        double Utilization, decimal RentPerGpuHour, decimal BuyPerGpu, decimal OwnPerGpuMonth, int Months);

    private const decimal HoursPerMonth = 730m;

    public static Breakeven Compute(Inputs inputs)
    {
        List<Month> months = [];
        decimal apiTotal = 0m, rentedTotal = 0m, ownedTotal = 0m;
        int owned = 0;
        int? rentedFrom = null, ownedFrom = null;
        for (int m = 1; m <= inputs.Months; m++)
        {
            double scale = Math.Pow(1 + inputs.Growth, m - 1);
            long input = (long)Math.Round(inputs.InputTokensPerMonth * scale);
            long output = (long)Math.Round(inputs.OutputTokensPerMonth * scale);
            decimal api = (input * inputs.Price.Standard.Input / 1_000_000m) + (output * inputs.Price.Standard.Output / 1_000_000m);

            // The GPU time the month's tokens take at the measured rates, and the GPUs that time needs at the utilization
            // the app reaches (traffic is not flat: a GPU is not busy every hour).
            double busyHours = ((input / inputs.PromptTokensPerSecond) + (output / inputs.OutputTokensPerSecond)) / 3600d;
            int gpus = Math.Max(1, (int)Math.Ceiling(busyHours / ((double)HoursPerMonth * inputs.Utilization)));
            decimal rented = gpus * HoursPerMonth * inputs.RentPerGpuHour;
            int bought = Math.Max(0, gpus - owned);
            owned += bought;
            decimal ownedCost = (bought * inputs.BuyPerGpu) + (owned * inputs.OwnPerGpuMonth);
            apiTotal += api;
            rentedTotal += rented;
            ownedTotal += ownedCost;
            rentedFrom ??= rentedTotal <= apiTotal ? m : null;
            ownedFrom ??= ownedTotal <= apiTotal ? m : null;
            months.Add(new Month(m, input, output, gpus, api, rented, ownedCost, apiTotal, rentedTotal, ownedTotal));
        }

        return new Breakeven
        {
            Model = inputs.Price.ModelId,
            ApiInputPrice = inputs.Price.Standard.Input,
            ApiOutputPrice = inputs.Price.Standard.Output,
            PromptTokensPerSecond = inputs.PromptTokensPerSecond,
            OutputTokensPerSecond = inputs.OutputTokensPerSecond,
            Months = months,
            RentedBreaksEvenInMonth = rentedFrom,
            OwnedBreaksEvenInMonth = ownedFrom,
        };
    }

    // A month's tokens from a trace of real requests (the Azure LLM inference trace's TIMESTAMP, ContextTokens,
    // GeneratedTokens), scaled from the trace's duration to 30 days.
    public static async Task<(long Input, long Output)> FromTraceAsync(string file, CancellationToken cancellationToken)
    {
        if (!File.Exists(file))
        {
            throw new CliException($"{file}: no such file (--trace)");
        }

        using StreamReader reader = new(file);
        string? header = await reader.ReadLineAsync(cancellationToken);
        if (header?.Replace(" ", string.Empty, StringComparison.Ordinal) != "TIMESTAMP,ContextTokens,GeneratedTokens")
        {
            throw CliException.At(file, 1, "header", "expected TIMESTAMP,ContextTokens,GeneratedTokens (the Azure LLM inference trace)");
        }

        long line = 1, input = 0, output = 0;
        DateTime? first = null, last = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            line++;
            string[] fields = text.Split(',');
            if (fields.Length != 3)
            {
                throw CliException.At(file, line, "row", $"{fields.Length} fields, expected 3");
            }

            DateTime at = DateTime.TryParse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t) ? t : throw CliException.At(file, line, "TIMESTAMP", $"'{fields[0]}' is not a date and time");
            input += long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? i : throw CliException.At(file, line, "ContextTokens", $"'{fields[1]}' is not a token count");
            output += long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long o) ? o : throw CliException.At(file, line, "GeneratedTokens", $"'{fields[2]}' is not a token count");
            first ??= at;
            last = at;
        }

        if (first is null || last <= first)
        {
            throw CliException.At(file, line, "TIMESTAMP", "the trace needs at least two requests at different times to be scaled to a month");
        }

        double monthOverTrace = TimeSpan.FromDays(30) / (last!.Value - first.Value);
        return ((long)Math.Round(input * monthOverTrace), (long)Math.Round(output * monthOverTrace));
    }
}
