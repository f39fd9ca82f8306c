namespace CostAware;

/// <summary>Decides whether two answers to the same request say the same thing, for agreement and voting scorers.</summary>
/// <remarks>Implementations must be thread-safe. <see cref="AnswerEquivalence"/> has the built-in ones.</remarks>
public interface IAnswerEquivalence
{
    /// <summary>Decides whether two answers are equivalent.</summary>
    /// <param name="first">One answer's text.</param>
    /// <param name="second">The other answer's text.</param>
    /// <param name="cancellationToken">Cancels the decision (an equivalence that calls a model or an embedder).</param>
    /// <returns><see langword="true"/> when they are the same answer.</returns>
    ValueTask<bool> AreEquivalentAsync(string first, string second, CancellationToken cancellationToken);
}
