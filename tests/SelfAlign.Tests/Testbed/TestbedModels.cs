using SelfAlign.Testbed;

namespace SelfAlign.Tests.Testbed;

/// <summary>The clean testbed model (the committed one, or built once per test run however many test classes ask for it at once).</summary>
public static class TestbedModels
{
    private static readonly Lazy<string> CleanPath = new(() =>
        TestbedModel.BuildOrLoad(new TestbedBuildOptions { Level = TestbedLevel.Clean, PrebuiltDirectory = Repository.PrebuiltTestbedDirectory }, Path.Combine(Repository.CacheDirectory, "testbed")).Path);

    public static string Clean => CleanPath.Value;
}
