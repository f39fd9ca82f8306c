using System.Threading.Channels;
using Microsoft.Extensions.AI;

namespace CostAware.Internal;

// The state HybridCache hands to the factory of one miss. Only the caller whose state the factory ran with paid for
// the answer; every other caller of the same key joined it and is served from the stored entry.
internal sealed class PromptCacheMiss : IDisposable
{
    private readonly CancellationTokenSource? _abandon;
    private readonly TaskCompletionSource? _started;
    private volatile bool _hasStarted;
    private volatile bool _abandoned;
    private IDisposable? _work;
    private int _claim;

    public PromptCacheMiss(PromptCacheChatClient owner, IEnumerable<ChatMessage> messages, PromptCacheRequest request, bool streaming)
    {
        Owner = owner;
        Messages = messages;
        Request = request;
        Context = ExecutionContext.Capture();

        // Registered before the lookup starts: a factory that runs with this state charges this caller's receipt, so
        // the receipt is not settled until that factory has ended, even if this caller stopped waiting for it.
        _work = request.Context.BeginWork();
        if (streaming)
        {
            _abandon = new CancellationTokenSource();
            _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Updates = Channel.CreateUnbounded<ChatResponseUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        }
    }

    public PromptCacheChatClient Owner { get; }

    public IEnumerable<ChatMessage> Messages { get; }

    public PromptCacheRequest Request { get; }

    // The caller's ambient state (cost scope, activity, logging scopes): HybridCache may run the factory on a
    // thread-pool thread that does not carry it.
    public ExecutionContext? Context { get; }

    public bool IsStreaming => Updates is not null;

    public Channel<ChatResponseUpdate>? Updates { get; }

    public bool HasStarted => _hasStarted;

    public bool IsAbandoned => _abandoned;

    public Task Started => _started?.Task ?? Task.CompletedTask;

    public CancellationToken AbandonToken => _abandon?.Token ?? CancellationToken.None;

    // The live answer, for the caller that paid for it.
    public ChatResponse? Response { get; set; }

    // The factory claims the miss when it starts. A caller that already left (cancelled, or was answered another way)
    // has settled its receipt, so the factory must not charge it: it fails the shared lookup as "not stored", and the
    // callers still waiting ask the provider themselves.
    public bool TryClaim() => Interlocked.CompareExchange(ref _claim, 1, 0) == 0;

    // The caller's lookup is over. Unless the factory claimed the miss (and releases the work when it ends), nothing
    // will charge the receipt any more.
    public void Leave()
    {
        if (Interlocked.CompareExchange(ref _claim, 2, 0) == 0)
        {
            ReleaseWork();
        }
    }

    public void ReleaseWork() => Interlocked.Exchange(ref _work, null)?.Dispose();

    public void MarkStarted()
    {
        _hasStarted = true;
        _ = _started?.TrySetResult();
    }

    // The consumer of a streamed miss stopped early or was cancelled: the rest of the answer is not wanted, and a
    // partial answer is never stored.
    public void Abandon()
    {
        _abandoned = true;
        _abandon?.Cancel();
    }

    public void Dispose() => _abandon?.Dispose();
}

// Thrown out of the HybridCache factory so that an answer is returned without being stored. The caller whose
// miss it was gets its answer; callers that joined it ask the provider themselves, since the answer was not
// fit to share.
#pragma warning disable CA1032, RCS1194 // Internal control-flow exception; the standard constructors would be dead code.
internal sealed class PromptCacheNotStoredException(PromptCacheMiss miss, string reason)
    : Exception($"The answer was not stored: {reason}.")
#pragma warning restore CA1032, RCS1194
{
    public PromptCacheMiss Miss => miss;

    public string Reason => reason;
}
