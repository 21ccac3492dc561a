namespace SelfAlign.Tests;

/// <summary>The repository the tests run from: its .cache is shared with `./selfalign`.</summary>
public static class Repository
{
    public static string CacheDirectory { get; } = Path.Combine(FindRoot(), ".cache");

    private static string FindRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root != null && !File.Exists(Path.Combine(root.FullName, "SelfAlign.sln"))) root = root.Parent;
        return root?.FullName ?? Path.GetTempPath();
    }
}
