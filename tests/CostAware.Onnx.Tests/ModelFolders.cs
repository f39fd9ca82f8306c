using CostAware.Onnx.Tests.TestModels;

namespace CostAware.Onnx.Tests;

// The tiny model folders, built once per test run and shared (models are read-only once written).
internal static class ModelFolders
{
    private static readonly Lazy<string> ConcatFolder = new(() => TinyModels.ConcatDecoder());
    private static readonly Lazy<string> GqaFolder = new(() => TinyModels.GqaDecoder(shareBuffer: true));
    private static readonly Lazy<string> GqaGrowFolder = new(() => TinyModels.GqaDecoder(shareBuffer: false));

    public static string Concat => ConcatFolder.Value;

    public static string GqaShared => GqaFolder.Value;

    public static string GqaGrow => GqaGrowFolder.Value;

    // A prompt formatter that hands the last user text to the model as is, so answers are readable: "a" → "bcdef".
    public static string Raw(IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> messages) => messages[^1].Text;
}
