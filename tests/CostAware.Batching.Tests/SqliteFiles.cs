namespace CostAware.Batching.Tests;

// A test's SQLite queue file and the journal files WAL mode leaves beside it.
internal static class SqliteFiles
{
    public static void Delete(string path)
    {
        foreach (string file in (string[])[path, path + "-wal", path + "-shm"])
        {
            File.Delete(file);
        }
    }
}
