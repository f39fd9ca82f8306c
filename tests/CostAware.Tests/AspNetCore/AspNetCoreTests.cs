using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using CostAware.Tests.TestUtilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CostAware.Tests.AspNetCore;

// A real Kestrel host on a loopback port: the scope read from each request, budget refusals as 429 ProblemDetails,
// health checks, the warm-up.
public class AspNetCoreTests
{
    internal static async Task<(WebApplication App, HttpClient Http)> StartAsync(Action<IServiceCollection> services, Action<WebApplication> pipeline)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        services(builder.Services);
        WebApplication app = builder.Build();
        pipeline(app);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    // Stands in for authentication: the caller's tenant claim comes from a header only this test sets.
    internal static void FakeAuthentication(WebApplication app) => app.Use((context, next) =>
    {
        if (context.Request.Headers.TryGetValue("X-Test-Authenticated-Tenant", out var tenant))
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("tenant_id", tenant!)], "test"));
        }

        return next(context);
    });

    [Fact]
    public async Task TheScopeComesFromClaimsFirst_ThenRouteValues_ThenHeaders()
    {
        (WebApplication app, HttpClient http) = await StartAsync(
            _ => { },
            app =>
            {
                FakeAuthentication(app);
                app.UseRouting();
                app.UseCostAwareScope(o =>
                {
                    o.Claims[CostScopeDimension.Tenant] = "tenant_id";
                    o.Headers[CostScopeDimension.Tenant] = "X-Tenant";
                    o.RouteValues[CostScopeDimension.Agent] = "agent";
                    o.Headers[CostScopeDimension.Feature] = "X-Feature";
                    o.MaxValueLength = 16;
                });
                app.MapGet("/agents/{agent}/scope", () => AmbientCostScope.Current ?? new CostScope());
            });
        await using WebApplication running = app;
        using HttpClient client = http;

        using HttpRequestMessage spoofed = new(HttpMethod.Get, "/agents/planner/scope");
        spoofed.Headers.Add("X-Test-Authenticated-Tenant", "acme");
        spoofed.Headers.Add("X-Tenant", "globex");
        spoofed.Headers.Add("X-Feature", "faq");
        CostScope scope = (await (await http.SendAsync(spoofed)).Content.ReadFromJsonAsync<CostScope>())!;
        Assert.Equal(new CostScope { Tenant = "acme", Agent = "planner", Feature = "faq" }, scope);

        using HttpRequestMessage tooLong = new(HttpMethod.Get, "/agents/planner/scope");
        tooLong.Headers.Add("X-Feature", new string('x', 17));
        CostScope withoutFeature = (await (await http.SendAsync(tooLong)).Content.ReadFromJsonAsync<CostScope>())!;
        Assert.Null(withoutFeature.Feature);
        Assert.Equal("planner", withoutFeature.Agent);
    }

    [Fact]
    public async Task ABudgetWithNoRoom_IsA429ProblemWithRetryAfter()
    {
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, o, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                ModelId = "gpt-4o",
                Usage = new UsageDetails { InputTokenCount = 1000, OutputTokenCount = 100 },
            }),
        };
        (WebApplication app, HttpClient http) = await StartAsync(
            services =>
            {
                _ = services.AddCostAware(o => o.Budget.Budgets["daily"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Limit = 0.01m, Window = BudgetWindow.Day });
                _ = services.AddCostAwareAspNetCore();
                services.AddChatClient(provider).UseBudget().UseTokenMetering();
            },
            app =>
            {
                app.UseExceptionHandler();
                FakeAuthentication(app);
                app.UseCostAwareScope(o => o.Claims[CostScopeDimension.Tenant] = "tenant_id");
                app.MapGet("/ask", async (IChatClient chat) => (await chat.GetResponseAsync("hi", new ChatOptions { ModelId = "gpt-4o", MaxOutputTokens = 100 })).Text);
            });
        await using WebApplication running = app;
        using HttpClient client = http;

        async Task<HttpResponseMessage> AskAsync()
        {
            using HttpRequestMessage request = new(HttpMethod.Get, "/ask");
            request.Headers.Add("X-Test-Authenticated-Tenant", "acme");
            return await http.SendAsync(request);
        }

        // gpt-4o: each call settles at $0.0035 (1,000 in, 100 out) against $0.01 a day: the budget refuses once what is
        // spent leaves no room for the next call's worst case.
        HttpResponseMessage refused;
        int answered = 0;
        while ((refused = await AskAsync()).StatusCode == HttpStatusCode.OK && answered < 10)
        {
            answered++;
        }

        Assert.InRange(answered, 2, 3);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        Assert.True(refused.Headers.RetryAfter!.Delta!.Value > TimeSpan.Zero);
        using JsonDocument problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("daily", problem.RootElement.GetProperty("budget").GetString());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task HealthChecks_SayTheBudgetStoreAnswers_AndWhenTheCatalogIsOld()
    {
        (WebApplication app, HttpClient http) = await StartAsync(
            services =>
            {
                _ = services.AddCostAware(_ => { });
                _ = services.AddHealthChecks().AddCostAwareChecks(maxCatalogAge: TimeSpan.FromDays(1));
            },
            app => app.MapHealthChecks("/health"));
        await using WebApplication running = app;
        using HttpClient client = http;

        HttpResponseMessage health = await http.GetAsync("/health");

        // The built-in catalog's newest price is older than a day: degraded, still 200; the store answers.
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Degraded", await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TheWarmUpLoadsTheEmbeddingGeneratorAtStart()
    {
        int embedded = 0;
        (WebApplication app, HttpClient http) = await StartAsync(
            services =>
            {
                _ = services.AddCostAware(_ => { });
                _ = services.AddCostAwareAspNetCore();
                _ = services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(new CountingEmbedder(() => Interlocked.Increment(ref embedded)));
            },
            _ => { });
        await using WebApplication running = app;
        using HttpClient client = http;

        Assert.Equal(1, embedded);
    }

    private sealed class CountingEmbedder(Action onCall) : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            onCall();
            return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>([.. values.Select(_ => new Embedding<float>(new float[] { 1 }))]));
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
