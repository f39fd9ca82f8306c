namespace CostAware;

/// <summary>
/// Thrown when a budget cannot be checked because its store (Redis) cannot be reached and the budget stage is set to
/// fail closed. The call was not made.
/// </summary>
public sealed class BudgetStoreUnavailableException : CostAwareException
{
    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class.</summary>
    public BudgetStoreUnavailableException()
        : base("The budget store cannot be reached.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class with a message.</summary>
    /// <param name="message">The message.</param>
    public BudgetStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The store's error.</param>
    public BudgetStoreUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
