using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>Arguments of <see cref="BatchDeferralOptions.OnResult"/>: the answer to a deferred call that no caller is awaiting.</summary>
public readonly struct DeferredResultArguments
{
    /// <summary>Initializes a new instance of the <see cref="DeferredResultArguments"/> struct.</summary>
    /// <param name="ticket">The call's ticket id.</param>
    /// <param name="response">The answer, or <see langword="null"/> when the call failed.</param>
    /// <param name="error">Why the call failed, or <see langword="null"/>.</param>
    /// <param name="scope">The call's scope.</param>
    /// <param name="cancellationToken">Cancelled when the app stops.</param>
    public DeferredResultArguments(string ticket, ChatResponse? response, string? error, CostScope scope, CancellationToken cancellationToken)
    {
        Ticket = ticket;
        Response = response;
        Error = error;
        Scope = scope;
        CancellationToken = cancellationToken;
    }

    /// <summary>Gets the call's ticket id.</summary>
    public string Ticket { get; }

    /// <summary>Gets the answer (with its receipt, at batch prices), or <see langword="null"/> when the call failed.</summary>
    public ChatResponse? Response { get; }

    /// <summary>Gets why the call failed, or <see langword="null"/> when it was answered.</summary>
    public string? Error { get; }

    /// <summary>Gets the call's scope.</summary>
    public CostScope Scope { get; }

    /// <summary>Gets a token cancelled when the app stops.</summary>
    public CancellationToken CancellationToken { get; }
}
