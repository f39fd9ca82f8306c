namespace CostAware;

/// <summary>The local ONNX backend could not load its runtime, device or model; <see cref="Failure"/> says which piece is missing.</summary>
public sealed class OnnxBackendException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="OnnxBackendException"/> class.</summary>
    public OnnxBackendException()
        : this(OnnxBackendFailure.UnsupportedModel, "The local ONNX backend could not start.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OnnxBackendException"/> class.</summary>
    /// <param name="message">The message.</param>
    public OnnxBackendException(string message)
        : this(OnnxBackendFailure.UnsupportedModel, message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OnnxBackendException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OnnxBackendException(string message, Exception? innerException)
        : this(OnnxBackendFailure.UnsupportedModel, message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OnnxBackendException"/> class.</summary>
    /// <param name="failure">Which piece is missing.</param>
    /// <param name="message">What is missing and what to do about it.</param>
    /// <param name="innerException">The runtime's own exception, when there is one.</param>
    public OnnxBackendException(OnnxBackendFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    /// <summary>Gets which piece is missing.</summary>
    public OnnxBackendFailure Failure { get; }
}
