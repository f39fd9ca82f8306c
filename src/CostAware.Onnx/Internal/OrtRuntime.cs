using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace CostAware.Onnx.Internal;

// Starts ONNX Runtime for a model: checks the native library is there and of the managed API's version, picks the
// device (ARCHITECTURE: CPU by default, CUDA when the provider is found, a precise error otherwise) and creates the
// session. The measured failure modes behind the messages are in ONNX-BACKEND.md §1.
internal static class OrtRuntime
{
    internal const string CudaProvider = "CUDAExecutionProvider";

    // The CUDA and cuDNN majors the ONNX Runtime 1.31 GPU packages link against (ONNX-BACKEND.md §2: CUDA 13, cuDNN 9).
    internal const int CudaMajor = 13;
    internal const int CudnnMajor = 9;

    private static readonly Lock Gate = new();
    private static string? s_nativeVersion;

    public static string ManagedVersion
    {
        get
        {
            Version v = typeof(OrtEnv).Assembly.GetName().Version ?? new Version(0, 0, 0);
            return $"{v.Major}.{v.Minor}.{v.Build}";
        }
    }

    // The native version, after checking it loads and matches the managed API.
    public static string EnsureLoaded()
    {
        lock (Gate)
        {
            if (s_nativeVersion is not null)
            {
                return s_nativeVersion;
            }

            string native;
            try
            {
                native = OrtEnv.Instance().GetVersionString();
            }
            catch (Exception ex) when (Unwrap(ex) is DllNotFoundException)
            {
                throw new OnnxBackendException(
                    OnnxBackendFailure.NativeRuntimeMissing,
                    $"No native ONNX Runtime library was found. Add the package Microsoft.ML.OnnxRuntime {ManagedVersion} (CPU) or Microsoft.ML.OnnxRuntime.Gpu.Linux {ManagedVersion} (CUDA) to the application.",
                    ex);
            }
            catch (Exception ex) when (ex is TypeInitializationException or EntryPointNotFoundException || Unwrap(ex) is InvalidOperationException)
            {
                throw new OnnxBackendException(
                    OnnxBackendFailure.VersionMismatch,
                    $"The native ONNX Runtime library does not match the managed API {ManagedVersion}: reference the native package of exactly that version ({Unwrap(ex).Message}).",
                    ex);
            }

            CheckVersions(native, ManagedVersion);
            s_nativeVersion = native;
            return native;
        }
    }

    internal static void CheckVersions(string native, string managed)
    {
        if (!string.Equals(native.Trim(), managed, StringComparison.Ordinal))
        {
            throw new OnnxBackendException(
                OnnxBackendFailure.VersionMismatch,
                $"The native ONNX Runtime library is {native} but the managed API is {managed}; the two must be the same release. Reference the native package (Microsoft.ML.OnnxRuntime or Microsoft.ML.OnnxRuntime.Gpu.Linux) at version {managed}.");
        }
    }

