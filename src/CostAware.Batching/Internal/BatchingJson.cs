using System.Text.Json.Serialization;

namespace CostAware.Batching.Internal;

// The call's scope as stored with it in the queue.
[JsonSerializable(typeof(CostScope))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class BatchingJson : JsonSerializerContext
{
}
