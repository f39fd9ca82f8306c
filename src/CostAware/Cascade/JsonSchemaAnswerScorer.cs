using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// For requests that ask for JSON (<c>ChatOptions.ResponseFormat</c>): 1 when the answer parses and satisfies the
/// requested schema, 0 otherwise, with the first violation as the reason. Requests that do not ask for JSON score 1.
/// </summary>
/// <remarks>
/// The schema check covers what structured-output schemas use: <c>type</c> (with unions), <c>properties</c>,
/// <c>required</c>, <c>additionalProperties: false</c>, <c>items</c>, <c>enum</c>, and <c>$ref</c>/<c>anyOf</c>
/// are followed only where trivially local (anyOf: any branch). Thread-safe; use <see cref="Instance"/>.
/// </remarks>
public sealed class JsonSchemaAnswerScorer : IAnswerScorer
{
    private JsonSchemaAnswerScorer()
    {
    }

    /// <summary>Gets the scorer.</summary>
    public static JsonSchemaAnswerScorer Instance { get; } = new();

    /// <inheritdoc />
    public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Options?.ResponseFormat is not ChatResponseFormatJson format)
        {
            return ValueTask.FromResult(new AnswerScore(1d, "no JSON requested"));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(StripFence(context.Response.Text));
        }
        catch (JsonException ex)
        {
            return ValueTask.FromResult(new AnswerScore(0d, $"not JSON: {ex.Message}"));
        }

        using (document)
        {
            if (format.Schema is not { } schema)
            {
                return ValueTask.FromResult(new AnswerScore(1d, "valid JSON"));
            }

            string? violation = Validate(document.RootElement, schema, "$");
            return ValueTask.FromResult(violation is null ? new AnswerScore(1d, "matches the schema") : new AnswerScore(0d, violation));
        }
    }

    // Models sometimes wrap JSON in a Markdown code fence.
    private static string StripFence(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.StartsWith("```", StringComparison.Ordinal))
        {
            int start = trimmed.IndexOf('\n', StringComparison.Ordinal);
            int end = trimmed.LastIndexOf("```", StringComparison.Ordinal);
            if (start > 0 && end > start)
            {
                return trimmed[(start + 1)..end];
            }
        }

        return trimmed;
    }

    internal static string? Validate(JsonElement value, JsonElement schema, string path)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("anyOf", out JsonElement anyOf) && anyOf.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement branch in anyOf.EnumerateArray())
            {
                if (Validate(value, branch, path) is null)
                {
                    return null;
                }
            }

            return $"{path} matches none of anyOf";
        }

        if (schema.TryGetProperty("type", out JsonElement type) && !TypeMatches(value, type))
        {
            return $"{path} should be {type.GetRawText()}, is {value.ValueKind.ToString().ToLowerInvariant()}";
        }

        if (schema.TryGetProperty("enum", out JsonElement options) && options.ValueKind == JsonValueKind.Array)
        {
            bool found = false;
            foreach (JsonElement option in options.EnumerateArray())
            {
                found |= JsonElement.DeepEquals(option, value);
            }

            if (!found)
            {
                return $"{path} is not one of {options.GetRawText()}";
            }
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            if (schema.TryGetProperty("required", out JsonElement required) && required.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement name in required.EnumerateArray())
                {
                    if (name.GetString() is { } key && !value.TryGetProperty(key, out _))
                    {
                        return $"{path}.{key} is required";
                    }
                }
            }

            bool closed = schema.TryGetProperty("additionalProperties", out JsonElement additional) && additional.ValueKind == JsonValueKind.False;
            bool hasProperties = schema.TryGetProperty("properties", out JsonElement properties) && properties.ValueKind == JsonValueKind.Object;
            foreach (JsonProperty property in value.EnumerateObject())
            {
                if (hasProperties && properties.TryGetProperty(property.Name, out JsonElement propertySchema))
                {
                    if (Validate(property.Value, propertySchema, $"{path}.{property.Name}") is { } violation)
                    {
                        return violation;
                    }
                }
                else if (closed)
                {
                    return $"{path}.{property.Name} is not allowed";
                }
            }
        }

        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out JsonElement items))
        {
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (Validate(item, items, $"{path}[{i++}]") is { } violation)
                {
                    return violation;
                }
            }
        }

        return null;
    }

    private static bool TypeMatches(JsonElement value, JsonElement type)
    {
        if (type.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement option in type.EnumerateArray())
            {
                if (TypeMatches(value, option))
                {
                    return true;
                }
            }

            return false;
        }

        return type.GetString() switch
        {
            "object" => value.ValueKind == JsonValueKind.Object,
            "array" => value.ValueKind == JsonValueKind.Array,
            "string" => value.ValueKind == JsonValueKind.String,
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => value.ValueKind == JsonValueKind.Null,
            "number" => value.ValueKind == JsonValueKind.Number,
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
            _ => true,
        };
    }
}
