using SelfAlign.Pipeline;

namespace SelfAlign.Testbed;

/// <summary>
/// "testbed:clean" and "testbed:hard" as Self-Align base models: the prebuilt model when its recipe matches, otherwise
/// one trained on first use (about 35 minutes on two cores) and cached.
/// </summary>
public sealed class TestbedBaseModels(string cacheDirectory, string? prebuiltDirectory) : IBaseModelSource
{
    private const string Scheme = "testbed:";

    public bool Knows(string name) => Level(name) is not null;

    public string Resolve(string name, IProgress<ModelPreparation>? progress, CancellationToken cancellationToken)
    {
        var level = Level(name) ?? throw new InvalidInputException($"base_model '{name}': use testbed:clean or testbed:hard");
        var label = level.ToString().ToLowerInvariant();
        return TestbedModel.BuildOrLoad(new TestbedBuildOptions { Level = level, PrebuiltDirectory = prebuiltDirectory }, cacheDirectory,
            new InlineProgress<TestbedBuildProgress>(p => progress?.Report(new ModelPreparation(
                $"training the {label} testbed model ({p.Phase.ToString().ToLowerInvariant()} pass)", p.Training.Step, p.Training.TotalSteps, $"loss {p.Training.Loss:F3}"))),
            cancellationToken).Path;
    }

    private static TestbedLevel? Level(string name) => name switch
    {
        Scheme + "clean" => TestbedLevel.Clean, Scheme + "hard" => TestbedLevel.Hard, _ => null,
    };
}
