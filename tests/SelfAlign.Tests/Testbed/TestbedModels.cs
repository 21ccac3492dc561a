using SelfAlign.Testbed;

namespace SelfAlign.Tests.Testbed;

/// <summary>The cached clean testbed model, built once per test run however many test classes ask for it at once.</summary>
public static class TestbedModels
{
    private static readonly Lazy<string> CleanPath = new(() =>
        TestbedModel.BuildOrLoad(new TestbedBuildOptions { Level = TestbedLevel.Clean }, Path.Combine(Repository.CacheDirectory, "testbed")).Path);

    public static string Clean => CleanPath.Value;
}
