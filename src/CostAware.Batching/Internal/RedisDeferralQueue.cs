using System.Globalization;
using StackExchange.Redis;

namespace CostAware.Batching.Internal;

// The deferral queue in Redis, shared by every machine of an app: each call is a hash, indexed by state, by batch and
// (while queued) in a sorted set per provider endpoint by arrival. Every state change is one Lua script that checks
// the state it expects, so two schedulers on two machines never take, answer or deliver a call twice.
//
// Every key carries the hash tag {<InstanceName>deferral}: the scripts touch keys they compute, which Redis allows only
// within one slot, so in a Redis Cluster the queue lives on one shard. Delivered calls expire after a week.
internal sealed class RedisDeferralQueue(IConnectionMultiplexer redis, string instanceName) : IDeferralQueue
{
    private const int DeliveredTtlSeconds = 7 * 24 * 3600;

    private const string EnqueueScript = """
        local p, id = ARGV[1], ARGV[2]
        local g = ARGV[3] .. '|' .. ARGV[4]
        redis.call('HSET', p .. 'c:' .. id, 'provider', ARGV[3], 'endpoint', ARGV[4], 'model', ARGV[5], 'body', ARGV[6], 'scope', ARGV[7],
          'created', ARGV[8], 'deadline', ARGV[9], 'state', 0, 'attempts', 0, 'batch', '', 'delivery', ARGV[10], 'owner', ARGV[11])
        redis.call('ZADD', p .. 'q:' .. g, ARGV[8], id)
        if ARGV[9] ~= '' then redis.call('ZADD', p .. 'qd:' .. g, ARGV[9], id) end
        redis.call('SADD', p .. 'groups', g)
        redis.call('SADD', p .. 's:0', id)
        return 1
        """;

    private const string BeginScript = """
        local p, b = ARGV[1], ARGV[2]
        local g = ARGV[3] .. '|' .. ARGV[4]
        redis.call('HSET', p .. 'b:' .. b, 'provider', ARGV[3], 'endpoint', ARGV[4], 'created', ARGV[5], 'next', ARGV[5], 'polls', 0, 'done', 0, 'pbid', '')
        redis.call('SADD', p .. 'open', b)
        local taken = {}
        for i = 6, #ARGV do
          local id = ARGV[i]
          local c = p .. 'c:' .. id
          if redis.call('HGET', c, 'state') == '0' then
            redis.call('HSET', c, 'state', 1, 'batch', b)
            redis.call('HINCRBY', c, 'attempts', 1)
            redis.call('ZREM', p .. 'q:' .. g, id)
            redis.call('ZREM', p .. 'qd:' .. g, id)
            redis.call('SMOVE', p .. 's:0', p .. 's:1', id)
            redis.call('SADD', p .. 'bc:' .. b, id)
            taken[#taken + 1] = id
          end
        end
        return taken
        """;

    private const string SubmittedScript = """
        local p, b = ARGV[1], ARGV[2]
        redis.call('HSET', p .. 'b:' .. b, 'pbid', ARGV[3])
        for _, id in ipairs(redis.call('SMEMBERS', p .. 'bc:' .. b)) do
          local c = p .. 'c:' .. id
          if redis.call('HGET', c, 'state') == '1' then
            redis.call('HSET', c, 'state', 2)
            redis.call('SMOVE', p .. 's:1', p .. 's:2', id)
          end
        end
        return 1
        """;

    // Shared by abandon and requeue: puts one taken or submitted call back in its endpoint's queue.
    private const string Back = """
        local function back(p, id, from)
          local c = p .. 'c:' .. id
          local f = redis.call('HMGET', c, 'provider', 'endpoint', 'created', 'deadline', 'batch')
          local g = f[1] .. '|' .. f[2]
          redis.call('HSET', c, 'state', 0, 'batch', '')
          redis.call('ZADD', p .. 'q:' .. g, f[3], id)
          if f[4] ~= '' then redis.call('ZADD', p .. 'qd:' .. g, f[4], id) end
          redis.call('SADD', p .. 'groups', g)
          redis.call('SREM', p .. 'bc:' .. f[5], id)
          redis.call('SMOVE', p .. 's:' .. from, p .. 's:0', id)
        end

        """;

    private const string AbandonScript = Back + """
        local p, b = ARGV[1], ARGV[2]
        for _, id in ipairs(redis.call('SMEMBERS', p .. 'bc:' .. b)) do
          if redis.call('HGET', p .. 'c:' .. id, 'state') == '1' then back(p, id, '1') end
        end
        redis.call('HSET', p .. 'b:' .. b, 'done', 1)
        redis.call('SREM', p .. 'open', b)
        return 1
        """;

    private const string RequeueScript = Back + """
        local p, id = ARGV[1], ARGV[2]
        local state = redis.call('HGET', p .. 'c:' .. id, 'state')
        if state ~= '1' and state ~= '2' then return 0 end
        back(p, id, state)
        return 1
        """;

