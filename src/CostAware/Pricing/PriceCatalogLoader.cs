using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CostAware.Internal;
using Microsoft.Extensions.Configuration;

namespace CostAware;

/// <summary>
/// Reads model prices from JSON price files, from configuration, and from LiteLLM-format price tables.
/// </summary>
/// <remarks>
/// <para>
/// The JSON price-file format is the configuration format: an object whose properties are model ids and whose
/// values are <see cref="ModelPriceOptions"/> (USD per million tokens). The same entries can live under
/// <c>CostAware:Prices</c> in <c>appsettings.json</c>.
/// </para>
/// <para>
/// Every malformed entry throws a <see cref="PriceCatalogException"/> naming the source, the entry and the field;
/// nothing is skipped silently. All members are thread-safe.
/// </para>
/// </remarks>
public static partial class PriceCatalogLoader
{
    private const decimal PerMillion = 1_000_000m;

    /// <summary>Reads a JSON price file in CostAware's format.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The models, in file order.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="PriceCatalogException">The file is missing, is not JSON, or an entry is malformed.</exception>
    public static IReadOnlyList<ModelPrice> LoadJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using Stream stream = Open(path);
        return LoadJson(stream, path);
    }

    /// <summary>Reads a JSON price document in CostAware's format.</summary>
    /// <param name="json">The document.</param>
    /// <param name="sourceName">What to call the source in <see cref="ModelPrice.Source"/> and in errors.</param>
    /// <returns>The models, in document order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is <see langword="null"/>.</exception>
    /// <exception cref="PriceCatalogException">The document is not JSON, or an entry is malformed.</exception>
    public static IReadOnlyList<ModelPrice> LoadJson(Stream json, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonStream(json).Build();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidDataException)
        {
            throw new PriceCatalogException($"The price file {sourceName ?? "(stream)"} is not valid JSON: {ex.Message}", ex);
        }

        return LoadConfiguration(root, sourceName);
    }

    /// <summary>Reads model prices from configuration: each child of <paramref name="prices"/> is a model id whose value is a <see cref="ModelPriceOptions"/>.</summary>
    /// <param name="prices">The section (for example <c>CostAware:Prices</c>) or a root.</param>
    /// <param name="sourceName">What to call the source; defaults to the section's path.</param>
    /// <param name="existing">The catalog being overridden, whose entries lend a provider and aliases to partial overrides; or <see langword="null"/>.</param>
    /// <returns>The models.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prices"/> is <see langword="null"/>.</exception>
    /// <exception cref="PriceCatalogException">An entry is malformed.</exception>
    public static IReadOnlyList<ModelPrice> LoadConfiguration(IConfiguration prices, string? sourceName = null, IPriceCatalog? existing = null)
    {
        ArgumentNullException.ThrowIfNull(prices);
        sourceName ??= (prices as IConfigurationSection)?.Path is { Length: > 0 } path ? $"configuration '{path}'" : "configuration";
        List<KeyValuePair<string, ModelPriceOptions>> entries = [];
        foreach (IConfigurationSection entry in prices.GetChildren())
        {
            if (!entry.Key.StartsWith('$'))
            {
                entries.Add(new(entry.Key, BindEntry(entry, sourceName)));
            }
        }

        return LoadOptions(entries, sourceName, existing);
    }

    /// <summary>Reads model prices given as options objects (for example <c>CostAwareOptions.Prices</c>).</summary>
    /// <param name="prices">Model id to prices.</param>
    /// <param name="sourceName">What to call the source.</param>
    /// <param name="existing">The catalog being overridden, or <see langword="null"/>.</param>
    /// <returns>The models.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prices"/> is <see langword="null"/>.</exception>
    /// <exception cref="PriceCatalogException">An entry is malformed.</exception>
    public static IReadOnlyList<ModelPrice> LoadOptions(IEnumerable<KeyValuePair<string, ModelPriceOptions>> prices, string? sourceName = null, IPriceCatalog? existing = null)
    {
        ArgumentNullException.ThrowIfNull(prices);
        List<ModelPrice> models = [];
        foreach (KeyValuePair<string, ModelPriceOptions> entry in prices)
        {
            if (entry.Value is null)
            {
                throw new PriceCatalogException(sourceName, entry.Key, null, "has no value.");
            }

            ModelPrice? overridden = null;
            existing?.TryGetPrice(entry.Key, out overridden);
            models.Add(ModelPriceBuilder.Build(entry.Key, entry.Value, sourceName, overridden));
        }

        return models;
    }

    /// <summary>Reads a LiteLLM-format price table (<c>model_prices_and_context_window.json</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>Every model the table prices per token; entries priced otherwise (per image, per second) are left out.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="PriceCatalogException">The file is missing, is not JSON, or a price field is not a number.</exception>
    public static IReadOnlyList<ModelPrice> LoadLiteLlm(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using Stream stream = Open(path);
        return LoadLiteLlm(stream, path);
    }

    /// <summary>Reads a LiteLLM-format price table.</summary>
    /// <param name="json">The table.</param>
    /// <param name="sourceName">What to call the source.</param>
    /// <returns>Every model the table prices per token. USD per token becomes USD per million tokens, exactly.</returns>
    /// <remarks>
    /// The provider is <c>litellm_provider</c>; a key such as <c>gemini/gemini-2.5-pro</c> also answers to its bare
    /// name when no other key in the table has that bare name. Batch prices come from <c>*_batches</c>, long-context
    /// tiers from <c>*_above_NNNk_tokens</c>, one-hour cache writes from <c>cache_creation_input_token_cost_above_1hr</c>.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is <see langword="null"/>.</exception>
    /// <exception cref="PriceCatalogException">The table is not JSON, or a price field is not a number.</exception>
    public static IReadOnlyList<ModelPrice> LoadLiteLlm(Stream json, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        sourceName ??= "LiteLLM price table";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new PriceCatalogException($"The LiteLLM price table {sourceName} is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new PriceCatalogException($"The LiteLLM price table {sourceName} is not a JSON object.");
            }

            Dictionary<string, int> bareNames = new(StringComparer.OrdinalIgnoreCase);
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                string bare = Bare(property.Name);
                bareNames[bare] = bareNames.GetValueOrDefault(bare) + (bare == property.Name ? 2 : 1);
            }

            List<ModelPrice> models = [];
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.Object || property.Name == "sample_spec")
                {
                    continue;
                }

                decimal? input = LiteLlmPrice(property, "input_cost_per_token", sourceName);
                decimal? output = LiteLlmPrice(property, "output_cost_per_token", sourceName);
                if (input is null || output is null)
                {
                    continue;
                }

                ModelPriceOptions options = new()
                {
                    Provider = property.Value.TryGetProperty("litellm_provider", out JsonElement p) && p.ValueKind == JsonValueKind.String
                        ? p.GetString()
                        : property.Name.Contains('/', StringComparison.Ordinal) ? property.Name[..property.Name.IndexOf('/', StringComparison.Ordinal)] : "unknown",
                    Source = $"{sourceName}, key '{property.Name}'",
                    Input = input,
                    Output = output,
                    CachedInput = LiteLlmPrice(property, "cache_read_input_token_cost", sourceName),
                    CacheWrite = LiteLlmPrice(property, "cache_creation_input_token_cost", sourceName),
                    CacheWrite1h = LiteLlmPrice(property, "cache_creation_input_token_cost_above_1hr", sourceName),
                    Reasoning = LiteLlmPrice(property, "output_cost_per_reasoning_token", sourceName),
                    BatchInput = LiteLlmPrice(property, "input_cost_per_token_batches", sourceName),
                    BatchOutput = LiteLlmPrice(property, "output_cost_per_token_batches", sourceName),
                    MaxOutputTokens = LiteLlmTokens(property, "max_output_tokens"),
                };

                string bare = Bare(property.Name);
                if (bare.Length > 0 && bare != property.Name && bareNames[bare] == 1)
                {
                    options.Aliases.Add(bare);
                }

                SortedDictionary<long, LongContextTierOptions> tiers = [];
                foreach (JsonProperty field in property.Value.EnumerateObject())
                {
                    Match match = LongContextField().Match(field.Name);
                    if (!match.Success)
                    {
                        continue;
                    }

                    long threshold = long.Parse(match.Groups[2].ValueSpan, CultureInfo.InvariantCulture) * 1000;
                    if (!tiers.TryGetValue(threshold, out LongContextTierOptions? tier))
                    {
                        tiers[threshold] = tier = new LongContextTierOptions { AboveInputTokens = threshold };
                    }

                    decimal? value = LiteLlmPrice(property.Name, field.Name, field.Value, sourceName);
                    switch (match.Groups[1].Value)
                    {
                        case "input_cost_per_token": tier.Input = value; break;
                        case "output_cost_per_token": tier.Output = value; break;
                        case "cache_read_input_token_cost": tier.CachedInput = value; break;
                        case "cache_creation_input_token_cost": tier.CacheWrite = value; break;
                        default: tier.CacheWrite1h = value; break;
                    }
                }

                foreach (LongContextTierOptions tier in tiers.Values)
                {
                    // A tier the table prices only partly (say, output alone) cannot be billed; it is left out
                    // rather than guessed.
                    if (tier.Input is not null && tier.Output is not null)
                    {
                        options.LongContext.Add(tier);
                    }
                }

                models.Add(ModelPriceBuilder.Build(property.Name, options, sourceName, overridden: null));
            }

            return models;
        }
    }

    private static ModelPriceOptions BindEntry(IConfigurationSection entry, string source)
    {
        // Checked by hand before binding so that a typo names its entry and field, rather than the binder's type names.
        foreach (IConfigurationSection field in entry.GetChildren())
        {
            CheckField(entry.Key, field, source, prefix: string.Empty, isTier: false);
        }

        try
        {
            return entry.Get<ModelPriceOptions>(static o => o.ErrorOnUnknownConfiguration = true) ?? new ModelPriceOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new PriceCatalogException(source, entry.Key, null, ex.Message, ex);
        }
    }

    private static void CheckField(string entry, IConfigurationSection field, string source, string prefix, bool isTier)
    {
        string name = prefix + field.Key;
        switch (field.Key.ToUpperInvariant())
        {
            case "PROVIDER" or "SOURCE" when !isTier:
            case "ALIASES" when !isTier:
                return;
            case "EFFECTIVEDATE" when !isTier:
                if (field.Value is { } date && !DateOnly.TryParse(date, CultureInfo.InvariantCulture, out _))
                {
                    throw new PriceCatalogException(source, entry, name, $"'{date}' is not a date (use yyyy-MM-dd).");
                }

                return;
            case "LONGCONTEXT" when !isTier:
                foreach (IConfigurationSection tier in field.GetChildren())
                {
                    foreach (IConfigurationSection tierField in tier.GetChildren())
                    {
                        CheckField(entry, tierField, source, $"{name}:{tier.Key}:", isTier: true);
                    }
                }

                return;
            case "MAXOUTPUTTOKENS" when !isTier:
                if (!int.TryParse(field.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int limit) || limit <= 0)
                {
                    throw new PriceCatalogException(source, entry, name, $"'{field.Value}' is not a positive whole number of tokens.");
                }

                return;
            case "ABOVEINPUTTOKENS" when isTier:
                if (!long.TryParse(field.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                {
                    throw new PriceCatalogException(source, entry, name, $"'{field.Value}' is not a whole number of tokens.");
                }

                return;
            case "INPUT" or "CACHEDINPUT" or "CACHEWRITE" or "CACHEWRITE1H" or "OUTPUT" or "REASONING":
            case "BATCHINPUT" or "BATCHOUTPUT" when !isTier:
                if (!decimal.TryParse(field.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    throw new PriceCatalogException(source, entry, name, $"'{field.Value}' is not a number (USD per million tokens).");
                }

                return;
            default:
                throw new PriceCatalogException(source, entry, name, "is not a known field.");
        }
    }

    // A token limit, when the table gives a positive whole number; anything else (absent, null, a string) is unknown.
    private static int? LiteLlmTokens(JsonProperty entry, string field) =>
        entry.Value.TryGetProperty(field, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int tokens) && tokens > 0
            ? tokens
            : null;

    private static decimal? LiteLlmPrice(JsonProperty entry, string field, string source) =>
        entry.Value.TryGetProperty(field, out JsonElement value) ? LiteLlmPrice(entry.Name, field, value, source) : null;

    private static decimal? LiteLlmPrice(string entry, string field, JsonElement value, string source)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number
            || !decimal.TryParse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out decimal perToken))
        {
            throw new PriceCatalogException(source, entry, field, $"'{value.GetRawText()}' is not a number (USD per token).");
        }

        return perToken * PerMillion;
    }

    private static string Bare(string key) => key.Contains('/', StringComparison.Ordinal) ? key[(key.LastIndexOf('/') + 1)..] : key;

    private static FileStream Open(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PriceCatalogException($"The price file '{path}' cannot be read: {ex.Message}", ex);
        }
    }

    [GeneratedRegex(@"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost|cache_creation_input_token_cost_above_1hr)_above_(\d+)k_tokens$", RegexOptions.CultureInvariant)]
    private static partial Regex LongContextField();
}
