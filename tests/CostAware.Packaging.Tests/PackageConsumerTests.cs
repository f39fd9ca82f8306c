using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace CostAware.Packaging.Tests;

// The packages as a user gets them: packed from the Release build, put in a local feed, and referenced by version from
// an app outside the solution, which must restore, build and run. Each package also stands alone: it carries its
// README and XML docs, and its assembly opens its internals to no other product package.
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly string[] Packages =
    [
        "CostAware.Abstractions", "CostAware", "CostAware.SemanticCache", "CostAware.Batching", "CostAware.Batching.OpenAI",
        "CostAware.Batching.Anthropic", "CostAware.Anthropic", "CostAware.OpenAI", "CostAware.AspNetCore", "CostAware.Ledger.Sqlite", "CostAware.Ledger.PostgreSql", "CostAware.Redis", "CostAware.Onnx", "CostAware.Onnx.MiniLM",
    ];

    private readonly string _work = Path.Combine(Path.GetTempPath(), "costaware-consumer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact(Timeout = 600_000)]
    public async Task PackedPackages_ReferencedByVersionFromALocalFeed_RestoreBuildAndRun()
    {
        string root = Root();
        string feed = Path.Combine(_work, "feed");

        // A version of this run's own, so that NuGet's global cache never serves a package packed from an older build.
        string runVersion = "0.1.0-consumer." + TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (string package in Packages)
        {
            (int code, string output) = await RunAsync("dotnet", $"pack \"{Path.Combine(root, "src", package, package + ".csproj")}\" -c Release --no-build -o \"{feed}\" -nologo -p:PackageVersion={runVersion}", root);
            Assert.True(code == 0, $"pack {package} failed:\n{output}");
        }

        string version = Version(Directory.GetFiles(feed, "CostAware.0.*.nupkg").Single());
        Assert.Equal(runVersion, version);
        string app = Path.Combine(_work, "app");
        Directory.CreateDirectory(app);
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        await File.WriteAllTextAsync(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
                <ImportDirectoryPackagesProps>false</ImportDirectoryPackagesProps>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="CostAware" Version="{version}" />
                <PackageReference Include="CostAware.Redis" Version="{version}" />
                <PackageReference Include="CostAware.SemanticCache" Version="{version}" />
                <PackageReference Include="CostAware.Batching.OpenAI" Version="{version}" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="11.0.0" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
            using CostAware;
            using Microsoft.Extensions.AI;
            using Microsoft.Extensions.DependencyInjection;

            ServiceCollection services = new();
            services.AddCostAware(o => o.Budget.Budgets["daily"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Limit = 1m })
                .AddCostAwareRedis(o => { })
                .AddCostAwareSemanticCache(configuration: null)
                .AddCostAwareBatching(o => { })
                .AddCostAwareOpenAIBatches(new OpenAI.OpenAIClient("sk-none"));
            services.AddChatClient(new Echo()).UseBudget().UsePromptCache().UseSemanticCache().UseBatchDeferral().UseTokenMetering();
            await using ServiceProvider provider = services.BuildServiceProvider();
            await provider.ValidateCostAwareOptionsAsync();
            IChatClient chat = provider.GetRequiredService<IChatClient>();
            ChatOptions options = new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 20 }.WithCostScope(new CostScope { Tenant = "acme" });
            ChatResponse first = await chat.GetResponseAsync("What is the capital of France?", options);
            ChatResponse second = await chat.GetResponseAsync("What is the capital of France?", options);
            Console.WriteLine($"spent {first.GetCostReceipt()!.Spent} then {second.GetCostReceipt()!.Spent}");

            sealed class Echo : IChatClient
            {
                public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
                    Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Paris")) { ModelId = "gpt-4o-mini", Usage = new UsageDetails { InputTokenCount = 12, OutputTokenCount = 1 } });

                public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
                    throw new NotSupportedException();

                public object? GetService(Type serviceType, object? serviceKey = null) => null;

                public void Dispose()
                {
                }
            }
            """);

        (int runCode, string runOutput) = await RunAsync("dotnet", "run -c Release", app);

        Assert.True(runCode == 0, $"the consumer app failed:\n{runOutput}");
        Assert.Contains("spent 0.000002400 then 0", runOutput, StringComparison.Ordinal);
    }

    [Fact(Timeout = 600_000)]
    public async Task TheCostawareTool_PackedIntoALocalFeed_InstallsAndRuns()
    {
        string root = Root();
        string feed = Path.Combine(_work, "tool-feed");
        string version = "0.1.0-tool." + TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        (int code, string output) = await RunAsync("dotnet", $"pack \"{Path.Combine(root, "src", "CostAware.Cli", "CostAware.Cli.csproj")}\" -c Release --no-build -o \"{feed}\" -nologo -p:PackageVersion={version}", root);
        Assert.True(code == 0, $"pack CostAware.Cli failed:\n{output}");

        // Only the local feed: what the docs tell a user to run, nothing from elsewhere.
        string config = Path.Combine(_work, "tool-nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        string tools = Path.Combine(_work, "tools");
        (code, output) = await RunAsync("dotnet", $"tool install CostAware.Cli --tool-path \"{tools}\" --configfile \"{config}\" --version {version}", _work);
        Assert.True(code == 0, $"dotnet tool install failed:\n{output}");

        (code, output) = await RunAsync(Path.Combine(tools, "costaware"), "prices gpt-4o --json", _work);
        Assert.True(code == 0, $"costaware failed:\n{output}");
        Assert.Contains("\"model\": \"gpt-4o\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryPackage_OpensItsInternalsToNoOtherProductPackage()
    {
        foreach (string package in Packages)
        {
            string dll = Path.Combine(Root(), "src", package, "bin", "Release", "net10.0", package + ".dll");
            Assert.True(File.Exists(dll), $"{dll} was not built");
            foreach (string friend in InternalsVisibleTo(dll))
            {
                Assert.True(
                    friend == package + ".Tests" || friend == "CostAware.Benchmarks" || friend == "CostAware.Batching.Tests" && package.StartsWith("CostAware.Batching.", StringComparison.Ordinal),
                    $"{package} opens its internals to {friend}");
            }
        }
    }

    private static IEnumerable<string> InternalsVisibleTo(string dll)
    {
        using FileStream stream = File.OpenRead(dll);
        using PEReader pe = new(stream);
        MetadataReader metadata = pe.GetMetadataReader();
        foreach (CustomAttributeHandle handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            CustomAttribute attribute = metadata.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind == HandleKind.MemberReference)
            {
                MemberReference ctor = metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
                TypeReference type = metadata.GetTypeReference((TypeReferenceHandle)ctor.Parent);
                if (metadata.GetString(type.Name) == nameof(System.Runtime.CompilerServices.InternalsVisibleToAttribute))
                {
                    BlobReader value = metadata.GetBlobReader(attribute.Value);
                    _ = value.ReadUInt16();
                    yield return value.ReadSerializedString()!;
                }
            }
        }
    }

    private static string Version(string nupkg)
    {
        using ZipArchive zip = ZipFile.OpenRead(nupkg);
        ZipArchiveEntry nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using Stream stream = nuspec.Open();
        XDocument document = XDocument.Load(stream);
        XElement readme = document.Descendants().Single(e => e.Name.LocalName == "readme");
        Assert.Equal("README.md", readme.Value);
        Assert.Contains(zip.Entries, e => e.FullName == "README.md");
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("CostAware.xml", StringComparison.Ordinal));
        return document.Descendants().Single(e => e.Name.LocalName == "version").Value;
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string arguments, string directory)
    {
        ProcessStartInfo start = new(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    private static string Root()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "CostAware.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("The repository root was not found.");
    }
}
