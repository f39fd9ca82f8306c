using StackExchange.Redis;

namespace CostAware.Redis.Internal;

// Budget counters in Redis, shared by every process of an app. Each counter is a hash (s: settled spend, r: sum of
// live reservations, c: calls, and r:<id> per live reservation) plus a sorted set of reservation ids by expiry. Each
// reserve, settle and read is one Lua script: one round trip, atomic across all the budgets of a call.
//
// Every key carries the hash tag {<prefix>budget}, so that in a Redis Cluster all budget counters live in one slot (a
// script may only touch keys of one slot): budgets are then served by one shard.
internal sealed class RedisBudgetStore : IBudgetStore
{
    // Drops a counter's reservations whose timeout has passed (their caller never settled).
    private const string Reap = """
        local function reap(h, z, now)
          local ids = redis.call('ZRANGEBYSCORE', z, '-inf', now)
          for _, id in ipairs(ids) do
            local a = redis.call('HGET', h, 'r:' .. id)
            if a then
              redis.call('HINCRBY', h, 'r', -tonumber(a))
              redis.call('HDEL', h, 'r:' .. id)
            end
          end
          if #ids > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
        end
        local function sum(k, nk, now)
          local s, r, c = 0, 0, 0
          for j = 0, nk - 1 do
            local h = KEYS[k + 2 * j]
            reap(h, KEYS[k + 2 * j + 1], now)
            local v = redis.call('HMGET', h, 's', 'r', 'c')
            s = s + (tonumber(v[1]) or 0)
            r = r + (tonumber(v[2]) or 0)
            c = c + (tonumber(v[3]) or 0)
          end
          return s, r, c
        end
        """;

    private const string ReserveScript = Reap + "\n" + """
        local now = tonumber(ARGV[1])
        local id = ARGV[2]
        local ttl = tonumber(ARGV[3])
        local amount = tonumber(ARGV[4])
        local countCall = ARGV[5] == '1'
        local n = tonumber(ARGV[6])
        local k, a, over = 1, 7, 0
        for line = 0, n - 1 do
          local nk, limit, maxCalls, enforce = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3] == '1'
          local s, r, c = sum(k, nk, now)
          local overMoney = limit >= 0 and s + r + amount > limit
          local overCalls = countCall and maxCalls >= 0 and c + 1 > maxCalls
          if overMoney or overCalls then
            if enforce then return {0, line, s, r, c} end
            if line < 52 then over = over + 2 ^ line end
          end
          k = k + 2 * nk
          a = a + 5
        end
        k, a = 1, 7
        for line = 0, n - 1 do
          local nk, expireAt = tonumber(ARGV[a]), tonumber(ARGV[a + 4])
          local h, z = KEYS[k], KEYS[k + 1]
          redis.call('HINCRBY', h, 'r', amount)
          redis.call('HINCRBY', h, 'r:' .. id, amount)
          redis.call('ZADD', z, now + ttl, id)
          if countCall then redis.call('HINCRBY', h, 'c', 1) end
          if expireAt > 0 then
            redis.call('PEXPIREAT', h, expireAt)
            redis.call('PEXPIREAT', z, expireAt)
          end
          k = k + 2 * nk
          a = a + 5
        end
        return {1, over}
        """;

    // Idempotent by reservation id: the first settle of an id writes a marker (the last key, kept for DoneTtlMs) and
    // applies; a retry of a settle that was applied but whose answer was lost finds the marker and changes nothing.
    private const string SettleScript = Reap + "\n" + """
        local now = tonumber(ARGV[1])
        local id = ARGV[2]
        local actual = tonumber(ARGV[3])
        local n = tonumber(ARGV[4])
        local apply = redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[5], 'NX')
        local k, a, out = 1, 6, {}
        for line = 0, n - 1 do
          local nk, expireAt = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
          local h, z = KEYS[k], KEYS[k + 1]
          if apply then
            local held = redis.call('HGET', h, 'r:' .. id)
            if held then
              redis.call('HINCRBY', h, 'r', -tonumber(held))
              redis.call('HDEL', h, 'r:' .. id)
              redis.call('ZREM', z, id)
            end
            if actual > 0 then redis.call('HINCRBY', h, 's', actual) end
            if expireAt > 0 then
              redis.call('PEXPIREAT', h, expireAt)
              redis.call('PEXPIREAT', z, expireAt)
            end
          end
          local s = sum(k, nk, now)
          out[line + 1] = s
          k = k + 2 * nk
          a = a + 2
        end
        return out
        """;

