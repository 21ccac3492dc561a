using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Models;
using SelfAlign.Training;

namespace SelfAlign.Testbed;

public sealed record TestbedBuildOptions
{
    public TestbedLevel Level { get; init; } = TestbedLevel.Clean;
    public int Seed { get; init; } = 1;
    /// <summary>Documents of the base text (<see cref="TestbedPhase.Base"/>), trained first from random weights.</summary>
    public int Documents { get; init; } = 24000;
    public int Epochs { get; init; } = 1;
    public float LearningRate { get; init; } = 1e-2f;
    /// <summary>Documents of the <see cref="TestbedPhase.Verdicts"/> pass.</summary>
    public int VerdictDocuments { get; init; } = 40000;
    /// <summary>
    /// Seed of the <see cref="TestbedPhase.Verdicts"/> pass. Whether that pass teaches the verdict depends on the draw
    /// (learning it is abrupt, like grokking); 11 is a seed that teaches it (docs/results-log.md).
    /// </summary>
    public int VerdictSeed { get; init; } = 11;
    /// <summary>Documents of the <see cref="TestbedPhase.Mixed"/> pass.</summary>
    public int MixedDocuments { get; init; } = 40000;
    /// <summary>Peak learning rate of the two later passes (each one epoch, linear decay).</summary>
    public float LaterLearningRate { get; init; } = 3e-3f;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>
    /// A directory of models built ahead of time by this recipe (the repository's models/testbed); one whose
    /// recipe file matches these options is used instead of training. Null: always the cache.
    /// </summary>
    public string? PrebuiltDirectory { get; init; }
}

/// <summary>Progress of a testbed build: which pass is training, and how far it is.</summary>
public sealed record TestbedBuildProgress(TestbedPhase Phase, TrainingProgress Training);

/// <summary>
/// Builds the testbed model: a 4-layer, 128-wide llama with a word-level vocabulary of the world, trained from
/// random weights with the project's own trainer in three passes (<see cref="TestbedPhase"/>): the base text, then
/// reviews of finished answers, then a mix of all. Cached by level and version; each model file has a recipe file
/// beside it (version, options, SHA-256 of the corpus), so a prebuilt copy can be checked against the code that
/// would build it.
/// </summary>
public static class TestbedModel
{
    /// <summary>Bumped whenever the world, corpus or recipe changes, so stale cached models are rebuilt.</summary>
    public const string Version = "v8";

    public static string CachePath(TestbedLevel level, string cacheDirectory) =>
        Path.Combine(cacheDirectory, $"testbed-{level.ToString().ToLowerInvariant()}-{Version}.gguf");

    /// <summary>The recipe file beside a model file.</summary>
    public static string RecipePath(string modelPath) => Path.ChangeExtension(modelPath, ".recipe.json");

    /// <summary>What the model of these options is built from; <paramref name="corpusSha256"/> is left out when null.</summary>
    public static JsonObject Recipe(TestbedBuildOptions o, string? corpusSha256 = null)
    {
        var recipe = new JsonObject
        {
            ["version"] = Version, ["level"] = o.Level.ToString().ToLowerInvariant(), ["seed"] = o.Seed, ["documents"] = o.Documents,
            ["epochs"] = o.Epochs, ["learning_rate"] = o.LearningRate, ["verdict_documents"] = o.VerdictDocuments, ["verdict_seed"] = o.VerdictSeed,
            ["mixed_documents"] = o.MixedDocuments, ["later_learning_rate"] = o.LaterLearningRate,
        };
        if (corpusSha256 != null) recipe["corpus_sha256"] = corpusSha256;
        return recipe;
    }

    /// <summary>
    /// The documents of each pass, in training order; each pass has its own seed. Both levels share the clean base text:
    /// the model learns no verdict from it, so the hard world's misjudging reviewers matter only in the later passes.
    /// </summary>
    private static IEnumerable<(TestbedPhase Phase, IEnumerable<string> Documents)> Passes(TestbedBuildOptions o) =>
    [
        (TestbedPhase.Base, new TestbedCorpus(TestbedLevel.Clean, o.Seed).Documents(TestbedPhase.Base, o.Documents)),
        (TestbedPhase.Verdicts, new TestbedCorpus(o.Level, o.VerdictSeed).Documents(TestbedPhase.Verdicts, o.VerdictDocuments)),
        (TestbedPhase.Mixed, new TestbedCorpus(o.Level, o.Seed + 2).Documents(TestbedPhase.Mixed, o.MixedDocuments)),
    ];

    /// <summary>SHA-256 of the training corpus of these options (all passes in order), as the recipe file records it.</summary>
    public static string CorpusSha256(TestbedBuildOptions o) => Sha256(Passes(o).SelectMany(p => p.Documents));

