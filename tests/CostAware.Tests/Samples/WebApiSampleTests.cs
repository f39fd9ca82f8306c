using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CostAware.Samples.WebApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Tests.Samples;

// The web sample as a user runs it, on a real Kestrel host on a loopback port with its own appsettings.json, on the
// recorded answers (no key, no network) and a SQLite ledger of its own.
public sealed class WebApiSampleTests : IDisposable
{
    private readonly string _ledger = Path.Combine(Path.GetTempPath(), "costaware-webapi-" + Guid.NewGuid().ToString("N") + ".db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in new[] { _ledger, _ledger + "-wal", _ledger + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static HttpRequestMessage Ask(string key, string question)
    {
        HttpRequestMessage request = new(HttpMethod.Post, "/ask") { Content = JsonContent.Create(new { text = question }) };
        request.Headers.Add("X-Api-Key", key);
        return request;
    }

    [Fact]
    public async Task TheSample_AnswersWithCostHeaders_RefusesOverBudgetWith429_AndReportsSpendToFinanceOnly()
    {
        string contentRoot = Path.Combine(Dashboards.GrafanaDashboardTests.RepoRoot(), "samples", "WebApi");
        await using WebApplication app = SampleApp.Build(
        [
            "--urls=http://127.0.0.1:0", $"--contentRoot={contentRoot}", $"--CostAware:Ledger:Sqlite:Path={_ledger}",
            "--CostAware:Budget:Budgets:tenant-daily:Limit=0.001", "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        using HttpClient http = new() { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        const string Question = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?";

        using (HttpResponseMessage anonymous = await http.SendAsync(Ask("nobody", Question)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        decimal fromHeaders = 0m;
        HttpResponseMessage response;
        int answered = 0;
        while ((response = await http.SendAsync(Ask("acme-key", Question))).StatusCode == HttpStatusCode.OK && answered < 100)
        {
            answered++;
            decimal spent = decimal.Parse(Assert.Single(response.Headers.GetValues("CostAware-Spent")), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(spent > 0m);
            fromHeaders += spent;
            response.Dispose();
        }

        // The budget ($0.001 a day per tenant) refuses before it is overspent, as a 429 with Retry-After.
        Assert.InRange(answered, 1, 99);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.True(fromHeaders <= 0.001m);
        response.Dispose();

        // Another tenant has its own budget.
        using (HttpResponseMessage globex = await http.SendAsync(Ask("globex-key", Question)))
        {
            Assert.Equal(HttpStatusCode.OK, globex.StatusCode);
        }

        // Finance sees what the headers said, to the cent and below; a tenant's user does not.
        using HttpRequestMessage spendRequest = new(HttpMethod.Get, "/costaware/spend?groupBy=tenant");
        spendRequest.Headers.Add("X-Api-Key", "finance-key");
        using HttpResponseMessage spend = await http.SendAsync(spendRequest);
        Assert.Equal(HttpStatusCode.OK, spend.StatusCode);
        using JsonDocument rows = JsonDocument.Parse(await spend.Content.ReadAsStringAsync());
        JsonElement acme = rows.RootElement.EnumerateArray().Single(r => r.GetProperty("key").GetString() == "acme");
        Assert.Equal(fromHeaders, acme.GetProperty("spent").GetDecimal());
        Assert.Equal(answered, acme.GetProperty("calls").GetInt64());

        using HttpRequestMessage userRequest = new(HttpMethod.Get, "/costaware/spend");
        userRequest.Headers.Add("X-Api-Key", "acme-key");
        using (HttpResponseMessage forbidden = await http.SendAsync(userRequest))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        using HttpResponseMessage health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await app.StopAsync();
    }
}