    public static bool HasCudaBuild() => OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider, StringComparer.Ordinal);

    // Creates the session on the device the options ask for; returns the device name reported in metadata.
    public static InferenceSession CreateSession(string modelFile, OnnxModelOptions options, ILogger logger, out string device)
    {
        string version = EnsureLoaded();
        bool cudaBuild = HasCudaBuild();
        if (options.Device == OnnxDevice.Cpu)
        {
            device = "cpu";
            return CreateCpu(modelFile, options);
        }

        if (!cudaBuild)
        {
            OnnxBackendException noCuda = new(
                OnnxBackendFailure.CpuOnlyRuntime,
                $"The loaded ONNX Runtime {version} is the CPU build (package Microsoft.ML.OnnxRuntime). For CUDA, reference Microsoft.ML.OnnxRuntime.Gpu.Linux {version} instead of Microsoft.ML.OnnxRuntime; the two cannot be referenced together.");
            return FallBack(modelFile, options, logger, noCuda, out device);
        }

        try
        {
            InferenceSession session = CreateCuda(modelFile, options);
            device = $"cuda:{options.DeviceId}";
            Log.DeviceChosen(logger, modelFile, device);
            return session;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            OnnxBackendException diagnosis = Diagnose(ex, NativeLibraryDirectory(), File.Exists, static name => NativeLibrary.TryLoad(name, out IntPtr handle) && Free(handle));
            return FallBack(modelFile, options, logger, diagnosis, out device);
        }
    }

    private static InferenceSession FallBack(string modelFile, OnnxModelOptions options, ILogger logger, OnnxBackendException why, out string device)
    {
        if (options.Device == OnnxDevice.Cuda && !options.FallBackToCpu)
        {
            throw why;
        }

        if (options.Device == OnnxDevice.Cuda)
        {
            Log.CudaFallback(logger, modelFile, why.Message);
        }
        else
        {
            Log.AutoOnCpu(logger, modelFile, why.Message);
        }

        device = "cpu";
        return CreateCpu(modelFile, options);
    }

    // Names the first missing piece after CUDA failed to start on a GPU build of ONNX Runtime.
    internal static OnnxBackendException Diagnose(Exception error, string? ortDirectory, Func<string, bool> fileExists, Func<string, bool> canLoad)
    {
        if (ortDirectory is not null)
        {
            foreach (string provider in new[] { "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so" })
            {
                if (!fileExists(Path.Combine(ortDirectory, provider)))
                {
                    return new OnnxBackendException(
                        OnnxBackendFailure.CudaProviderMissing,
                        $"The GPU build of ONNX Runtime is loaded from '{ortDirectory}', but {provider} is not beside it. Reference Microsoft.ML.OnnxRuntime.Gpu.Linux {ManagedVersion}, which ships it, or copy it from the same ONNX Runtime release.",
                        error);
                }
            }
        }

        string[] needed =
        [
            "libcuda.so.1",
            $"libcudart.so.{CudaMajor}",
            $"libcublasLt.so.{CudaMajor}",
            $"libcublas.so.{CudaMajor}",

            // Linked by the 1.32.0 CUDA provider too (readelf -d; eng/gpu-check.sh checks this list against the package).
            "libcurand.so.10",
            $"libcudnn.so.{CudnnMajor}",
        ];
        foreach (string library in needed)
        {
            if (!canLoad(library))
            {
                string what = library == "libcuda.so.1"
                    ? "the NVIDIA driver (libcuda.so.1) is not installed or no GPU is visible"
                    : $"{library} cannot be loaded: install CUDA {CudaMajor}.x and cuDNN {CudnnMajor} and put their libraries on the loader path (LD_LIBRARY_PATH)";
                return new OnnxBackendException(OnnxBackendFailure.CudaRuntimeMissing, $"CUDA cannot be used: {what}.", error);
            }
        }

        return new OnnxBackendException(OnnxBackendFailure.CudaFailed, $"ONNX Runtime could not start on the GPU: {error.Message}", error);
    }

    // A model the CPU cannot load is the model's fault: reported as such, with the runtime's reason.
    private static InferenceSession CreateCpu(string modelFile, OnnxModelOptions options)
    {
        using SessionOptions so = BaseOptions(options);
        try
        {
            return new InferenceSession(modelFile, so);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"ONNX Runtime could not load '{modelFile}': {ex.Message}", ex);
        }
    }

    // Errors pass through untouched: the caller diagnoses them as CUDA failures.
    private static InferenceSession CreateCuda(string modelFile, OnnxModelOptions options)
    {
        using SessionOptions so = BaseOptions(options);
        using OrtCUDAProviderOptions cuda = new();
        cuda.UpdateOptions(new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = options.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = "DEFAULT",
        });
        so.AppendExecutionProvider_CUDA(cuda);
        return new InferenceSession(modelFile, so);
    }

    private static SessionOptions BaseOptions(OnnxModelOptions options)
    {
        SessionOptions so = new()
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogId = "costaware",
        };
        if (options.IntraOpThreads > 0)
        {
            so.IntraOpNumThreads = options.IntraOpThreads;
        }

        return so;
    }

    // The folder the native library was loaded from (Linux: from the process's mappings), where ORT looks for its providers.
    private static string? NativeLibraryDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            string? mapped = File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/', StringComparison.Ordinal) is int slash and >= 0 ? line[slash..].Trim() : null)
                .FirstOrDefault(path => path is not null && Path.GetFileName(path).StartsWith("libonnxruntime.so", StringComparison.Ordinal));
            return mapped is null ? null : Path.GetDirectoryName(mapped);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool Free(IntPtr handle)
    {
        NativeLibrary.Free(handle);
        return true;
    }

    private static Exception Unwrap(Exception ex)
    {
        while (ex is TypeInitializationException or TargetInvocationException && ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
