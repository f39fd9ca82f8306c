namespace CostAware;

/// <summary>Where a local ONNX model runs.</summary>
public enum OnnxDevice
{
    /// <summary>On the GPU through CUDA when the loaded ONNX Runtime can use it, otherwise on the CPU; the choice and its reason are logged.</summary>
    Auto,

    /// <summary>On the CPU.</summary>
    Cpu,

    /// <summary>
    /// On the NVIDIA GPU given by <see cref="OnnxModelOptions.DeviceId"/> through CUDA. When CUDA cannot be used the
    /// model fails to load with an <see cref="OnnxBackendException"/> that names the missing piece, or runs on the CPU
    /// when <see cref="OnnxModelOptions.FallBackToCpu"/> is set.
    /// </summary>
    Cuda,
}
