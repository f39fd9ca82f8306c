namespace CostAware;

/// <summary>Thrown at start-up when a price source is malformed; the message names the entry and the field.</summary>
public sealed class PriceCatalogException : CostAwareException
{
    /// <summary>Initializes a new instance of the <see cref="PriceCatalogException"/> class.</summary>
    public PriceCatalogException()
        : base("A price source is malformed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PriceCatalogException"/> class.</summary>
    /// <param name="message">The message.</param>
    public PriceCatalogException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PriceCatalogException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public PriceCatalogException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PriceCatalogException"/> class for one entry and field.</summary>
    /// <param name="source">The price source (file path or configuration path).</param>
    /// <param name="entry">The model entry that is malformed.</param>
    /// <param name="field">The field that is malformed, or <see langword="null"/> when the entry as a whole is.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="innerException">The exception that caused this one, or <see langword="null"/>.</param>
    public PriceCatalogException(string? source, string entry, string? field, string problem, Exception? innerException = null)
        : base(Format(source, entry, field, problem), innerException)
    {
        Source = source;
        Entry = entry;
        Field = field;
    }

    /// <summary>Gets the price source (file path or configuration path), or <see langword="null"/>.</summary>
    public new string? Source { get; }

    /// <summary>Gets the malformed model entry, or <see langword="null"/>.</summary>
    public string? Entry { get; }

    /// <summary>Gets the malformed field, or <see langword="null"/>.</summary>
    public string? Field { get; }

    private static string Format(string? source, string entry, string? field, string problem) =>
        field is null
            ? $"Price entry '{entry}'{(source is null ? string.Empty : $" in {source}")}: {problem}"
            : $"Price entry '{entry}', field '{field}'{(source is null ? string.Empty : $" in {source}")}: {problem}";
}
