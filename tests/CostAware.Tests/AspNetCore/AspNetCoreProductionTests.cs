using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using CostAware.Tests.TestUtilities;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CostAware.Tests.AspNetCore;

// The production pieces on a real Kestrel host: spend and budget endpoints behind the app's policy, cost response
// headers, the ledger's health check.
public sealed class AspNetCoreProductionTests : IDisposable
{
    private readonly string _ledgerPath = Path.Combine(Path.GetTempPath(), "costaware-web-" + Guid.NewGuid().ToString("N") + ".db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in new[] { _ledgerPath, _ledgerPath + "-wal", _ledgerPath + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static TestChatClient Provider() => new()
    {
        GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            ModelId = "gpt-4o",
            Usage = new UsageDetails { InputTokenCount = 1000, OutputTokenCount = 100 },
        }),
    };

    private Task<(WebApplication App, HttpClient Http)> StartAppAsync(Action<WebApplication>? more = null, Action<IServiceCollection>? configure = null) => AspNetCoreTests.StartAsync(
        services =>
        {
            configure?.Invoke(services);
            _ = services.AddCostAware(o => o.Budget.Budgets["daily"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Limit = 1m, Window = BudgetWindow.Day });
            _ = services.AddCostAwareSqliteLedger(new SqliteCostLedgerOptions { Path = _ledgerPath });
            _ = services.AddCostAwareAspNetCore();
            _ = services.AddAuthentication("test").AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>("test", null);
            _ = services.AddAuthorization(o => o.AddPolicy("finance", p => p.RequireClaim("role", "finance")));
            services.AddChatClient(Provider()).UseBudget().UseTokenMetering();
        },
        app =>
        {
            app.UseExceptionHandler();
            _ = app.UseAuthentication();
            _ = app.UseAuthorization();
            app.UseCostAwareScope(o => o.Claims[CostScopeDimension.Tenant] = "tenant_id");
            app.UseCostAwareCostHeaders();
            _ = app.MapGet("/ask", async (IChatClient chat) => (await chat.GetResponseAsync("hi", new ChatOptions { ModelId = "gpt-4o", MaxOutputTokens = 100 })).Text);
            _ = app.MapCostAwareEndpoints("finance");
            more?.Invoke(app);
        });

    private static HttpRequestMessage As(string path, string tenant, string? role = null)
    {
        HttpRequestMessage request = new(HttpMethod.Get, path);
        request.Headers.Add("X-Test-Tenant", tenant);
        if (role is not null)
        {
            request.Headers.Add("X-Test-Role", role);
        }

        return request;
    }

    [Fact]
    public async Task EachResponseSaysWhatItsRequestCost_AndTheEndpointsAnswerOnlyTheAppsPolicy()
    {
        (WebApplication app, HttpClient http) = await StartAppAsync();
        await using WebApplication running = app;
        using HttpClient client = http;

        // gpt-4o, 1,000 in and 100 out: $0.0025 + $0.001.
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage asked = await http.SendAsync(As("/ask", "acme"));
            Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
            Assert.Equal("0.0035", Assert.Single(asked.Headers.GetValues("CostAware-Spent")));
            Assert.Equal("1", Assert.Single(asked.Headers.GetValues("CostAware-Receipts")));
            Assert.False(asked.Headers.Contains("CostAware-Priced"));
        }

        using (HttpResponseMessage other = await http.SendAsync(As("/ask", "globex")))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        // Not in the policy: refused; nothing is open by default.
        using (HttpResponseMessage anonymous = await http.GetAsync("/costaware/spend"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (HttpResponseMessage tenantUser = await http.SendAsync(As("/costaware/spend?groupBy=tenant", "acme", role: "user")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, tenantUser.StatusCode);
        }

        using HttpResponseMessage spend = await http.SendAsync(As("/costaware/spend?groupBy=tenant&bucket=day&timeZone=Europe/Paris", "acme", role: "finance"));
        Assert.Equal(HttpStatusCode.OK, spend.StatusCode);
        using JsonDocument rows = JsonDocument.Parse(await spend.Content.ReadAsStringAsync());
        JsonElement acme = rows.RootElement.EnumerateArray().Single(r => r.GetProperty("key").GetString() == "acme");
        Assert.Equal(0.007m, acme.GetProperty("spent").GetDecimal());
        Assert.Equal(2, acme.GetProperty("calls").GetInt64());
        Assert.Equal(2000, acme.GetProperty("inputTokens").GetInt64());

        using HttpResponseMessage top = await http.SendAsync(As("/costaware/spend?groupBy=tenant&top=1&tenant=globex", "acme", role: "finance"));
        using JsonDocument topRows = JsonDocument.Parse(await top.Content.ReadAsStringAsync());
        Assert.Equal("globex", Assert.Single(topRows.RootElement.EnumerateArray()).GetProperty("key").GetString());

        using HttpResponseMessage budgets = await http.SendAsync(As("/costaware/budgets?tenant=acme", "acme", role: "finance"));
        Assert.Equal(HttpStatusCode.OK, budgets.StatusCode);
        using JsonDocument status = JsonDocument.Parse(await budgets.Content.ReadAsStringAsync());
        JsonElement daily = Assert.Single(status.RootElement.EnumerateArray());
        Assert.Equal("daily", daily.GetProperty("budgetName").GetString());
        Assert.Equal(0.007m, daily.GetProperty("spent").GetDecimal());
    }

    [Theory]
    [InlineData("/costaware/spend?bucket=week", "bucket")]
    [InlineData("/costaware/spend?groupBy=planet", "groupBy")]
    [InlineData("/costaware/spend?timeZone=Mars/Olympus", "timeZone")]
    [InlineData("/costaware/spend?top=-3", "top")]
    [InlineData("/costaware/spend?from=yesterday", "from")]
    [InlineData("/costaware/spend?byModel=maybe", "byModel")]
    [InlineData("/costaware/budgets", "tenant")]
    public async Task ABadQueryParameter_IsA400ThatNamesIt(string path, string parameter)
    {
        (WebApplication app, HttpClient http) = await StartAppAsync();
        await using WebApplication running = app;
        using HttpClient client = http;

        using HttpResponseMessage response = await http.SendAsync(As(path, "acme", role: "finance"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(parameter, problem.RootElement.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task TheLedgersDatabaseDown_IsA503_NotAnError500()
    {
        (WebApplication app, HttpClient http) = await StartAppAsync(
            configure: services => services.AddSingleton<ICostLedgerAggregates>(new DownLedger()));
        await using WebApplication running = app;
        using HttpClient client = http;

        using HttpResponseMessage response = await http.SendAsync(As("/costaware/spend", "acme", role: "finance"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public void TheEndpointsNeedAPolicy() =>
        Assert.Throws<ArgumentException>(() => WebApplication.CreateSlimBuilder().Build().MapCostAwareEndpoints(" "));

    [Fact]
    public async Task TheLedgerCheck_IsUnhealthyWhenItsDatabaseIsGoneOrItDropped_DegradedWhileWritesFail()
    {
        FakeLedger ledger = new();
        ServiceCollection services = new();
        _ = services.AddLogging().AddCostAware(_ => { }).AddSingleton<IBufferedCostLedger>(ledger).AddHealthChecks().AddCostAwareChecks();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HealthCheckService health = provider.GetRequiredService<HealthCheckService>();
        async Task<HealthStatus> LedgerAsync() => (await health.CheckHealthAsync(r => r.Name == "costaware-ledger")).Entries["costaware-ledger"].Status;

        Assert.Equal(HealthStatus.Healthy, await LedgerAsync());
        ledger.FailingSince = DateTimeOffset.UnixEpoch;
        Assert.Equal(HealthStatus.Degraded, await LedgerAsync());
        ledger.FailingSince = null;
        ledger.Buffered = 9_000;
        Assert.Equal(HealthStatus.Degraded, await LedgerAsync());
        ledger.Buffered = 0;
        ledger.Dropped = 3;
        Assert.Equal(HealthStatus.Unhealthy, await LedgerAsync());
        Assert.Equal(HealthStatus.Healthy, await LedgerAsync()); // nothing dropped since the last check
        ledger.Down = true;
        Assert.Equal(HealthStatus.Unhealthy, await LedgerAsync());
    }

    private sealed class DownLedger : ICostLedgerAggregates
    {
        public Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default) =>
            throw new Microsoft.Data.Sqlite.SqliteException("database is locked", 5);
    }

    private sealed class FakeLedger : IBufferedCostLedger
    {
        public int Capacity => 10_000;

        public long Buffered { get; set; }

        public long Dropped { get; set; }

        public DateTimeOffset? FailingSince { get; set; }

        public bool Down { get; set; }

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task PingAsync(CancellationToken cancellationToken = default) => Down ? throw new IOException("gone") : Task.CompletedTask;

        public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, CancellationToken cancellationToken = default) => AsyncEnumerable.Empty<CostLedgerRecord>();
    }

    // Stands in for the app's authentication: the tenant and role come from headers only these tests set.
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue("X-Test-Tenant", out var tenant))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            List<Claim> claims = [new Claim("tenant_id", tenant!)];
            if (Request.Headers.TryGetValue("X-Test-Role", out var role))
            {
                claims.Add(new Claim("role", role!));
            }

            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, "test")), "test")));
        }
    }
}
