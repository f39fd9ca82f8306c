using System.Globalization;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// Builds the key of a request: a hash of its canonical form (docs/prompt-cache.md describes it field by field).
// Version 1 of the canonical form. Changing what is written, or its order, changes every key: bump the version
// then, and only in a minor release.
internal sealed class PromptCacheKeyBuilder(string prefix, PromptCacheKeyAlgorithm algorithm)
{
    public const int CanonicalVersion = 1;

    // Tools and schemas are usually the same instances call after call; their canonical bytes are computed once.
    private static readonly ConditionalWeakTable<object, byte[]> s_canonicalJson = [];
    private static readonly ChatOptions s_noOptions = new();

    public string AllTag => prefix;

    public static string PartitionId(string? tenant, string? sharedPartition)
    {
        string? name = sharedPartition ?? tenant;
        if (name is null)
        {
            return "t";
        }

        // Names are hashed so that tenant ids never appear in cache keys, tags or the L2 store.
        Span<byte> digest = stackalloc byte[8];
        _ = XxHash64.Hash(System.Runtime.InteropServices.MemoryMarshal.AsBytes(name.AsSpan()), digest);
        return string.Concat(sharedPartition is null ? "t" : "s", Convert.ToHexStringLower(digest));
    }

    public string PartitionTag(string partitionId) => string.Concat(prefix, ":", partitionId);

    // Returns null when the request cannot be keyed (a raw-representation factory or content that cannot be read);
    // such a request is passed through uncached.
    public string? TryBuild(
        IEnumerable<ChatMessage> messages, ChatOptions? options, ChatClientMetadata metadata, string? tenant, string? sharedPartition, string partitionId)
    {
        using CanonicalWriter writer = CanonicalWriter.Rent();
        writer.Int32(CanonicalVersion);

        // The partition is written into the hash as well as the key's text: two tenants never share a key even if
        // their partition ids collided.
        writer.Tag(sharedPartition is null ? (byte)'t' : (byte)'s');
        writer.String(sharedPartition ?? tenant);
        writer.String(metadata.ProviderName);
        writer.String(options?.ModelId ?? metadata.DefaultModelId);

        if (!WriteMessages(writer, messages) || !WriteOptions(writer, options))
        {
            return null;
        }

        Span<byte> hash = stackalloc byte[32];
        int length = algorithm == PromptCacheKeyAlgorithm.Sha256
            ? SHA256.HashData(writer.Written, hash)
            : XxHash128.Hash(writer.Written, hash);

        Span<char> hex = stackalloc char[64];
        _ = Convert.TryToHexStringLower(hash[..length], hex, out int written);
        return $"{prefix}:v{CanonicalVersion}:{partitionId}:{hex[..written]}";
    }

    private bool WriteMessages(CanonicalWriter writer, IEnumerable<ChatMessage> messages)
    {
        writer.Tag((byte)'M');
        if (messages is IList<ChatMessage> list)
        {
            writer.Int32(list.Count);
            for (int i = 0; i < list.Count; i++)
            {
                if (!WriteMessage(writer, list[i]))
                {
                    return false;
                }
            }
        }
        else
        {
            foreach (ChatMessage message in messages)
            {
                if (!WriteMessage(writer, message))
                {
                    return false;
                }
            }
        }

        writer.Tag((byte)'m');
        return true;
    }

    private bool WriteMessage(CanonicalWriter writer, ChatMessage message)
    {
        writer.Tag((byte)'<');
        writer.String(CanonicalRole(message.Role));
        writer.String(message.AuthorName);
        if (!WriteAdditionalProperties(writer, message.AdditionalProperties))
        {
            return false;
        }

        IList<AIContent> contents = message.Contents;
        writer.Int32(contents.Count);
        for (int i = 0; i < contents.Count; i++)
        {
            if (!WriteContent(writer, contents[i]))
            {
                return false;
            }
        }

        return true;
    }

    // Roles compare case-insensitively (ChatRole's own equality), so "USER" and "user" are one role.
    private static string CanonicalRole(ChatRole role) =>
        role == ChatRole.User ? "user"
        : role == ChatRole.Assistant ? "assistant"
        : role == ChatRole.System ? "system"
        : role == ChatRole.Tool ? "tool"
        : role.Value.ToLowerInvariant();

