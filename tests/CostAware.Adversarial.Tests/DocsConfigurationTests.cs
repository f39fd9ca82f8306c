using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Adversarial.Tests;

// Every configuration snippet the docs show starts an app that follows the docs' own layout: one "CostAware" section
// given to AddCostAware, with the packages' sections (Batching, SemanticCache, Redis) under it, each validated at start.
public sealed partial class DocsConfigurationTests
{
    public static TheoryData<string, int> Snippets()
    {
        TheoryData<string, int> data = [];
        string docs = Path.Combine(Root(), "docs");
        foreach (string file in Directory.GetFiles(docs, "*.md").Order(StringComparer.Ordinal))
        {
            int n = 0;
            foreach (Match match in JsonBlock().Matches(File.ReadAllText(file)))
            {
                if (match.Groups[1].Value.Contains("\"CostAware\"", StringComparison.Ordinal))
                {
                    data.Add(Path.GetFileName(file), n);
                }

                n++;
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public async Task DocsSnippet_StartsWithTheDocumentedLayout(string file, int index)
    {
        string json = JsonBlock().Matches(File.ReadAllText(Path.Combine(Root(), "docs", file)))[index].Groups[1].Value;

        // Files a snippet names (price tables) are not part of the layout being checked.
        json = Regex.Replace(json, "\"(LiteLlmPriceFiles|PriceFiles)\": \\[[^\\]]*\\],?", string.Empty);
        await StartAndValidateAsync(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());
    }

    [Fact]
    public async Task TheDocumentedLayout_AllPackagesUnderOneSection_Starts()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Budget:Budgets:daily:Per:0"] = "Tenant",
            ["CostAware:Budget:Budgets:daily:Limit"] = "5",
            ["CostAware:SemanticCache:SimilarityThreshold"] = "0.95",
            ["CostAware:Batching:QueuePath"] = Path.Combine(Path.GetTempPath(), "costaware-docs-layout.db"),
            ["CostAware:Onnx:Chat:ModelPath"] = "/models/phi",
            ["CostAware:Redis:InstanceName"] = "docs-layout:",
        }).Build();

        await StartAndValidateAsync(configuration);
    }

    [Fact]
    public void TheRedisSection_IsReadOnce_ByAddCostAwareRedis()
    {
        // The section belongs to CostAware.Redis: AddCostAware neither binds it nor reports its keys, and a typo there
        // is named by AddCostAwareRedis, at registration.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Redis:Configuraton"] = "127.0.0.1:1",
        }).Build();
        ServiceCollection services = new();
        _ = services.AddCostAware(configuration.GetSection("CostAware"));

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(
            () => services.AddCostAwareRedis(configuration.GetSection("CostAware:Redis")));
        Assert.Contains("Configuraton", error.Message, StringComparison.Ordinal);
        using ServiceProvider provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<CostAwareOptions>>().Value;
    }

    private static async Task StartAndValidateAsync(IConfiguration configuration)
    {
        ServiceCollection services = new();
        services.AddCostAware(configuration.GetSection("CostAware"))
            .AddCostAwareSemanticCache(configuration.GetSection("CostAware:SemanticCache"))
            .AddCostAwareBatching(configuration.GetSection("CostAware:Batching"))
            .AddCostAwareRedis(configuration.GetSection("CostAware:Redis"));
        await using ServiceProvider provider = services.BuildServiceProvider();

        await provider.ValidateCostAwareOptionsAsync();
    }

    private static string Root()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "CostAware.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("The repository root (CostAware.sln) was not found above the test's folder.");
    }

    [GeneratedRegex("```json\\s*\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}
