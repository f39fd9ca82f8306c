namespace CostAware;

/// <summary>The base class of the exceptions CostAware throws for its own reasons (not argument errors).</summary>
public abstract class CostAwareException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="CostAwareException"/> class.</summary>
    protected CostAwareException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CostAwareException"/> class.</summary>
    /// <param name="message">The message.</param>
    protected CostAwareException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CostAwareException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    protected CostAwareException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
