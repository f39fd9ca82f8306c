using System.Security.Claims;
using System.Text.Encodings.Web;
using CostAware.Samples;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace CostAware.Samples.WebApi;

/// <summary>
/// A minimal API with CostAware in production shape: the tenant from the caller's identity, a budget per tenant
/// (429 ProblemDetails with Retry-After when it has no room), a durable ledger (SQLite, or PostgreSQL when a
/// connection string is configured), cost headers on every answer, spend and budget endpoints for the finance role,
/// health checks, and a warm-up.
/// </summary>
public static class SampleApp
{
    /// <summary>Builds the app; <c>Program</c> runs it, the tests start it on a loopback port.</summary>
    /// <param name="args">Command-line arguments (configuration overrides such as <c>--urls</c>).</param>
    /// <returns>The app, not started.</returns>
    public static WebApplication Build(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        IConfiguration configuration = builder.Configuration;

        builder.Services.AddCostAware(configuration.GetSection("CostAware"));
        if (configuration["CostAware:Ledger:PostgreSql:ConnectionString"] is { Length: > 0 })
        {
            builder.Services.AddCostAwarePostgreSqlLedger(configuration.GetSection("CostAware:Ledger:PostgreSql"));
        }
        else
        {
            builder.Services.AddCostAwareSqliteLedger(configuration.GetSection("CostAware:Ledger:Sqlite"));
        }

        builder.Services.AddCostAwareAspNetCore();
        builder.Services.AddHealthChecks().AddCostAwareChecks();

        // The app's own authentication (an API key per caller here); CostAware reads the tenant from its claims.
        builder.Services.AddAuthentication(ApiKeyAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy("finance", p => p.RequireClaim("role", "finance")));

        // The model: the OpenAI API with OPENAI_API_KEY, else recorded answers (no key, no network).
        (IChatClient model, string description, _) = SampleBackend.Create();
        builder.Services.AddChatClient(model).UseBudget().UseTokenMetering();

        WebApplication app = builder.Build();
        Console.WriteLine("Answering with " + description);
        app.UseExceptionHandler();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseCostAwareScope(o => o.Claims[CostScopeDimension.Tenant] = "tenant");
        app.UseCostAwareCostHeaders();

        app.MapPost("/ask", async (Question question, IChatClient chat, CancellationToken cancellationToken) =>
        {
            ChatResponse answer = await chat.GetResponseAsync(question.Text, new ChatOptions { MaxOutputTokens = 400 }, cancellationToken);
            return new Answer(answer.Text, answer.GetCostReceipt()?.Spent ?? 0m);
        }).RequireAuthorization();
        app.MapCostAwareEndpoints("finance");
        app.MapHealthChecks("/health");
        return app;
    }

    /// <summary>A question to the model.</summary>
    /// <param name="Text">The question.</param>
    public sealed record Question(string Text);

    /// <summary>The model's answer and what it cost.</summary>
    /// <param name="Text">The answer.</param>
    /// <param name="Cost">What the call cost, in US dollars.</param>
    public sealed record Answer(string Text, decimal Cost);

    // Callers send X-Api-Key; the keys, their tenant and role are in configuration (Sample:ApiKeys).
    private sealed class ApiKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IConfiguration configuration)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "ApiKey";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue("X-Api-Key", out var key) || string.IsNullOrEmpty(key))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            IConfigurationSection caller = configuration.GetSection("Sample:ApiKeys").GetSection(key!);
            if (caller["Tenant"] is not { } tenant)
            {
                return Task.FromResult(AuthenticateResult.Fail("Unknown API key."));
            }

            ClaimsIdentity identity = new([new Claim("tenant", tenant), new Claim("role", caller["Role"] ?? "user")], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