    private bool WriteContent(CanonicalWriter writer, AIContent content)
    {
        switch (content)
        {
            case TextContent text:
                writer.Tag((byte)'T');
                writer.String(text.Text);
                return true;
            case TextReasoningContent reasoning:
                writer.Tag((byte)'R');
                writer.String(reasoning.Text);
                writer.String(reasoning.ProtectedData);
                return true;
            case DataContent data:
                // Non-text content by content hash: the bytes themselves may be megabytes.
                writer.Tag((byte)'D');
                writer.String(data.MediaType);
                Span<byte> digest = stackalloc byte[32];
                int length = algorithm == PromptCacheKeyAlgorithm.Sha256
                    ? SHA256.HashData(data.Data.Span, digest)
                    : XxHash128.Hash(data.Data.Span, digest);
                writer.Bytes(digest[..length]);
                return true;
            case UriContent uri:
                writer.Tag((byte)'U');
                writer.String(uri.Uri.OriginalString);
                writer.String(uri.MediaType);
                return true;
            case FunctionCallContent call:
                writer.Tag((byte)'F');
                writer.String(call.CallId);
                writer.String(call.Name);
                return WriteArguments(writer, call.Arguments);
            case FunctionResultContent result:
                writer.Tag((byte)'f');
                writer.String(result.CallId);
                return WriteValue(writer, result.Result);
            case UsageContent:
                // Usage reported on an earlier turn does not change the next answer.
                writer.Tag((byte)'u');
                return true;
            default:
                // Anything else by its JSON form (type discriminator included), as AIJsonUtilities writes it.
                writer.Tag((byte)'J');
                writer.String(content.GetType().FullName);
                return WriteValue(writer, content, typeof(AIContent));
        }
    }

