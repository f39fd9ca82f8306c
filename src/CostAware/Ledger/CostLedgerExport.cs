using System.Globalization;
using System.Text;
using System.Text.Json;
using CostAware.Shared;

namespace CostAware;

/// <summary>Exports any <see cref="ICostLedger"/> as JSON lines or CSV.</summary>
/// <remarks>
/// Both formats have one row per ledger row, with the same fields: timestamp (ISO 8601, UTC), receipt id, kind,
/// provider, model, the six scope dimensions, the six token classes (subsets, as in <see cref="TokenCounts"/>),
/// cost in USD (empty when unpriced), cost avoided, estimated, batch and stage. Money is written exactly, never rounded.
/// </remarks>
public static class CostLedgerExport
{
    // Each column says how it is written, so the two formats cannot disagree about a column's type.
    private static readonly (string Name, ColumnKind Kind)[] Columns =
    [
        ("timestamp", ColumnKind.Text), ("receipt_id", ColumnKind.Text), ("kind", ColumnKind.Text), ("provider", ColumnKind.Text),
        ("model", ColumnKind.Text), ("tenant", ColumnKind.Text), ("user", ColumnKind.Text), ("api_key", ColumnKind.Text),
        ("agent", ColumnKind.Text), ("workflow", ColumnKind.Text), ("feature", ColumnKind.Text),
        ("input_tokens", ColumnKind.Number), ("cached_input_tokens", ColumnKind.Number), ("cache_write_tokens", ColumnKind.Number),
        ("cache_write_1h_tokens", ColumnKind.Number), ("output_tokens", ColumnKind.Number), ("reasoning_tokens", ColumnKind.Number),
        ("cost_usd", ColumnKind.Number), ("cost_avoided_usd", ColumnKind.Number),
        ("estimated", ColumnKind.Boolean), ("batch", ColumnKind.Boolean), ("stage", ColumnKind.Text),
    ];

    private static readonly string Header = string.Join(',', Columns.Select(static c => c.Name));

    private enum ColumnKind
    {
        Text,
        Number,
        Boolean,
    }

    /// <summary>Writes the rows that match a query as JSON lines (one JSON object per line, UTF-8).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="destination">The stream to write to; it is left open.</param>
    /// <param name="query">The filter, or <see langword="null"/> for every row.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The number of rows written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> or <paramref name="destination"/> is <see langword="null"/>.</exception>
    public static async Task<long> WriteJsonLinesAsync(this ICostLedger ledger, Stream destination, CostLedgerQuery? query = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(destination);
        long count = 0;
        using MemoryStream line = new();
        await using Utf8JsonWriter writer = new(line);
        await foreach (CostLedgerRecord record in ledger.QueryAsync(query ?? CostLedgerQuery.All, cancellationToken).ConfigureAwait(false))
        {
            line.SetLength(0);
            writer.Reset(line);
            string?[] values = Values(record);
            writer.WriteStartObject();
            for (int i = 0; i < Columns.Length; i++)
            {
                WriteJsonValue(writer, Columns[i].Name, values[i], Columns[i].Kind);
            }

            writer.WriteEndObject();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            line.WriteByte((byte)'\n');
            line.Position = 0;
            await line.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
            count++;
        }

        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>Writes the rows that match a query as CSV (RFC 4180, UTF-8, with a header row).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="destination">The stream to write to; it is left open.</param>
    /// <param name="query">The filter, or <see langword="null"/> for every row.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The number of rows written, header excluded.</returns>
    /// <remarks>
    /// A text value that starts with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or carriage return (a scope value
    /// chosen by an end user, say) is prefixed with an apostrophe so spreadsheets do not run it as a formula.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> or <paramref name="destination"/> is <see langword="null"/>.</exception>
    public static async Task<long> WriteCsvAsync(this ICostLedger ledger, Stream destination, CostLedgerQuery? query = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(destination);
        await using StreamWriter writer = new(destination, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true);
        writer.NewLine = "\r\n";
        await writer.WriteLineAsync(Header.AsMemory(), cancellationToken).ConfigureAwait(false);
        long count = 0;
        StringBuilder row = new();
        await foreach (CostLedgerRecord record in ledger.QueryAsync(query ?? CostLedgerQuery.All, cancellationToken).ConfigureAwait(false))
        {
            row.Clear();
            string?[] values = Values(record);
            for (int i = 0; i < values.Length; i++)
            {
                if (i > 0)
                {
                    row.Append(',');
                }

                AppendCsv(row, values[i], isText: Columns[i].Kind == ColumnKind.Text);
            }

            await writer.WriteLineAsync(row, cancellationToken).ConfigureAwait(false);
            count++;
        }

        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    private static string?[] Values(CostLedgerRecord record)
    {
        CostReceiptEntry e = record.Entry;
        CostScope s = record.Scope;
        CultureInfo c = CultureInfo.InvariantCulture;
        return
        [
            e.Timestamp.UtcDateTime.ToString("O", c), record.ReceiptId.ToString("D"), CostEntryKindNames.Of(e.Kind), e.Provider, e.ModelId,
            s.Tenant, s.User, s.ApiKey, s.Agent, s.Workflow, s.Feature,
            e.Tokens.Input.ToString(c), e.Tokens.CachedInput.ToString(c), e.Tokens.CacheWrite.ToString(c), e.Tokens.CacheWrite1h.ToString(c),
            e.Tokens.Output.ToString(c), e.Tokens.Reasoning.ToString(c),
            e.Cost?.Total.ToString(c), e.CostAvoided?.ToString(c), e.IsEstimated ? "true" : "false", e.IsBatch ? "true" : "false", e.Stage,
        ];
    }

    private static void WriteJsonValue(Utf8JsonWriter writer, string name, string? value, ColumnKind kind)
    {
        if (value is null)
        {
            writer.WriteNull(name);
            return;
        }

        switch (kind)
        {
            case ColumnKind.Number:
                // Numbers are written from their exact invariant text: no double round trip for money.
                writer.WritePropertyName(name);
                writer.WriteRawValue(value, skipInputValidation: false);
                break;
            case ColumnKind.Boolean:
                writer.WriteBoolean(name, value == "true");
                break;
            default:
                writer.WriteString(name, value);
                break;
        }
    }

    private static void AppendCsv(StringBuilder row, string? value, bool isText)
    {
        if (value is null)
        {
            return;
        }

        bool formula = isText && value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        bool quote = formula || value.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        if (!quote)
        {
            row.Append(value);
            return;
        }

        row.Append('"');
        if (formula)
        {
            row.Append('\'');
        }

        row.Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}
