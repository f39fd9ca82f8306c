using System.Text.Json;
using Microsoft.Playwright;

namespace CostAware.Cli.Tests;

public sealed class BreakevenTests
{
    // gpt-4o at $2.50 / $10 per million: 1e9 prompt and 1e8 answer tokens a month cost $3,500. At 1,000 prompt and 50
    // answer tokens/s a GPU is busy 833.3 h a month; at 50 % utilization that takes 3 GPUs. Renting 3 at $2/h is $4,380 a
    // month (never catches up); owning costs $12,000 once and $150 a month, so it is cheaper in total from month 4
    // (3,500 x 4 = 14,000 >= 12,000 + 600).
    [Fact]
    public async Task TheBreakEvenMonth_AndEveryMonthsMoney_AreExact()
    {
        (int exit, string output, string error) = await CliTests.RunAsync(
            "breakeven", "--model", "gpt-4o", "--input-tokens-per-month", "1000000000", "--output-tokens-per-month", "100000000",
            "--prompt-tokens-per-second", "1000", "--output-tokens-per-second", "50", "--utilization", "0.5",
            "--rent-per-gpu-hour", "2", "--buy-per-gpu", "4000", "--own-per-gpu-month", "50", "--months", "12", "--json");

        Assert.True(exit == 0, error);
        using JsonDocument plan = JsonDocument.Parse(output);
        JsonElement root = plan.RootElement;
        Assert.Equal(4, root.GetProperty("ownedBreaksEvenInMonth").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("rentedBreaksEvenInMonth").ValueKind);
        JsonElement month4 = root.GetProperty("months")[3];
        Assert.Equal(3, month4.GetProperty("gpus").GetInt32());
        Assert.Equal(3500m, month4.GetProperty("api").GetDecimal());
        Assert.Equal(4380m, month4.GetProperty("rented").GetDecimal());
        Assert.Equal(14000m, month4.GetProperty("apiTotal").GetDecimal());
        Assert.Equal(12600m, month4.GetProperty("ownedTotal").GetDecimal());
        Assert.Equal(12150m, root.GetProperty("months")[0].GetProperty("owned").GetDecimal());
    }

    [Fact]
    public async Task AMonthsVolume_CanComeFromTheRealAzureTrace_AndABadTraceRowIsNamed()
    {
        string azure = Path.Combine(TestFiles.SharedData(), "traces", "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv");
        (int exit, string output, string error) = await CliTests.RunAsync(
            "breakeven", "--model", "gpt-4o-mini", "--trace", azure, "--prompt-tokens-per-second", "2000", "--output-tokens-per-second", "80",
            "--rent-per-gpu-hour", "2.5", "--buy-per-gpu", "30000", "--months", "6", "--json");
        Assert.True(exit == 0, error);
        using (JsonDocument plan = JsonDocument.Parse(output))
        {
            // 19,366 requests (mean 1,155 in, 211 out) in 58 minutes, scaled to 30 days: about 16.6 billion prompt tokens.
            long input = plan.RootElement.GetProperty("months")[0].GetProperty("inputTokens").GetInt64();
            Assert.InRange(input, 15_000_000_000, 18_500_000_000);
        }

        string bad = Path.Combine(Path.GetTempPath(), "costaware-trace-" + Guid.NewGuid().ToString("N") + ".csv");
        await File.WriteAllTextAsync(bad, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n2023-11-16 18:15:50,many,109\n");
        try
        {
            (exit, _, error) = await CliTests.RunAsync("breakeven", "--model", "gpt-4o-mini", "--trace", bad, "--prompt-tokens-per-second", "1", "--output-tokens-per-second", "1", "--rent-per-gpu-hour", "1", "--buy-per-gpu", "1");
            Assert.Equal(2, exit);
            Assert.StartsWith($"costaware: {bad}:3: ContextTokens: 'many'", error.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(bad);
        }
    }

    [Fact]
    public async Task TheBreakEvenChart_OpensOffline_InARealBrowser()
    {
        string html = Path.Combine(Path.GetTempPath(), "costaware-breakeven-" + Guid.NewGuid().ToString("N") + ".html");
        try
        {
            (int exit, _, string error) = await CliTests.RunAsync(
                "breakeven", "--model", "gpt-4o", "--input-tokens-per-month", "1000000000", "--output-tokens-per-month", "100000000",
                "--prompt-tokens-per-second", "1000", "--output-tokens-per-second", "50", "--rent-per-gpu-hour", "2", "--buy-per-gpu", "4000", "--months", "12", "--html", html);
            Assert.True(exit == 0, error);

            using IPlaywright playwright = await Playwright.CreateAsync();
            await using IBrowser browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = CliTests.Chromium(), Headless = true, Args = ["--no-sandbox"] });
            IPage page = await browser.NewPageAsync(new() { JavaScriptEnabled = false });
            _ = await page.GotoAsync(new Uri(html).AbsoluteUri);

            foreach (string line in (string[])["#api", "#rented", "#owned"])
            {
                string points = (await page.Locator(line).GetAttributeAsync("points"))!;
                Assert.Equal(12, points.Split(' ').Length);
                LocatorBoundingBoxResult? box = await page.Locator(line).BoundingBoxAsync();
                Assert.True(box is { Width: > 100 });
            }

            Assert.Equal(13, await page.Locator("#months tr").CountAsync());
            Assert.Contains("Owning costs no more than the API in total from month 4", await page.Locator("body").InnerTextAsync(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(html);
        }
    }
}
