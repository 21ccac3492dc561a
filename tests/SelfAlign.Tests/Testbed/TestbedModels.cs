using SelfAlign.Testbed;

namespace SelfAlign.Tests.Testbed;

/// <summary>The testbed models (the committed ones, or each built once per test run however many test classes ask for it at once).</summary>
public static class TestbedModels
{
    private static readonly Lazy<string> CleanPath = new(() => Build(TestbedLevel.Clean));
    private static readonly Lazy<string> HardPath = new(() => Build(TestbedLevel.Hard));

    public static string Clean => CleanPath.Value;
    public static string Hard => HardPath.Value;

    private static string Build(TestbedLevel level) =>
        TestbedModel.BuildOrLoad(new TestbedBuildOptions { Level = level, PrebuiltDirectory = Repository.PrebuiltTestbedDirectory }, Path.Combine(Repository.CacheDirectory, "testbed")).Path;
}
