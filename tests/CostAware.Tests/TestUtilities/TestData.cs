namespace CostAware.Tests.TestUtilities;

// The shared data lives beside the repository (../shared/data), never copied into it.
internal static class TestData
{
    private static readonly Lazy<string> Root = new(static () =>
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CostAware.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                return Directory.Exists(shared)
                    ? shared
                    : throw new DirectoryNotFoundException($"The shared test data is missing: expected {shared} beside the repository.");
            }
        }

        throw new DirectoryNotFoundException("CostAware.sln not found above " + AppContext.BaseDirectory);
    });

    public static string PathOf(params string[] parts) => Path.Combine([Root.Value, .. parts]);
}