    private const string CompleteScript = """
        local p, id = ARGV[1], ARGV[2]
        local c = p .. 'c:' .. id
        local state = redis.call('HGET', c, 'state')
        if state ~= '1' and state ~= '2' then return 0 end
        local target = ARGV[3] == '1' and '3' or '4'
        redis.call('HSET', c, 'state', target, 'result', ARGV[4], 'error', ARGV[5], 'has_result', ARGV[3])
        redis.call('SMOVE', p .. 's:' .. state, p .. 's:' .. target, id)
        return 1
        """;

    private const string DeliveredScript = """
        local p, id = ARGV[1], ARGV[2]
        local c = p .. 'c:' .. id
        local state = redis.call('HGET', c, 'state')
        if state ~= '3' and state ~= '4' then return 0 end
        redis.call('HSET', c, 'state', 5)
        redis.call('SREM', p .. 's:' .. state, id)
        redis.call('EXPIRE', c, ARGV[3])
        return 1
        """;

    private readonly string _prefix = "{" + instanceName + "deferral}:";

    private IDatabase Db => redis.GetDatabase();

    public async Task EnqueueAsync(DeferredCall call, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _ = await Db.ScriptEvaluateAsync(EnqueueScript, values:
        [
            _prefix, call.Id, call.Provider, call.Endpoint, call.ModelId ?? string.Empty, call.Body, call.Scope ?? string.Empty,
            call.CreatedAt.ToUnixTimeMilliseconds(), call.Deadline is { } d ? d.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : string.Empty,
            (int)call.Delivery, call.Owner ?? string.Empty,
        ]).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DeferredCall>> PeekQueuedAsync(string provider, string endpoint, int maxCount, long maxBytes, CancellationToken cancellationToken)
    {
        RedisValue[] ids = await Db.SortedSetRangeByRankAsync(_prefix + "q:" + provider + "|" + endpoint, 0, maxCount - 1).ConfigureAwait(false);
        List<DeferredCall> calls = [];
        long bytes = 0;
        foreach (RedisValue id in ids)
        {
            if (await GetAsync(id!, cancellationToken).ConfigureAwait(false) is not { } call)
            {
                continue;
            }

            if (calls.Count > 0 && bytes + call.Body.Length > maxBytes)
            {
                break;
            }

            bytes += call.Body.Length;
            calls.Add(call);
        }

        return calls;
    }

    public async Task<IReadOnlyList<QueuedGroup>> QueuedGroupsAsync(CancellationToken cancellationToken)
    {
        List<QueuedGroup> groups = [];
        foreach (RedisValue group in await Db.SetMembersAsync(_prefix + "groups").ConfigureAwait(false))
        {
            string name = group!;
            long count = await Db.SortedSetLengthAsync(_prefix + "q:" + name).ConfigureAwait(false);
            if (count == 0)
            {
                continue;
            }

            SortedSetEntry[] oldest = await Db.SortedSetRangeByRankWithScoresAsync(_prefix + "q:" + name, 0, 0).ConfigureAwait(false);
            SortedSetEntry[] deadline = await Db.SortedSetRangeByRankWithScoresAsync(_prefix + "qd:" + name, 0, 0).ConfigureAwait(false);
            int split = name.IndexOf('|', StringComparison.Ordinal);
            groups.Add(new QueuedGroup(
                name[..split],
                name[(split + 1)..],
                (int)count,
                DateTimeOffset.FromUnixTimeMilliseconds((long)oldest[0].Score),
                deadline.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)deadline[0].Score)));
        }

