using Microsoft.Extensions.AI;
using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CostAware.Onnx.Tests;

// What can be produced on this machine's CPU build of ONNX Runtime; the GPU path is in CudaTests.
public sealed class DeviceTests
{
    [Fact]
    public void Auto_OnTheCpuBuild_RunsOnTheCpu_AndSaysWhy()
    {
        FakeLogCollector logs = new();
        using ILoggerFactory factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));

        using OnnxChatClient client = new(new OnnxChatClientOptions { ModelPath = ModelFolders.Concat, Device = OnnxDevice.Auto, PromptFormatter = ModelFolders.Raw }, factory);

        Assert.Equal("cpu", client.Device);
        Assert.Contains(logs.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.Contains("CPU build", StringComparison.Ordinal));
    }

    [Fact]
    public void Cuda_OnTheCpuBuild_FailsNamingThePackageToReference()
    {
        OnnxBackendException error = Assert.Throws<OnnxBackendException>(() =>
            new OnnxChatClient(new OnnxChatClientOptions { ModelPath = ModelFolders.Concat, Device = OnnxDevice.Cuda, PromptFormatter = ModelFolders.Raw }));

        Assert.Equal(OnnxBackendFailure.CpuOnlyRuntime, error.Failure);
        Assert.Contains($"Microsoft.ML.OnnxRuntime.Gpu.Linux {OrtRuntime.ManagedVersion}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cuda_WithFallBackToCpu_RunsOnTheCpu_WithAWarning()
    {
        FakeLogCollector logs = new();
        using ILoggerFactory factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));

        using OnnxEmbeddingGenerator generator = new(
            new OnnxEmbeddingGeneratorOptions { ModelPath = TestModels.TinyModels.Embedder(false), Device = OnnxDevice.Cuda, FallBackToCpu = true }, factory);

        Assert.Equal("cpu", generator.Device);
        Assert.Contains(logs.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains("FallBackToCpu", StringComparison.Ordinal));
    }

    [Fact]
    public void VersionCheck_NamesBothVersions()
    {
        OrtRuntime.CheckVersions(OrtRuntime.ManagedVersion, OrtRuntime.ManagedVersion);

        OnnxBackendException error = Assert.Throws<OnnxBackendException>(() => OrtRuntime.CheckVersions("1.30.0", "1.31.1"));
        Assert.Equal(OnnxBackendFailure.VersionMismatch, error.Failure);
        Assert.Contains("1.30.0", error.Message, StringComparison.Ordinal);
        Assert.Contains("1.31.1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadedRuntime_IsTheManagedVersion()
    {
        Assert.Equal(OrtRuntime.ManagedVersion, OrtRuntime.EnsureLoaded());
    }

    // The diagnosis after CUDA failed on a GPU build: each missing piece named, first missing first.
    [Theory]
    [InlineData("libonnxruntime_providers_shared.so", "", OnnxBackendFailure.CudaProviderMissing, "libonnxruntime_providers_shared.so")]
    [InlineData("libonnxruntime_providers_cuda.so", "", OnnxBackendFailure.CudaProviderMissing, "libonnxruntime_providers_cuda.so")]
    [InlineData("", "libcuda.so.1", OnnxBackendFailure.CudaRuntimeMissing, "NVIDIA driver")]
    [InlineData("", "libcublasLt.so.13", OnnxBackendFailure.CudaRuntimeMissing, "libcublasLt.so.13")]
    [InlineData("", "libcurand.so.10", OnnxBackendFailure.CudaRuntimeMissing, "libcurand.so.10")]
    [InlineData("", "libcudnn.so.9", OnnxBackendFailure.CudaRuntimeMissing, "cuDNN 9")]
    [InlineData("", "", OnnxBackendFailure.CudaFailed, "could not start on the GPU")]
    public void Diagnose_NamesTheMissingPiece(string missingFile, string missingLibrary, OnnxBackendFailure failure, string named)
    {
        Exception cause = new InvalidOperationException("[ErrorCode:Fail] OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library");

        OnnxBackendException diagnosis = OrtRuntime.Diagnose(
            cause, "/opt/ort/lib", path => Path.GetFileName(path) != missingFile, library => library != missingLibrary);

        Assert.Equal(failure, diagnosis.Failure);
        Assert.Contains(named, diagnosis.Message, StringComparison.Ordinal);
        Assert.Same(cause, diagnosis.InnerException);
    }
}

// Runs only where ONNX Runtime can use CUDA (a GPU package and a GPU); skipped, and counted as skipped, elsewhere.
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaAvailable.Value)
        {
            Skip = "No GPU here: CUDAExecutionProvider is not in the loaded ONNX Runtime (the CPU package). Runs where Microsoft.ML.OnnxRuntime.Gpu.Linux and an NVIDIA GPU are present (eng/gpu-check.sh).";
        }
    }

    private static readonly Lazy<bool> CudaAvailable = new(() =>
    {
        try
        {
            return OrtRuntime.HasCudaBuild();
        }
        catch (OnnxBackendException)
        {
            return false;
        }
    });
}

public sealed class CudaTests
{
    [CudaFact]
    public async Task Decoder_OnCuda_GivesTheSameGreedyAnswer()
    {
        using OnnxChatClient client = new(new OnnxChatClientOptions { ModelPath = ModelFolders.Concat, Device = OnnxDevice.Cuda, PromptFormatter = ModelFolders.Raw });

        ChatResponse response = await client.GetResponseAsync("Count: a");

        Assert.Equal("cuda:0", client.Device);
        Assert.Equal("bcdef", response.Text);
    }

    [CudaFact]
    public async Task GqaSharedBuffer_OnCuda_GivesTheSameGreedyAnswer()
    {
        using OnnxChatClient client = new(new OnnxChatClientOptions { ModelPath = ModelFolders.GqaShared, Device = OnnxDevice.Cuda, PromptFormatter = ModelFolders.Raw });

        ChatResponse response = await client.GetResponseAsync("Count: a");

        Assert.Equal("bcdef", response.Text);
    }
}
