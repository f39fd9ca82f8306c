namespace CostAware;

/// <summary>Thrown under <see cref="UnknownModelPolicy.Throw"/> when a call's model is not in the price catalog.</summary>
public sealed class UnknownModelPriceException : CostAwareException
{
    /// <summary>Initializes a new instance of the <see cref="UnknownModelPriceException"/> class.</summary>
    public UnknownModelPriceException()
        : base("The model is not in the price catalog.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnknownModelPriceException"/> class.</summary>
    /// <param name="message">The message.</param>
    public UnknownModelPriceException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnknownModelPriceException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public UnknownModelPriceException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnknownModelPriceException"/> class for a model.</summary>
    /// <param name="modelId">The model that has no price, or <see langword="null"/> when the call named none.</param>
    /// <param name="message">The message.</param>
    public UnknownModelPriceException(string? modelId, string message)
        : base(message)
    {
        ModelId = modelId;
    }

    /// <summary>Gets the model that has no price, or <see langword="null"/> when the call named none.</summary>
    public string? ModelId { get; }
}