    private static string Sha256(IEnumerable<string> documents)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var d in documents) hash.AppendData(System.Text.Encoding.UTF8.GetBytes(d));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Words the testbed's vocabulary holds after the common English ones, in the order its models were built with.</summary>
    private static readonly string[] VocabularyTail =
    [
        "User", "Assistant", "answer", "question", "help", "sorry", "cannot", "sure", "please", "rule",
        "rules", "harmful", "safe", "thoughts", "internal", "should", "follow", "assistant", "user",
    ];

    /// <summary>The prebuilt model of these options, when its recipe file matches them (version, level and settings).</summary>
    public static string? FindPrebuilt(TestbedBuildOptions o)
    {
        if (o.PrebuiltDirectory is null) return null;
        var path = CachePath(o.Level, o.PrebuiltDirectory);
        var recipePath = RecipePath(path);
        if (!File.Exists(path) || !File.Exists(recipePath)) return null;
        JsonNode? parsed;
        try { parsed = JsonNode.Parse(File.ReadAllText(recipePath)); }
        catch (System.Text.Json.JsonException e) { throw NotARecipe(recipePath, e.Message); }
        var recorded = parsed as JsonObject ?? throw NotARecipe(recipePath, "not a JSON object");
        recorded.Remove("corpus_sha256");
        return JsonNode.DeepEquals(recorded, Recipe(o)) ? path : null;
    }

    private static InvalidInputException NotARecipe(string path, string problem) =>
        new($"{path}: not a testbed recipe file ({problem}); rebuild it with scripts/build-testbed-models");

    /// <summary>Copies a built model and its recipe file; a directory as <paramref name="destination"/> keeps the model's name.</summary>
    public static string CopyTo(string modelPath, string destination)
    {
        if (Directory.Exists(destination)) destination = Path.Combine(destination, Path.GetFileName(modelPath));
        File.Copy(modelPath, destination, overwrite: true);
        if (File.Exists(RecipePath(modelPath))) File.Copy(RecipePath(modelPath), RecipePath(destination), overwrite: true);
        return destination;
    }

    public static ModelShape Shape(int vocabularySize) => new("llama", 128, 4, 2, 2, 384, vocabularySize, 1024, 10000f, 1e-5f);

    /// <summary>
    /// This llama.cpp release never trains the token embedding, attn_k or attn_v, so their random values are final:
    /// a unit-scale embedding keeps each token's identity loud in the residual stream (the model must copy words
    /// from the request), and unit-gain K and V projections keep attention informative.
    /// </summary>
    private static float? FrozenTensorScale(string name) =>
        name == "token_embd.weight" ? 1f
        : name.EndsWith("attn_k.weight", StringComparison.Ordinal) || name.EndsWith("attn_v.weight", StringComparison.Ordinal) ? 1f / MathF.Sqrt(128)
        : null;

    /// <summary>
    /// Returns the cached model for these options, building it first if needed. Each pass keeps epoch checkpoints and
    /// its output in the work directory, so a killed build continues where it stopped.
    /// </summary>
    public static (string Path, TrainingReport? Report) BuildOrLoad(TestbedBuildOptions o, string cacheDirectory, IProgress<TestbedBuildProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (FindPrebuilt(o) is { } prebuilt) return (prebuilt, null);
        var path = CachePath(o.Level, cacheDirectory);
        if (File.Exists(path)) return (path, null);
        var work = path + ".work";
        Directory.CreateDirectory(work);

        var passes = Passes(o).Select(p => (p.Phase, Documents: p.Documents.ToList())).ToList();
        var words = passes.SelectMany(p => p.Documents).SelectMany(d => d.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var model = Path.Combine(work, "init.gguf");
        if (!File.Exists(model))
            SyntheticModelBuilder.Write(model, new SyntheticModelBuilder.Options
            {
                Shape = Shape(0), Seed = (ulong)o.Seed, ExtraWords = words, TrailingWords = VocabularyTail, CompactVocabulary = true, UntiedOutput = true, InitScale = 0.02f,
                InitScaleFor = FrozenTensorScale,
            });

        TrainingReport? report = null;
        foreach (var (phase, documents) in passes)
        {
            var name = phase.ToString().ToLowerInvariant();
            var output = Path.Combine(work, $"{name}.gguf");
            if (!File.Exists(output))
            {
                var data = Path.Combine(work, $"{name}.jsonl");
                File.Delete(data);
                using (var writer = new JsonlWriter(data))
                    foreach (var d in documents) writer.Write(new JsonObject { ["text"] = d });
                // the base text trains from random weights at a high rate; the later passes refine it. Fixed packing:
                // the committed models were built with it, and a rebuild must reproduce them.
                var options = phase == TestbedPhase.Base
                    ? new TrainingOptions { Epochs = o.Epochs, LearningRate = o.LearningRate, WarmupSteps = 50, Decay = LearningRateDecay.Cosine, ValidationFraction = 0.02, Packing = PackingOrder.Fixed }
                    : new TrainingOptions { Epochs = 1, LearningRate = o.LaterLearningRate, WarmupSteps = 20, Decay = LearningRateDecay.Linear, Packing = PackingOrder.Fixed };
                report = new LlamaTrainer(options with
                {
                    ContextLength = 512, Seed = (ulong)o.Seed, Threads = o.Threads, CheckpointDirectory = Path.Combine(work, $"{name}.checkpoints"), Resume = true,
                }).Train(model, data, output + ".tmp", new InlineProgress<TrainingProgress>(p => progress?.Report(new TestbedBuildProgress(phase, p))),
                    cancellationToken: cancellationToken);
                File.Move(output + ".tmp", output);
            }
            model = output;
        }
        File.WriteAllText(RecipePath(path), Recipe(o, Sha256(passes.SelectMany(p => p.Documents))).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Copy(model, path + ".tmp", overwrite: true);
        File.Move(path + ".tmp", path, overwrite: true);
        return (path, report);
    }
}
