namespace CostAware;

/// <summary>Why the local ONNX backend could not start.</summary>
public enum OnnxBackendFailure
{
    /// <summary>No native ONNX Runtime library was found: the app references neither <c>Microsoft.ML.OnnxRuntime</c> nor a GPU package.</summary>
    NativeRuntimeMissing,

    /// <summary>The native ONNX Runtime library and the managed API are different versions.</summary>
    VersionMismatch,

    /// <summary>CUDA was asked for, but the loaded ONNX Runtime is the CPU build.</summary>
    CpuOnlyRuntime,

    /// <summary>The GPU build of ONNX Runtime is loaded, but its CUDA provider libraries are not beside it.</summary>
    CudaProviderMissing,

    /// <summary>The CUDA provider is there, but a CUDA or cuDNN library it needs (or the NVIDIA driver) is not installed.</summary>
    CudaRuntimeMissing,

    /// <summary>CUDA is installed but ONNX Runtime could not start on the GPU; the inner exception says why.</summary>
    CudaFailed,

    /// <summary>The model folder holds something the backend cannot run; the message names the file and the problem.</summary>
    UnsupportedModel,
}