    private static bool WriteArguments(CanonicalWriter writer, IDictionary<string, object?>? arguments)
    {
        if (arguments is null)
        {
            writer.Int32(-1);
            return true;
        }

        string[] names = new string[arguments.Count];
        arguments.Keys.CopyTo(names, 0);
        Array.Sort(names, StringComparer.Ordinal);
        writer.Int32(names.Length);
        foreach (string name in names)
        {
            writer.String(name);
            if (!WriteValue(writer, arguments[name]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool WriteOptions(CanonicalWriter writer, ChatOptions? options)
    {
        // No options and default options ask for the same thing: both write every field unset.
        writer.Tag((byte)'O');
        options ??= s_noOptions;
        if (options.RawRepresentationFactory is not null)
        {
            // The provider request is whatever the factory builds; nothing here can say what changes the answer.
            return false;
        }

        writer.String(options.Instructions);
        writer.Single(options.Temperature);
        writer.Single(options.TopP);
        writer.Int32(options.TopK);
        writer.Int32(options.MaxOutputTokens);
        writer.Single(options.FrequencyPenalty);
        writer.Single(options.PresencePenalty);
        writer.Int64(options.Seed);
        writer.Boolean(options.AllowMultipleToolCalls);
        writer.Boolean(options.AllowBackgroundResponses);

        // Stop sequences act as a set: their order does not change the answer.
        if (options.StopSequences is { } stops)
        {
            string[] sorted = [.. stops];
            Array.Sort(sorted, StringComparer.Ordinal);
            writer.Int32(sorted.Length);
            foreach (string stop in sorted)
            {
                writer.String(stop);
            }
        }
        else
        {
            writer.Int32(-1);
        }

        switch (options.ResponseFormat)
        {
            case null:
                writer.Tag(0);
                break;
            case ChatResponseFormatText:
                writer.Tag((byte)'t');
                break;
            case ChatResponseFormatJson json:
                writer.Tag((byte)'j');
                writer.String(json.SchemaName);
                writer.String(json.SchemaDescription);
                if (json.Schema is { } schema)
                {
                    writer.Tag(1);
                    writer.Json(schema);
                }
                else
                {
                    writer.Tag(0);
                }

                break;
            default:
                writer.Tag((byte)'?');
                if (!WriteValue(writer, options.ResponseFormat, typeof(ChatResponseFormat)))
                {
                    return false;
                }

                break;
        }

        switch (options.ToolMode)
        {
            case null:
                writer.Tag(0);
                break;
            case NoneChatToolMode:
                writer.Tag((byte)'n');
                break;
            case AutoChatToolMode:
                writer.Tag((byte)'a');
                break;
            case RequiredChatToolMode required:
                writer.Tag((byte)'r');
                writer.String(required.RequiredFunctionName);
                break;
            default:
                writer.Tag((byte)'?');
                writer.String(options.ToolMode.GetType().FullName);
                break;
        }

        // Tools in the order given: models do read them in order.
        if (options.Tools is { } tools)
        {
            writer.Int32(tools.Count);
            for (int i = 0; i < tools.Count; i++)
            {
                if (!WriteTool(writer, tools[i]))
                {
                    return false;
                }
            }
        }
        else
        {
            writer.Int32(-1);
        }

        if (options.Reasoning is { } reasoning)
        {
            writer.Tag(1);
            if (!WriteValue(writer, reasoning))
            {
                return false;
            }
        }
        else
        {
            writer.Tag(0);
        }

        return WriteAdditionalProperties(writer, options.AdditionalProperties);
    }

    private static bool WriteTool(CanonicalWriter writer, AITool tool)
    {
        if (!s_canonicalJson.TryGetValue(tool, out byte[]? canonical))
        {
            using CanonicalWriter toolWriter = CanonicalWriter.Rent();
            toolWriter.String(tool.GetType().FullName);
            toolWriter.String(tool.Name);
            toolWriter.String(tool.Description);
            if (tool is AIFunctionDeclaration function)
            {
                toolWriter.Tag(1);
                toolWriter.Json(function.JsonSchema);
                toolWriter.Json(function.ReturnJsonSchema ?? default);
            }
            else
            {
                toolWriter.Tag(0);
            }

            if (!WriteAdditionalProperties(toolWriter, tool.AdditionalProperties))
            {
                return false;
            }

            canonical = toolWriter.Written.ToArray();
            _ = s_canonicalJson.TryAdd(tool, canonical);
        }

        writer.Bytes(canonical);
        return true;
    }

    private static bool WriteAdditionalProperties(CanonicalWriter writer, IReadOnlyDictionary<string, object?>? properties)
    {
        if (properties is null || properties.Count == 0)
        {
            writer.Int32(0);
            return true;
        }

        // CostAware's own keys (scope, receipt, cache control) never change the answer; the rest may (provider-specific
        // parameters), in any order.
        int count = 0;
        foreach (KeyValuePair<string, object?> property in properties)
        {
            if (!property.Key.StartsWith(CostAwareProperties.Prefix, StringComparison.Ordinal))
            {
                count++;
            }
        }

        writer.Int32(count);
        if (count == 0)
        {
            return true;
        }

        string[] names = new string[count];
        int i = 0;
        foreach (KeyValuePair<string, object?> property in properties)
        {
            if (!property.Key.StartsWith(CostAwareProperties.Prefix, StringComparison.Ordinal))
            {
                names[i++] = property.Key;
            }
        }

        // Names compare case-insensitively, as AdditionalPropertiesDictionary does: "Seed" and "seed" are one property.
        Array.Sort(names, StringComparer.OrdinalIgnoreCase);
        foreach (string name in names)
        {
            writer.String(name.ToLowerInvariant());
            if (!WriteValue(writer, properties[name]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool WriteValue(CanonicalWriter writer, object? value, Type? declaredType = null)
    {
        switch (value)
        {
            case null:
                writer.Tag((byte)'0');
                return true;
            case string s:
                writer.Tag((byte)'s');
                writer.String(s);
                return true;
            case JsonElement element:
                writer.Json(element);
                return true;
            case bool b:
                writer.Tag(b ? (byte)'t' : (byte)'f');
                return true;
            case int or long or double or float or decimal:
                writer.Tag((byte)'n');
                writer.String(Convert.ToString(value, CultureInfo.InvariantCulture));
                return true;
        }

        try
        {
            writer.Json(JsonSerializer.SerializeToElement(value, declaredType ?? value.GetType(), AIJsonUtilities.DefaultOptions));
            return true;
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }
}
