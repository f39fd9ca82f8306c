using System.Text.Json.Serialization;

namespace CostAware.Internal.Batching;

// The call's scope as stored with it in the queue.
[JsonSerializable(typeof(CostScope))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class BatchingJson : JsonSerializerContext
{
}
