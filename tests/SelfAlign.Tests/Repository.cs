namespace SelfAlign.Tests;

/// <summary>The repository the tests run from: its .cache is shared with `./selfalign`.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();
    public static string CacheDirectory { get; } = Path.Combine(Root, ".cache");
    /// <summary>The testbed models committed with the repository (made by scripts/build-testbed-models).</summary>
    public static string PrebuiltTestbedDirectory { get; } = Path.Combine(Root, "models", "testbed");

    private static string FindRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root != null && !File.Exists(Path.Combine(root.FullName, "SelfAlign.sln"))) root = root.Parent;
        return root?.FullName ?? Path.GetTempPath();
    }
}
