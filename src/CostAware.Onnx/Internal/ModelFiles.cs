namespace CostAware.Onnx.Internal;

// Finds a model folder's .onnx file: the first of the usual names that exists, else the only .onnx file.
internal static class ModelFiles
{
    public static string Find(string directory, IEnumerable<string> usualNames, string whenSeveral)
    {
        foreach (string candidate in usualNames)
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        string[] any = Directory.GetFiles(directory, "*.onnx");
        return any.Length == 1
            ? any[0]
            : throw new OnnxBackendException(
                OnnxBackendFailure.UnsupportedModel,
                any.Length == 0 ? $"The model folder '{directory}' has no .onnx file." : $"The model folder '{directory}' has several .onnx files and {whenSeveral}.");
    }
}
