using System.Net;
using CostAware.Tests.TestUtilities;
using Npgsql;

namespace CostAware.Tests.Ledger;

// Against the real PostgreSQL server ./build.sh starts (COSTAWARE_TEST_POSTGRES); each test class instance has a schema
// of its own. Without the server these tests fail: the PostgreSQL ledger is not tested by anything else.
public sealed class PostgreSqlCostLedgerTests : DurableLedgerContract<PostgreSqlCostLedger>, IAsyncLifetime
{
    private readonly string _schema = "t_" + Guid.NewGuid().ToString("N");

    private static string ConnectionString => Environment.GetEnvironmentVariable("COSTAWARE_TEST_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("COSTAWARE_TEST_POSTGRES is not set: run the suite with ./build.sh test, which installs and starts PostgreSQL.");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await using NpgsqlDataSource admin = NpgsqlDataSource.Create(ConnectionString);
        await using NpgsqlCommand drop = admin.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE");
        _ = await drop.ExecuteNonQueryAsync();
    }

    protected override PostgreSqlCostLedger Open() => Open(ConnectionString);

    protected override Task<int> PruneAsync(PostgreSqlCostLedger ledger, DateTimeOffset olderThan) => ledger.PruneAsync(olderThan);

    private PostgreSqlCostLedger Open(string connectionString, int capacity = 10_000) =>
        new(new PostgreSqlCostLedgerOptions { ConnectionString = connectionString, Schema = _schema, Capacity = capacity, FullWait = TimeSpan.Zero });

