namespace CostAware;

/// <summary>Thrown to the caller of a deferred call that its batches did not answer: the provider's error for the call, or every attempt expired.</summary>
public sealed class DeferredCallFailedException : CostAwareException
{
    /// <summary>Initializes a new instance of the <see cref="DeferredCallFailedException"/> class.</summary>
    public DeferredCallFailedException()
        : base("The deferred call failed.")
    {
        Ticket = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="DeferredCallFailedException"/> class with a message.</summary>
    /// <param name="message">The message.</param>
    public DeferredCallFailedException(string message)
        : base(message)
    {
        Ticket = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="DeferredCallFailedException"/> class with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public DeferredCallFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Ticket = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="DeferredCallFailedException"/> class for a call.</summary>
    /// <param name="ticket">The call's ticket id.</param>
    /// <param name="error">The provider's error, or what happened to the call's batches.</param>
    public DeferredCallFailedException(string ticket, string error)
        : base($"Deferred call {ticket} failed: {error}")
    {
        Ticket = ticket;
        Error = error;
    }

    /// <summary>Gets the call's ticket id.</summary>
    public string Ticket { get; }

    /// <summary>Gets the provider's error, or what happened to the call's batches.</summary>
    public string? Error { get; }
}