    private const string ReadScript = Reap + "\n" + """
        local now = tonumber(ARGV[1])
        local n = tonumber(ARGV[2])
        local k, out = 1, {}
        for line = 0, n - 1 do
          local nk = tonumber(ARGV[3 + line])
          local s, r, c = sum(k, nk, now)
          out[3 * line + 1] = s
          out[3 * line + 2] = r
          out[3 * line + 3] = c
          k = k + 2 * nk
        end
        return out
        """;

    // How long a settlement's marker is kept. The outbox retries a settlement within seconds of the store answering
    // again, so an hour is ample; one whose answer was lost and that is retried only after more than an hour would be
    // counted twice (over-counted, never under-counted). A marker costs about 100 bytes.
    private const long DoneTtlMs = 60 * 60 * 1000;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;

    public RedisBudgetStore(IConnectionMultiplexer redis, string instanceName)
    {
        _redis = redis;
        _prefix = "{" + instanceName + "budget}:";
    }

    public async ValueTask<BudgetReserveResult> ReserveAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long amount, bool countCall, long nowMs, long timeoutMs, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        RedisKey[] keys = Keys(lines.Span);
        RedisValue[] args = new RedisValue[6 + (5 * lines.Length)];
        args[0] = nowMs;
        args[1] = reservationId;
        args[2] = timeoutMs;
        args[3] = amount;
        args[4] = countCall ? 1 : 0;
        args[5] = lines.Length;
        int a = 6;
        foreach (BudgetLine line in lines.Span)
        {
            args[a++] = 1 + line.WindowKeys.Length;
            args[a++] = line.Limit;
            args[a++] = line.MaxCalls;
            args[a++] = line.Enforce ? 1 : 0;
            args[a++] = line.ExpiresAtMs;
        }

        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, args).ConfigureAwait(false);
        RedisResult[] values = (RedisResult[])result!;
        return (long)values[0] == 1
            ? BudgetReserveResult.Admit((long)values[1])
            : BudgetReserveResult.Refuse((int)(long)values[1], new BudgetCounterState((long)values[2], (long)values[3], (long)values[4]));
    }

    public async ValueTask SettleAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long actual, long nowMs, Memory<long> windowSpent, CancellationToken cancellationToken)
    {
        RedisKey[] keys = Keys(lines.Span, extra: 1);
        keys[^1] = _prefix + "done:" + reservationId;
        RedisValue[] args = new RedisValue[5 + (2 * lines.Length)];
        args[0] = nowMs;
        args[1] = reservationId;
        args[2] = actual;
        args[3] = lines.Length;
        args[4] = DoneTtlMs;
        int a = 5;
        foreach (BudgetLine line in lines.Span)
        {
            args[a++] = 1 + line.WindowKeys.Length;
            args[a++] = line.ExpiresAtMs;
        }

        // Not cancellable: the money was spent, and a settlement skipped would be money never counted.
        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(SettleScript, keys, args).ConfigureAwait(false);
        RedisResult[] values = (RedisResult[])result!;
        Span<long> output = windowSpent.Span;
        for (int i = 0; i < values.Length && i < output.Length; i++)
        {
            output[i] = (long)values[i];
        }
    }

    public async ValueTask ReadAsync(ReadOnlyMemory<BudgetLine> lines, long nowMs, Memory<BudgetCounterState> states, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (lines.Length == 0)
        {
            return;
        }

        RedisKey[] keys = Keys(lines.Span);
        RedisValue[] args = new RedisValue[2 + lines.Length];
        args[0] = nowMs;
        args[1] = lines.Length;
        int a = 2;
        foreach (BudgetLine line in lines.Span)
        {
            args[a++] = 1 + line.WindowKeys.Length;
        }

        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(ReadScript, keys, args).ConfigureAwait(false);
        RedisResult[] values = (RedisResult[])result!;
        Span<BudgetCounterState> output = states.Span;
        for (int i = 0; i < lines.Length && i < output.Length; i++)
        {
            output[i] = new BudgetCounterState((long)values[3 * i], (long)values[(3 * i) + 1], (long)values[(3 * i) + 2]);
        }
    }

    // Two keys per counter (the hash and its reservation set), the charged counter of each line first; then `extra`
    // slots for the caller to fill.
    private RedisKey[] Keys(ReadOnlySpan<BudgetLine> lines, int extra = 0)
    {
        int count = extra;
        foreach (BudgetLine line in lines)
        {
            count += 2 * (1 + line.WindowKeys.Length);
        }

        RedisKey[] keys = new RedisKey[count];
        int k = 0;
        foreach (BudgetLine line in lines)
        {
            string charge = _prefix + line.ChargeKey;
            keys[k++] = charge;
            keys[k++] = charge + ":x";
            foreach (string window in line.WindowKeys)
            {
                string key = _prefix + window;
                keys[k++] = key;
                keys[k++] = key + ":x";
            }
        }

        return keys;
    }
}
