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

    // A month's tokens from a trace of real requests (the Azure LLM inference trace, or JSON lines with token counts),
    // scaled from the trace's duration to 30 days.
    public static async Task<(long Input, long Output)> FromTraceAsync(string file, CancellationToken cancellationToken)
    {
        List<Simulation.Request> requests = await Simulation.ReadTraceAsync(file, cancellationToken);
        long input = 0, output = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            input += requests[i].InputTokens ?? throw CliException.At(file, i + 2, "inputTokens", "missing: a break-even needs every request's token counts");
            output += requests[i].OutputTokens ?? throw CliException.At(file, i + 2, "outputTokens", "missing: a break-even needs every request's token counts");
        }

        DateTimeOffset first = requests.Count > 0 ? requests.Min(static r => r.At) : default;
        DateTimeOffset last = requests.Count > 0 ? requests.Max(static r => r.At) : default;
        if (last <= first)
        {
            throw CliException.At(file, requests.Count + 1, "TIMESTAMP", "the trace needs at least two requests at different times to be scaled to a month");
        }

        double monthOverTrace = TimeSpan.FromDays(30) / (last - first);
        return ((long)Math.Round(input * monthOverTrace), (long)Math.Round(output * monthOverTrace));
    }
}