    [Fact]
    public async Task TheServerDownAtStartAndMidRun_CallsKeepRecording_AndEveryReceiptIsWrittenWhenItReturns()
    {
        NpgsqlConnectionStringBuilder real = new(ConnectionString);
        await using TcpProxy proxy = new(new IPEndPoint(IPAddress.Parse(real.Host!), real.Port));
        NpgsqlConnectionStringBuilder through = new(ConnectionString) { Port = proxy.Port, Timeout = 2 };
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

        proxy.Cut();
        await using PostgreSqlCostLedger ledger = Open(through.ConnectionString);
        for (int i = 0; i < 20; i++)
        {
            await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.01m)));
        }

        // Down at start: nothing written, nothing dropped, and the failure is visible.
        for (int i = 0; i < 500 && ledger.FailingSince is null; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        }

        Assert.NotNull(ledger.FailingSince);
        Assert.Equal(0, ledger.Dropped);
        Assert.True(ledger.Buffered > 0);

        proxy.Restore();
        await ledger.FlushAsync();
        Assert.Null(ledger.FailingSince);

        // Down mid-run: cut while it writes, back a moment later.
        proxy.Cut();
        for (int i = 0; i < 20; i++)
        {
            await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.01m)));
        }

        proxy.Restore();
        CostLedgerAggregate all = Assert.Single(await ledger.AggregateAsync(new CostLedgerAggregateQuery()));
        Assert.Equal(40, all.Calls);
        Assert.Equal(0.40m, all.Spent);
        Assert.Equal(0, ledger.Dropped);
    }

    [Fact]
    public async Task ADatabaseThatStaysDown_DoesNotHoldShutdownForever_WhatIsLeftIsDroppedAndCounted()
    {
        NpgsqlConnectionStringBuilder real = new(ConnectionString);
        await using TcpProxy proxy = new(new IPEndPoint(IPAddress.Parse(real.Host!), real.Port));
        NpgsqlConnectionStringBuilder through = new(ConnectionString) { Port = proxy.Port, Timeout = 1 };
        proxy.Cut();
        PostgreSqlCostLedger ledger = new(new PostgreSqlCostLedgerOptions { ConnectionString = through.ConnectionString, Schema = _schema, DisposeTimeout = TimeSpan.FromMilliseconds(300) });
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < 5; i++)
        {
            await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.01m)));
        }

        Task disposing = ledger.DisposeAsync().AsTask();
        Task finished = await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(30), TimeProvider.System));

        Assert.Same(disposing, finished);
        Assert.Equal(5, ledger.Dropped);
        Assert.Equal(0, ledger.Buffered);
    }

    [Fact]
    public async Task AQueryWhileTheServerIsDown_FailsFast_InsteadOfWaitingForTheWriter()
    {
        NpgsqlConnectionStringBuilder real = new(ConnectionString);
        await using TcpProxy proxy = new(new IPEndPoint(IPAddress.Parse(real.Host!), real.Port));
        NpgsqlConnectionStringBuilder through = new(ConnectionString) { Port = proxy.Port, Timeout = 1 };
        proxy.Cut();
        await using PostgreSqlCostLedger ledger = Open(through.ConnectionString);
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.01m)));
        for (int i = 0; i < 500 && ledger.FailingSince is null; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        }

        Task<IReadOnlyList<CostLedgerAggregate>> query = ledger.AggregateAsync(new CostLedgerAggregateQuery());
        Task finished = await Task.WhenAny(query, Task.Delay(TimeSpan.FromSeconds(20), TimeProvider.System));

        Assert.Same(query, finished);
        _ = await Assert.ThrowsAnyAsync<Exception>(() => query);

        // Back up: the receipt is written, and the next query sees it.
        proxy.Restore();
        await ledger.FlushAsync();
        Assert.Equal(1, Assert.Single(await ledger.AggregateAsync(new CostLedgerAggregateQuery())).Calls);
    }

    [Fact]
    public async Task TwoMachinesRecordingTheSameReceipt_StoreItOnce()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        CostReceipt receipt = Receipt("acme", at, Call(at, 0.5m), Hit(at, 0.25m));
        await using PostgreSqlCostLedger a = Open();
        await using PostgreSqlCostLedger b = Open();

        await Task.WhenAll(a.RecordAsync(receipt).AsTask(), b.RecordAsync(receipt).AsTask());
        await Task.WhenAll(a.FlushAsync(), b.FlushAsync());

        Assert.Equal(2, await a.QueryAsync(CostLedgerQuery.All).CountAsync());
        Assert.Equal(0.5m, Assert.Single(await b.AggregateAsync(new CostLedgerAggregateQuery())).Spent);
    }

    [Fact]
    public async Task MachinesStartingAtOnce_MigrateTheSchemaOnce()
    {
        PostgreSqlCostLedger[] ledgers = [.. Enumerable.Range(0, 8).Select(_ => Open())];
        try
        {
            await Task.WhenAll(ledgers.Select(l => l.MigrateAsync()));
        }
        finally
        {
            foreach (PostgreSqlCostLedger ledger in ledgers)
            {
                await ledger.DisposeAsync();
            }
        }

        await using NpgsqlDataSource admin = NpgsqlDataSource.Create(ConnectionString);
        await using NpgsqlCommand version = admin.CreateCommand($"SELECT version FROM \"{_schema}\".schema_version");
        Assert.Equal(PostgreSqlCostLedger.SchemaVersion, (int)(await version.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task ASchemaOfANewerVersion_IsRefusedWithAClearError_AndNothingIsWritten()
    {
        await using NpgsqlDataSource admin = NpgsqlDataSource.Create(ConnectionString);
        await using NpgsqlCommand future = admin.CreateCommand(
            $"CREATE SCHEMA \"{_schema}\"; CREATE TABLE \"{_schema}\".schema_version (id integer PRIMARY KEY, version integer NOT NULL); INSERT INTO \"{_schema}\".schema_version VALUES (1, 99);");
        _ = await future.ExecuteNonQueryAsync();
        await using PostgreSqlCostLedger ledger = Open();

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.MigrateAsync());
        Assert.Contains("version 99", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDashboardsLedgerPanels_RunAgainstTheLedgersSchema_AndAnswer()
    {
        DateTimeOffset at = TimeProvider.System.GetUtcNow().AddHours(-1);
        await using (PostgreSqlCostLedger ledger = Open())
        {
            await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.5m), Hit(at, 0.25m)));
        }

        using System.Text.Json.JsonDocument dashboard = Dashboards.GrafanaDashboardTests.Dashboard();
        await using NpgsqlDataSource data = NpgsqlDataSource.Create(ConnectionString);
        int panels = 0;
        foreach ((string type, string query) in Dashboards.GrafanaDashboardTests.Queries(dashboard).Where(static q => q.DataSource != "prometheus"))
        {
            // Grafana's macros as its PostgreSQL data source expands them.
            string sql = query
                .Replace("costaware.ledger_entries", $"\"{_schema}\".ledger_entries", StringComparison.Ordinal)
                .Replace("$__timeFilter(ts)", "ts BETWEEN now() - interval '1 day' AND now()", StringComparison.Ordinal)
                .Replace("$__timeGroupAlias(ts, 1h)", "to_timestamp(floor(extract(epoch FROM ts) / 3600) * 3600) AS \"time\"", StringComparison.Ordinal);
            Assert.DoesNotContain("$__", sql, StringComparison.Ordinal);
            await using NpgsqlCommand command = data.CreateCommand(sql);
            await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync(), $"the {type} panel's query returned no row: {sql}");
            panels++;
        }

        Assert.Equal(3, panels);
    }

    [Theory]
    [InlineData("")]
    [InlineData("costaware; DROP TABLE x")]
    [InlineData("1abc")]
    public void ABadSchemaName_IsRefusedBeforeAnySqlIsBuilt(string schema) =>
        Assert.Throws<ArgumentException>(() => new PostgreSqlCostLedger(new PostgreSqlCostLedgerOptions { ConnectionString = "Host=127.0.0.1", Schema = schema }));

    [Fact]
    public void NoConnectionString_IsAClearError() =>
        Assert.Contains("ConnectionString", Assert.Throws<ArgumentException>(() => new PostgreSqlCostLedger(new PostgreSqlCostLedgerOptions())).Message, StringComparison.Ordinal);
}
