namespace CostAware;

/// <summary>
/// The cost scope that flows with the current asynchronous control flow, for code that cannot reach a call's
/// <see cref="Microsoft.Extensions.AI.ChatOptions"/> (an agent framework, a library that builds its own options).
/// </summary>
/// <remarks>
/// The ambient scope flows like <see cref="AsyncLocal{T}"/>: into awaited calls and tasks started inside the block,
/// not back out of them. Scopes nest; disposing restores the enclosing one. Safe to use from any thread.
/// </remarks>
public static class AmbientCostScope
{
    private static readonly AsyncLocal<CostScope?> CurrentScope = new();

    /// <summary>Gets the ambient scope, or <see langword="null"/> when none was begun.</summary>
    public static CostScope? Current => CurrentScope.Value;

    /// <summary>Makes <paramref name="scope"/> the ambient scope until the returned object is disposed.</summary>
    /// <param name="scope">The scope; it is merged over the enclosing ambient scope, field by field.</param>
    /// <returns>An object that restores the enclosing scope when disposed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> is <see langword="null"/>.</exception>
    public static IDisposable Begin(CostScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        CostScope? previous = CurrentScope.Value;
        CurrentScope.Value = previous is null ? scope : previous.Merge(scope);
        return new Restorer(previous);
    }

    private sealed class Restorer(CostScope? previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                CurrentScope.Value = previous;
            }
        }
    }
}
