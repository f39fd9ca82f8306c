using System.Globalization;
using System.Text.Json;

namespace CostAware.Cli;

// Where a report reads from: a SQLite ledger file, a PostgreSQL connection string, or a CSV / JSON-lines export
// (CostLedgerExport's columns). Files are read completely before anything is reported: a malformed row stops the
// report with its file, line and field, so a partial ledger is never reported as whole.
internal sealed class LedgerSource : IAsyncDisposable
{
    private readonly IAsyncDisposable? _owned;

    private LedgerSource(ICostLedger ledger, ICostLedgerAggregates aggregates, string description, IAsyncDisposable? owned)
    {
        Ledger = ledger;
        Aggregates = aggregates;
        Description = description;
        _owned = owned;
    }

    public ICostLedger Ledger { get; }

    public ICostLedgerAggregates Aggregates { get; }

    public string Description { get; }

    public static async Task<LedgerSource> OpenAsync(string location, CancellationToken cancellationToken)
    {
        if (location.Contains("Host=", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgres", StringComparison.OrdinalIgnoreCase))
        {
            string[] parts = location.Split('|', 2);
            PostgreSqlCostLedger postgres = new(new PostgreSqlCostLedgerOptions { ConnectionString = parts[0], Schema = parts.Length > 1 ? parts[1] : "costaware" });
            try
            {
                await postgres.MigrateAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException)
            {
                await postgres.DisposeAsync();
                throw new CliException($"--ledger: the PostgreSQL ledger cannot be read: {ex.Message}");
            }

            return new LedgerSource(postgres, postgres, "PostgreSQL ledger", postgres);
        }

        if (!File.Exists(location))
        {
            throw new CliException($"{location}: no such file (--ledger takes a SQLite ledger file, a PostgreSQL connection string, or a .csv / .jsonl export)");
        }

        string extension = Path.GetExtension(location).ToLowerInvariant();
        if (extension is ".csv" or ".jsonl" or ".ndjson")
        {
            InMemoryCostLedger memory = new(capacity: int.MaxValue);
            IAsyncEnumerable<CostLedgerRecord> rows = extension == ".csv" ? ReadCsvAsync(location, cancellationToken) : ReadJsonLinesAsync(location, cancellationToken);
            Dictionary<Guid, CostReceipt> receipts = [];
            await foreach (CostLedgerRecord row in rows)
            {
                if (!receipts.TryGetValue(row.ReceiptId, out CostReceipt? receipt))
                {
                    receipts[row.ReceiptId] = receipt = new CostReceipt(row.ReceiptId, row.Scope, row.Entry.Timestamp);
                }

                receipt.Add(row.Entry);
            }

            foreach (CostReceipt receipt in receipts.Values)
            {
                await memory.RecordAsync(receipt, cancellationToken);
            }

            return new LedgerSource(memory, memory, $"{Path.GetFileName(location)} ({extension[1..]} export)", owned: null);
        }

        try
        {
            // Opened read-only in effect: the ledger only reads (an older file's schema is brought up to date first).
            SqliteCostLedger sqlite = new(new SqliteCostLedgerOptions { Path = location });
            return new LedgerSource(sqlite, sqlite, $"{Path.GetFileName(location)} (SQLite ledger)", sqlite);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            throw new CliException($"{location}: not a CostAware SQLite ledger ({ex.Message})");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned is not null)
        {
            await _owned.DisposeAsync();
        }
    }

    private static readonly string[] Columns =
    [
        "timestamp", "receipt_id", "kind", "provider", "model", "tenant", "user", "api_key", "agent", "workflow", "feature",
        "input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens",
        "cost_usd", "cost_avoided_usd", "estimated", "batch", "stage",
    ];

    private static async IAsyncEnumerable<CostLedgerRecord> ReadCsvAsync(string file, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using StreamReader reader = new(file);
        string? header = await reader.ReadLineAsync(cancellationToken);
        if (header is null)
        {
            throw CliException.At(file, 1, "header", "the file is empty");
        }

        string[] names = Csv.Split(header, file, 1);
        int[] at = Layout(names, file, 1);
        long line = 1;
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            line++;
            if (text.Length == 0)
            {
                continue;
            }

            string?[] fields = Csv.Split(text, file, line);
            if (fields.Length != names.Length)
            {
                throw CliException.At(file, line, "row", $"{fields.Length} fields, the header has {names.Length}");
            }

            yield return Record(name => fields[at[Array.IndexOf(Columns, name)]] is { Length: > 0 } v ? v : null, file, line);
        }
    }

    private static async IAsyncEnumerable<CostLedgerRecord> ReadJsonLinesAsync(string file, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using StreamReader reader = new(file);
        long line = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text);
            }
            catch (JsonException ex)
            {
                throw CliException.At(file, line, "row", "not JSON: " + ex.Message);
            }

            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw CliException.At(file, line, "row", "not a JSON object");
                }

                foreach (JsonProperty property in document.RootElement.EnumerateObject())
                {
                    if (Array.IndexOf(Columns, property.Name) < 0)
                    {
                        throw CliException.At(file, line, property.Name, "unknown column (the columns are CostLedgerExport's: " + string.Join(", ", Columns) + ")");
                    }
                }

                JsonElement root = document.RootElement;
                yield return Record(
                    name => root.TryGetProperty(name, out JsonElement v) ? v.ValueKind switch
                    {
                        JsonValueKind.Null => null,
                        JsonValueKind.String => v.GetString(),
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        _ => v.GetRawText(),
                    } : null,
                    file,
                    line);
            }
        }
    }

    private static int[] Layout(string?[] names, string file, long line)
    {
        foreach (string? name in names)
        {
            if (Array.IndexOf(Columns, name) < 0)
            {
                throw CliException.At(file, line, name ?? "(empty)", "unknown column (the columns are CostLedgerExport's: " + string.Join(", ", Columns) + ")");
            }
        }

        int[] at = new int[Columns.Length];
        for (int i = 0; i < Columns.Length; i++)
        {
            at[i] = Array.IndexOf(names, Columns[i]);
            if (at[i] < 0)
            {
                throw CliException.At(file, line, Columns[i], "missing column");
            }
        }

        return at;
    }

    private static CostLedgerRecord Record(Func<string, string?> field, string file, long line)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        string Required(string name) => field(name) ?? throw CliException.At(file, line, name, "missing value");
        long Tokens(string name) => field(name) is not { } v ? 0 : long.TryParse(v, NumberStyles.None, c, out long n) ? n : throw CliException.At(file, line, name, $"'{v}' is not a token count");
        decimal? Money(string name) => field(name) is not { } v ? null : decimal.TryParse(v, NumberStyles.Number | NumberStyles.AllowExponent, c, out decimal d) ? d : throw CliException.At(file, line, name, $"'{v}' is not an amount of money");
        bool Flag(string name) => field(name) switch { null or "false" => false, "true" => true, string v => throw CliException.At(file, line, name, $"'{v}' is not true or false") };

        string ts = Required("timestamp");
        DateTimeOffset timestamp = DateTimeOffset.TryParse(ts, c, DateTimeStyles.AssumeUniversal, out DateTimeOffset t) ? t : throw CliException.At(file, line, "timestamp", $"'{ts}' is not an ISO 8601 date and time");
        string id = Required("receipt_id");
        Guid receipt = Guid.TryParse(id, out Guid g) ? g : throw CliException.At(file, line, "receipt_id", $"'{id}' is not a receipt id");
        string kindText = Required("kind");
        CostEntryKind kind = kindText switch
        {
            "provider_call" => CostEntryKind.ProviderCall,
            "cache_hit" => CostEntryKind.CacheHit,
            "embedding" => CostEntryKind.Embedding,
            _ => throw CliException.At(file, line, "kind", $"'{kindText}' is not provider_call, cache_hit or embedding"),
        };
        decimal? cost = Money("cost_usd");
        CostReceiptEntry entry = new()
        {
            Kind = kind,
            Timestamp = timestamp,
            Provider = field("provider"),
            ModelId = field("model"),
            Stage = field("stage"),
            Tokens = new TokenCounts
            {
                Input = Tokens("input_tokens"), CachedInput = Tokens("cached_input_tokens"), CacheWrite = Tokens("cache_write_tokens"),
                CacheWrite1h = Tokens("cache_write_1h_tokens"), Output = Tokens("output_tokens"), Reasoning = Tokens("reasoning_tokens"),
            },
            Cost = cost is { } total ? new CostBreakdown { Input = total } : null,
            CostAvoided = Money("cost_avoided_usd"),
            IsEstimated = Flag("estimated"),
            IsBatch = Flag("batch"),
        };
        CostScope scope = new()
        {
            Tenant = field("tenant"), User = field("user"), ApiKey = field("api_key"), Agent = field("agent"), Workflow = field("workflow"), Feature = field("feature"),
        };
        return new CostLedgerRecord(receipt, scope, entry);
    }
}