        return groups;
    }

    public async Task<IReadOnlyList<string>> BeginBatchAsync(string batchId, string provider, string endpoint, IReadOnlyList<string> callIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        RedisValue[] args = new RedisValue[5 + callIds.Count];
        args[0] = _prefix;
        args[1] = batchId;
        args[2] = provider;
        args[3] = endpoint;
        args[4] = now.ToUnixTimeMilliseconds();
        for (int i = 0; i < callIds.Count; i++)
        {
            args[5 + i] = callIds[i];
        }

        RedisResult result = await Db.ScriptEvaluateAsync(BeginScript, values: args).ConfigureAwait(false);
        return [.. ((RedisResult[])result!).Select(static r => (string)r!)];
    }

    public Task MarkSubmittedAsync(string batchId, string providerBatchId, CancellationToken cancellationToken) =>
        Db.ScriptEvaluateAsync(SubmittedScript, values: [_prefix, batchId, providerBatchId]);

    public Task AbandonBatchAsync(string batchId, CancellationToken cancellationToken) =>
        Db.ScriptEvaluateAsync(AbandonScript, values: [_prefix, batchId]);

    public async Task<bool> CompleteAsync(string callId, byte[]? result, string? error, CancellationToken cancellationToken) =>
        (long)await Db.ScriptEvaluateAsync(CompleteScript, values:
            [_prefix, callId, error is null ? "1" : "0", result ?? [], error ?? string.Empty]).ConfigureAwait(false) == 1;

    public async Task<bool> RequeueAsync(string callId, CancellationToken cancellationToken) =>
        (long)await Db.ScriptEvaluateAsync(RequeueScript, values: [_prefix, callId]).ConfigureAwait(false) == 1;

    public async Task<bool> MarkDeliveredAsync(string callId, CancellationToken cancellationToken) =>
        (long)await Db.ScriptEvaluateAsync(DeliveredScript, values: [_prefix, callId, DeliveredTtlSeconds]).ConfigureAwait(false) == 1;

    public async Task MarkBatchDoneAsync(string batchId, CancellationToken cancellationToken)
    {
        ITransaction transaction = Db.CreateTransaction();
        _ = transaction.HashSetAsync(_prefix + "b:" + batchId, "done", 1);
        _ = transaction.SetRemoveAsync(_prefix + "open", batchId);
        _ = await transaction.ExecuteAsync().ConfigureAwait(false);
    }

    public async Task SchedulePollAsync(string batchId, DateTimeOffset next, CancellationToken cancellationToken)
    {
        ITransaction transaction = Db.CreateTransaction();
        _ = transaction.HashSetAsync(_prefix + "b:" + batchId, "next", next.ToUnixTimeMilliseconds());
        _ = transaction.HashIncrementAsync(_prefix + "b:" + batchId, "polls");
        _ = await transaction.ExecuteAsync().ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<OpenBatch>> OpenBatchesAsync(CancellationToken cancellationToken)
    {
        List<OpenBatch> batches = [];
        foreach (RedisValue id in await Db.SetMembersAsync(_prefix + "open").ConfigureAwait(false))
        {
            HashEntry[] fields = await Db.HashGetAllAsync(_prefix + "b:" + id).ConfigureAwait(false);
            if (fields.Length == 0)
            {
                continue;
            }

            Dictionary<string, RedisValue> f = fields.ToDictionary(static e => (string)e.Name!, static e => e.Value);
            string pbid = f["pbid"]!;
            batches.Add(new OpenBatch(
                id!,
                f["provider"]!,
                f["endpoint"]!,
                pbid.Length == 0 ? null : pbid,
                DateTimeOffset.FromUnixTimeMilliseconds((long)f["created"]),
                DateTimeOffset.FromUnixTimeMilliseconds((long)f["next"]),
                (int)f["polls"]));
        }

        return [.. batches.OrderBy(static b => b.NextPollAt)];
    }

    public async Task<DeferredCall?> GetAsync(string callId, CancellationToken cancellationToken)
    {
        HashEntry[] fields = await Db.HashGetAllAsync(_prefix + "c:" + callId).ConfigureAwait(false);
        if (fields.Length == 0)
        {
            return null;
        }

        Dictionary<string, RedisValue> f = fields.ToDictionary(static e => (string)e.Name!, static e => e.Value);
        string model = f["model"]!;
        string scope = f["scope"]!;
        string deadline = f["deadline"]!;
        string batch = f["batch"]!;
        bool hasResult = f.TryGetValue("has_result", out RedisValue flag) && flag == "1";
        string error = f.TryGetValue("error", out RedisValue e) ? (string)e! : string.Empty;
        return new DeferredCall
        {
            Id = callId,
            Provider = f["provider"]!,
            Endpoint = f["endpoint"]!,
            ModelId = model.Length == 0 ? null : model,
            Body = (byte[])f["body"]!,
            Scope = scope.Length == 0 ? null : scope,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds((long)f["created"]),
            Deadline = deadline.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(deadline, CultureInfo.InvariantCulture)),
            State = (DeferredCallState)(int)f["state"],
            BatchId = batch.Length == 0 ? null : batch,
            Result = hasResult ? (byte[])f["result"]! : null,
            Error = error.Length == 0 ? null : error,
            Attempts = (int)f["attempts"],
            Delivery = (DeferralDelivery)(int)f["delivery"],
            Owner = f["owner"] is { IsNullOrEmpty: false } owner ? (string)owner! : null,
        };
    }

    public async Task<IReadOnlyList<DeferredCall>> CallsInStateAsync(DeferredCallState state, string? batchId, CancellationToken cancellationToken)
    {
        RedisKey set = _prefix + "s:" + ((int)state).ToString(CultureInfo.InvariantCulture);
        RedisValue[] ids = batchId is null
            ? await Db.SetMembersAsync(set).ConfigureAwait(false)
            : await Db.SetCombineAsync(SetOperation.Intersect, set, _prefix + "bc:" + batchId).ConfigureAwait(false);
        List<DeferredCall> calls = [];
        foreach (RedisValue id in ids)
        {
            if (await GetAsync(id!, cancellationToken).ConfigureAwait(false) is { } call && call.State == state)
            {
                calls.Add(call);
            }
        }

        return [.. calls.OrderBy(static c => c.CreatedAt).ThenBy(static c => c.Id, StringComparer.Ordinal)];
    }

    public void Dispose()
    {
        // The connection belongs to the app's service provider.
    }
}
