using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Onnx.Tests;

// The local client under the same Microsoft.Extensions.AI pipeline as a remote provider: metered, priced, cached.
public sealed class PipelineTests
{
    private static ServiceProvider Services(Action<IServiceCollection>? more = null)
    {
        ServiceCollection services = new();
        _ = services.AddLogging();
        _ = services.AddCostAware(o =>
        {
            o.IncludeBuiltInPrices = false;
            o.Prices["tiny"] = new ModelPriceOptions { Provider = "onnxruntime", Input = 0.05m, Output = 0.20m };
        });
        _ = services.AddCostAwareOnnxChatClient(o =>
        {
            o.ModelPath = ModelFolders.Concat;
            o.ModelId = "tiny";
            o.Device = OnnxDevice.Cpu;
            o.PromptFormatter = ModelFolders.Raw;
        });
        _ = services.AddChatClient(sp => sp.GetRequiredService<OnnxChatClient>())
            .UsePromptCache()
            .UseTokenMetering();
        more?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    [Fact]
    public async Task Metered_PricedToTheNanoDollar_AndCachedOnRepeat()
    {
        using ServiceProvider provider = Services();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        OnnxChatClient local = provider.GetRequiredService<OnnxChatClient>();

        ChatResponse first = await chat.GetResponseAsync("Count: a");
        long generated = local.Throughput.OutputTokens;
        ChatResponse second = await chat.GetResponseAsync("Count: a");

        Assert.Equal("bcdef", first.Text);
        Assert.Equal("bcdef", second.Text);
        Assert.Equal(generated, local.Throughput.OutputTokens); // the repeat never reached the model
        CostReceipt receipt = Assert.IsType<CostReceipt>(first.GetCostReceipt());
        long input = first.Usage!.InputTokenCount!.Value;
        Assert.Equal(((input * 0.05m) + (6 * 0.20m)) / 1_000_000m, receipt.Spent);
        Assert.Equal(0m, second.GetCostReceipt()!.Spent);
    }

    [Fact]
    public void Configuration_BindsAndValidatesAtStart()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Onnx:Chat:ModelPath"] = ModelFolders.Concat,
            ["CostAware:Onnx:Chat:Device"] = "Cpu",
            ["CostAware:Onnx:Chat:MaxBatchSize"] = "4",
            ["CostAware:Onnx:Chat:ChatTemplate"] = "ChatML",
        }).Build();
        ServiceCollection services = new();
        _ = services.AddCostAwareOnnxChatClient(configuration.GetSection("CostAware:Onnx:Chat"));
        using ServiceProvider provider = services.BuildServiceProvider();

        OnnxChatClient client = provider.GetRequiredService<OnnxChatClient>();

        Assert.Equal(Path.GetFileName(ModelFolders.Concat), client.ModelId);
    }

    [Fact]
    public void Configuration_UnknownKey_FailsAtStartNamingIt()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Onnx:Chat:ModelPath"] = ModelFolders.Concat,
            ["CostAware:Onnx:Chat:MaxBachSize"] = "4",
        }).Build();
        ServiceCollection services = new();
        _ = services.AddCostAwareOnnxChatClient(configuration.GetSection("CostAware:Onnx:Chat"));
        using ServiceProvider provider = services.BuildServiceProvider();

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(
            () => provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<OnnxChatClientOptions>>().Value);
        Assert.Contains("MaxBachSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_OutOfRange_NamesTheOption()
    {
        ServiceCollection services = new();
        _ = services.AddCostAwareOnnxChatClient(o =>
        {
            o.ModelPath = ModelFolders.Concat;
            o.MaxBatchSize = 0;
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Microsoft.Extensions.Options.OptionsValidationException error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<OnnxChatClientOptions>>().Value);
        Assert.Contains("MaxBatchSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_MissingFolderAndBaseClassRange_NamedTogetherAtStart()
    {
        ServiceCollection services = new();
        _ = services.AddCostAwareOnnxEmbeddingGenerator(o =>
        {
            o.ModelPath = Path.Combine(Path.GetTempPath(), "costaware-no-such-model-" + Guid.NewGuid().ToString("N"));
            o.DeviceId = 300; // declared on the shared base class
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Microsoft.Extensions.Options.OptionsValidationException error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<OnnxEmbeddingGeneratorOptions>>().Value);
        Assert.Contains(error.Failures, f => f.Contains("DeviceId", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Onnx:Embeddings:ModelPath names", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_ChecksTheSameRulesAsStartUp()
    {
        Microsoft.Extensions.Options.OptionsValidationException range = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new OnnxChatClient(new OnnxChatClientOptions { ModelPath = ModelFolders.Concat, MaxConcurrency = 0 }));
        Assert.Contains(range.Failures, f => f.Contains("MaxConcurrency", StringComparison.Ordinal));

        Microsoft.Extensions.Options.OptionsValidationException folder = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new OnnxChatClient(new OnnxChatClientOptions { ModelPath = Path.Combine(ModelFolders.Concat, "missing") }));
        Assert.StartsWith("Onnx:Chat:ModelPath names", Assert.Single(folder.Failures), StringComparison.Ordinal);

        Microsoft.Extensions.Options.OptionsValidationException empty = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new OnnxEmbeddingGenerator(new OnnxEmbeddingGeneratorOptions { ModelPath = "" }));
        Assert.Contains(empty.Failures, f => f.Contains("ModelPath", StringComparison.Ordinal));
    }

    [Fact]
    public void ThroughputToPrice_SpreadsTheHourlyCostOverTheMeasuredRates()
    {
        OnnxThroughput measured = new(PromptTokens: 36_000, PrefillTime: TimeSpan.FromSeconds(10), OutputTokens: 3_600, DecodeTime: TimeSpan.FromSeconds(90));

        ModelPriceOptions price = measured.ToPrice(0.72m);

        // 0.72 $/h = 0.0002 $/s; 3,600 prompt tokens/s → $0.055556 per million; 40 answer tokens/s → $5 per million.
        Assert.Equal(0.055556m, price.Input);
        Assert.Equal(5m, price.Output);
        _ = Assert.Throws<InvalidOperationException>(() => new OnnxThroughput(0, TimeSpan.Zero, 0, TimeSpan.Zero).ToPrice(1m));
    }
}
