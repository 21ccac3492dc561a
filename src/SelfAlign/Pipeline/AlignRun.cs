using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Remote;

namespace SelfAlign.Pipeline;

/// <summary>Which stages to run and which to redo.</summary>
public sealed record AlignRunOptions
{
    /// <summary>Stages to run (default: all, in order).</summary>
    public IReadOnlyCollection<AlignStage> Stages { get; init; } = Enum.GetValues<AlignStage>();
    /// <summary>Stages whose earlier output is discarded even though their settings changed (with every stage after them).</summary>
    public IReadOnlyCollection<AlignStage> Redo { get; init; } = [];
    /// <summary>Redo (instead of refusing) every finished stage whose settings or inputs changed, with every stage after it;
    /// for runs whose outputs are cheap to make again, such as the demo's.</summary>
    public bool RedoChanged { get; init; }
    /// <summary>Base-model names besides GGUF paths (such as the testbed's); null: base_model is a path.</summary>
    public IBaseModelSource? BaseModels { get; init; }
    /// <summary>Run only this part of the answers or verbose stage (its generation); null: all of it. <see cref="AlignMerge"/> joins the parts.</summary>
    public RunShard? Shard { get; init; }
}

/// <summary>
/// A Self-Align run in a directory: the four stages of the method (docs/methods.md, A.1–A.4), each writing its JSONL output
/// as it goes and recording its settings' fingerprint in the manifest. Run again after any interruption, it
/// continues where it stopped; a finished stage whose settings or inputs changed is refused unless redone.
/// </summary>
public sealed class AlignRun
{
    public AlignConfig Config { get; }
    public string Directory { get; }
    internal RunManifest Manifest { get; }
    internal PromptTemplates Templates { get; }
    internal List<Principle> Principles { get; }
    internal List<Exemplar> Exemplars { get; }
    internal List<SeedTask> SeedTasks { get; }
    internal List<RedTeamSeed> RedTeamSeeds { get; }
    /// <summary>The principles and exemplars every stage-2 request follows.</summary>
    internal string SelfAlignPrefix { get; }

    /// <summary>Reads and checks every data file (errors name file and line) before anything is generated.</summary>
    public AlignRun(AlignConfig config, string directory)
    {
        Config = config;
        Directory = Path.GetFullPath(directory);
        Templates = PromptTemplates.Load(config.Resolve(config.Data.Prompts));
        if (config.Data.SelfAlignPrompt.Length > 0)
        {
            var file = SelfAlignPromptFile.Read(config.Resolve(config.Data.SelfAlignPrompt));
            (Principles, Exemplars, Templates, SelfAlignPrefix) = (file.Principles, file.Exemplars, file.Apply(Templates), file.Text);
        }
        else
        {
            Principles = AlignData.Principles(config.Resolve(config.Data.Principles));
            Exemplars = AlignData.Exemplars(config.Resolve(config.Data.Exemplars));
            SelfAlignPrefix = AlignData.SelfAlignPrompt(Templates, Principles, Exemplars);
        }
        SeedTasks = AlignData.SeedTasks(config.Resolve(config.Data.SeedTasks));
        RedTeamSeeds = AlignData.RedTeamSeeds(config.Resolve(config.Data.RedTeam));
        if (SeedTasks.Count < config.SelfInstruct.Demonstrations && config.SelfInstruct.Requests > 0)
            throw new InvalidInputException($"{config.Data.SeedTasks}: {SeedTasks.Count} seed tasks, fewer than the {config.SelfInstruct.Demonstrations} demonstrations per request");
        if (RedTeamSeeds.Count == 0 && config.RedTeam.QuestionRequests > 0) throw new InvalidInputException($"{config.Data.RedTeam}: no red-teaming seeds");
        Manifest = RunManifest.Open(Directory);
    }

    public string PathOf(string file) => Path.Combine(Directory, file);

    public const string SelfInstructFile = "stage1-self-instruct.jsonl";
    public const string TopicsFile = "stage1-topics.jsonl";
    public const string QuestionsFile = "stage1-questions.jsonl";
    public const string PromptsFile = "stage1-prompts.jsonl";
    public const string AnswersFile = "stage2-answers.jsonl";
    public const string EngravingDataFile = "stage3-engraving-data.jsonl";
    public const string VerboseFile = "stage4-verbose.jsonl";
    public const string VerboseDataFile = "stage4-training-data.jsonl";
    public static readonly string EngravedModel = Path.Combine("models", "engraved.gguf");
    public static readonly string VerboseModel = Path.Combine("models", "verbose.gguf");

    private static readonly Dictionary<AlignStage, string[]> Outputs = new()
    {
        [AlignStage.Prompts] = [SelfInstructFile, TopicsFile, QuestionsFile, PromptsFile],
        [AlignStage.Answers] = [AnswersFile],
        [AlignStage.Engraving] = [EngravingDataFile, EngravedModel, Path.ChangeExtension(EngravedModel, ".lora.gguf"), EngravedModel + ".checkpoints"],
        [AlignStage.Verbose] = [VerboseFile, VerboseDataFile, VerboseModel, Path.ChangeExtension(VerboseModel, ".lora.gguf"), VerboseModel + ".checkpoints"],
    };

    /// <summary>
    /// The base model's path: a name the options' <see cref="AlignRunOptions.BaseModels"/> knows (made on first use,
    /// reported as progress of <paramref name="stage"/>), or the configured GGUF path.
    /// </summary>
    /// <exception cref="InvalidInputException">the base model is neither a known name nor an existing file.</exception>
    public string BaseModelPath(AlignRunOptions options, AlignStage stage = AlignStage.Prompts, IProgress<AlignProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (options.BaseModels is { } source && source.Knows(Config.BaseModel))
            return source.Resolve(Config.BaseModel, new InlineProgress<ModelPreparation>(p => progress?.Report(new AlignProgress(stage, p.What, p.Done, p.Total, p.Detail))),
                cancellationToken);
        var path = Config.Resolve(Config.BaseModel);
        return File.Exists(path) ? path : throw new InvalidInputException($"base_model not found: {path}");
    }


    /// <summary>The name the backend serves a stage's model under; null when the stage generates in-process.</summary>
    internal string? RemoteModel(AlignStage stage) => Config.Backend.Kind != BackendKind.Openai ? null
        : stage == AlignStage.Verbose ? Config.Backend.VerboseModel is { Length: > 0 } v ? v : null
        : Config.Backend.Model;

    /// <summary>A generation stage's model: whole for the in-process engine, its vocabulary only when a server or a batch generates.</summary>
    internal LlamaModel LoadForGeneration(string path, AlignStage stage) =>
        LlamaModel.Load(path, RemoteModel(stage) is null && _batch is null ? null : new ModelLoadOptions { VocabularyOnly = true });

    /// <summary>The engine a generation stage sends its requests to: in-process, the configured server, or a batch file.</summary>
    internal ITextGenerator Generator(LlamaModel model, AlignStage stage)
    {
        if (_batch is { } batch)
        {
            if (batch.ExportModel is not { } name) return new BatchResultsReader(batch.Path, model.Vocabulary);
            var writer = new BatchRequestWriter(batch.Path, name, model.Vocabulary);
            _exported = () => writer.Written; // the stage disposes the writer; its count outlives it
            return writer;
        }
        if (RemoteModel(stage) is not { } served)
            return new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = Config.ContextSize, Threads = Config.Threads } });
        var b = Config.Backend;
        return new OpenAiBackend(new OpenAiBackendOptions
        {
            BaseUrl = new Uri(b.BaseUrl), Model = served, Concurrency = b.Concurrency, MaxRetries = b.MaxRetries,
            ApiKey = b.ApiKeyEnv.Length > 0 ? Environment.GetEnvironmentVariable(b.ApiKeyEnv) : null,
        }, model.Vocabulary);
    }

    public async Task RunAsync(AlignRunOptions options, IProgress<AlignProgress>? progress = null, CancellationToken ct = default)
    {
        var stages = Enum.GetValues<AlignStage>();
        var wanted = options.Stages.ToHashSet();
        // a requested stage needs its input: the stage before it finished, or running now
        foreach (var s in wanted.Order())
            if (s > AlignStage.Prompts && !wanted.Contains(s - 1) && !Manifest.IsComplete(s - 1))
                throw new InvalidInputException(
                    $"stage '{RunManifest.Name(s)}' needs the output of stage '{RunManifest.Name(s - 1)}', which has not finished in {Directory}; run that stage first");

        if (options.Shard is { } shard)
        {
            if (wanted.Any(s => s is AlignStage.Prompts or AlignStage.Engraving))
                throw new InvalidInputException($"--shard {shard} splits the answers and verbose stages; run the prompts and engraving stages unsharded");
            foreach (var s in wanted)
                if (Manifest.Stage(s)?["shard"]?.GetValue<string>() is { } other && other != shard.ToString())
                    throw new InvalidInputException($"{Directory} holds shard {other} of stage '{RunManifest.Name(s)}'; run shard {shard} in its own copy of the run directory");
        }
        Shard = options.Shard;

        var basePath = BaseModelPath(options, wanted.DefaultIfEmpty(AlignStage.Prompts).Min(), progress, ct);

        // Every stage's fingerprint is checked before anything is written: a refused run leaves the manifest as it was.
        var fingerprints = new List<(AlignStage Stage, string Fingerprint, JsonObject Settings)>();
        var reset = false;
        string upstream = "";
        foreach (var stage in stages)
        {
            var (fingerprint, settings) = Fingerprint(stage, upstream, basePath);
            upstream = fingerprint;
            fingerprints.Add((stage, fingerprint, settings));
            var existing = Manifest.Stage(stage);
            if (existing is null || existing["fingerprint"]?.GetValue<string>() == fingerprint || reset) continue;
            if (!options.Redo.Contains(stage) && !options.RedoChanged)
                throw new InvalidInputException(
                    $"stage '{RunManifest.Name(stage)}' in {Directory} was run with other settings or inputs ({Describe(existing["settings"], settings)}); " +
                    $"redo stage '{RunManifest.Name(stage)}' (AlignRunOptions.Redo) to discard its output and every stage after it");
            reset = true;
        }

        Manifest.Root["config"] = JsonSerializer.SerializeToNode(Config, JsonOptions);
        Manifest.Root["base_model"] = new JsonObject { ["path"] = basePath, ["sha256"] = FileHash.Sha256(basePath) };
        var data = new JsonObject { ["seed_tasks"] = Hash(Config.Data.SeedTasks), ["red_team"] = Hash(Config.Data.RedTeam), ["prompts"] = Hash(Config.Data.Prompts) };
        foreach (var (key, file) in PrincipleFiles) data[key] = Hash(file);
        Manifest.Root["data"] = data;
        if (Config.Identity is { } identity) Manifest.Root["data"]!["identity"] = Hash(identity.File);
        Manifest.Root["versions"] = new JsonObject
        {
            ["selfalign"] = typeof(AlignRun).Assembly.GetName().Version?.ToString(), ["llama_cpp_package"] = Native.NativeVersion.Package,
        };
        Manifest.Save();

        reset = false;
        foreach (var (stage, fingerprint, settings) in fingerprints)
        {
            var existing = Manifest.Stage(stage);
            if (options.Redo.Contains(stage) || (existing is not null && existing["fingerprint"]?.GetValue<string>() != fingerprint)) reset = true;
            if (reset) Discard(stage);
            if (!wanted.Contains(stage) || Manifest.IsComplete(stage)) continue;
            Manifest.Begin(stage, fingerprint, settings);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            _generated = 0;
            var counts = stage switch
            {
                AlignStage.Prompts => await new PromptStage(this, basePath).RunAsync(progress, ct),
                AlignStage.Answers => await new AnswerStage(this, basePath).RunAsync(progress, ct),
                AlignStage.Engraving => new FineTuneStage(this, basePath, AlignStage.Engraving).Run(progress, ct),
                _ => await new VerboseStage(this, basePath).RunAsync(progress, ct),
            };
            // what this invocation of the stage cost (a resumed stage counts its last part)
            counts["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            counts["tokens_generated"] = _generated;
            counts["tokens_per_s"] = Math.Round(_generated / Math.Max(1e-9, clock.Elapsed.TotalSeconds), 2);
            using (var self = System.Diagnostics.Process.GetCurrentProcess()) counts["peak_rss_bytes"] = self.PeakWorkingSet64;
            if (_batch is { ExportModel: not null }) continue; // requests exported, nothing answered: the stage waits for the results
            if (Shard is { } part) Manifest.CompleteShard(stage, counts, part);
            else Manifest.Complete(stage, counts);
        }
    }

    /// <summary>The part of a per-record stage this invocation runs; null: all of it.</summary>
    internal RunShard? Shard { get; private set; }

    /// <summary>Whether the verbose stage trains once its answers are in: not for a shard, nor when only its requests are exported.</summary>
    internal bool TrainsAfterGeneration => Shard is null && _batch is not { ExportModel: not null };

    /// <summary>A batch file in place of an engine: requests exported to it (ExportModel set) or results imported from it.</summary>
    private sealed record BatchMode(string Path, string? ExportModel);
    private BatchMode? _batch;
    private Func<int>? _exported;

    /// <summary>
    /// Writes the answers or verbose stage's remaining requests as OpenAI Batch JSONL for <c>vllm run-batch</c> or the OpenAI
    /// Batch API, with <paramref name="model"/> as each body's model; nothing is answered and the stage stays unfinished.
    /// Earlier stages must have finished. Returns the number of requests written.
    /// </summary>
    public async Task<int> ExportBatchAsync(AlignStage stage, string path, string model, AlignRunOptions options, CancellationToken ct = default)
    {
        CheckBatchStage(stage);
        _batch = new BatchMode(path, model);
        _exported = null;
        try
        {
            await RunAsync(options with { Stages = [stage] }, null, ct);
            return _exported?.Invoke() ?? 0;
        }
        finally { _batch = null; }
    }

    /// <summary>Answers the stage's requests from a Batch results file (matched by custom_id) and finishes the stage when every
    /// request has its result; otherwise what was found is kept and one error says how many are missing.</summary>
    public async Task ImportBatchAsync(AlignStage stage, string resultsPath, AlignRunOptions options, IProgress<AlignProgress>? progress = null, CancellationToken ct = default)
    {
        CheckBatchStage(stage);
        if (!File.Exists(resultsPath)) throw new InvalidInputException($"batch results file not found: {resultsPath}");
        _batch = new BatchMode(resultsPath, null);
        try { await RunAsync(options with { Stages = [stage] }, progress, ct); }
        finally { _batch = null; }
    }

    private void CheckBatchStage(AlignStage stage)
    {
        if (stage is not (AlignStage.Answers or AlignStage.Verbose))
            throw new InvalidInputException($"batch files carry the answers and verbose stages (one request per record), not '{RunManifest.Name(stage)}'");
        if (stage == AlignStage.Answers && Config.Answers.UseRain) throw new InvalidInputException("answers.use_rain searches in-process; its answers cannot come from a batch");
    }

    /// <summary>
    /// The requests, tokens and wall time each stage will take, before any work: counted from the config and data, timed by a
    /// short calibration on the base model (a few decode steps and training steps).
    /// </summary>
    public Task<AlignPlan> PlanAsync(AlignRunOptions options, IProgress<AlignProgress>? progress = null, CancellationToken ct = default) =>
        AlignPlanner.PlanAsync(this, BaseModelPath(options, AlignStage.Prompts, progress, ct), progress, ct);

    private long _generated;

    /// <summary>Counts a stage's generated tokens (for its tokens/s).</summary>
    internal void Generated(int tokens) => Interlocked.Add(ref _generated, tokens);

    /// <summary>The files the principles and exemplars come from: the two YAML files, or the one prompt file.</summary>
    private (string Key, string File)[] PrincipleFiles => Config.Data.SelfAlignPrompt.Length > 0
        ? [("self_align_prompt", Config.Data.SelfAlignPrompt)]
        : [("principles", Config.Data.Principles), ("exemplars", Config.Data.Exemplars)];

    private void Discard(AlignStage stage)
    {
        foreach (var f in Outputs[stage])
        {
            var path = PathOf(f);
            if (File.Exists(path)) File.Delete(path);
            if (System.IO.Directory.Exists(path)) System.IO.Directory.Delete(path, recursive: true);
        }
        if (Manifest.Stage(stage) is not null) Manifest.Forget(stage);
    }

    private JsonObject Hash(string file) => new() { ["path"] = Config.Resolve(file), ["sha256"] = FileHash.Sha256(Config.Resolve(file)) };

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter(EnumNames.Policy) },
    };

    /// <summary>A stage's fingerprint: its settings, the files it reads, and the stage before it.</summary>
    private (string, JsonObject) Fingerprint(AlignStage stage, string upstream, string basePath)
    {
        var settings = new JsonObject
        {
            ["seed"] = Config.Seed, ["prompts_sha256"] = FileHash.Sha256(Config.Resolve(Config.Data.Prompts)), ["upstream"] = upstream,
        };
        if (Config.Rehearsal) settings["rehearsal"] = true; // absent otherwise, so the fingerprints of earlier runs hold
        switch (stage)
        {
            case AlignStage.Prompts:
                settings["self_instruct"] = JsonSerializer.SerializeToNode(Config.SelfInstruct, JsonOptions);
                settings["red_team"] = JsonSerializer.SerializeToNode(Config.RedTeam, JsonOptions);
                settings["base_model_sha256"] = FileHash.Sha256(basePath);
                settings["seed_tasks_sha256"] = FileHash.Sha256(Config.Resolve(Config.Data.SeedTasks));
                settings["red_team_sha256"] = FileHash.Sha256(Config.Resolve(Config.Data.RedTeam));
                break;
            case AlignStage.Answers:
                settings["answers"] = JsonSerializer.SerializeToNode(Config.Answers, JsonOptions);
                foreach (var (key, file) in PrincipleFiles) settings[key + "_sha256"] = FileHash.Sha256(Config.Resolve(file));
                break;
            case AlignStage.Engraving:
                settings["engraving"] = JsonSerializer.SerializeToNode(Config.Engraving, JsonOptions);
                AddIdentity();
                break;
            default:
                settings["verbose"] = JsonSerializer.SerializeToNode(Config.Verbose, JsonOptions);
                AddIdentity();
                break;
        }
        return (FileHash.Sha256Text(settings.ToJsonString()), settings);

        void AddIdentity()
        {
            if (Config.Identity is not { } id) return;
            settings["identity"] = JsonSerializer.SerializeToNode(id, JsonOptions);
            settings["identity_sha256"] = FileHash.Sha256(Config.Resolve(id.File));
        }
    }

    /// <summary>The first settings that differ, as "key: old -> new".</summary>
    private static string Describe(JsonNode? old, JsonNode now)
    {
        var a = Flatten(old, "");
        var b = Flatten(now, "");
        var changes = b.Where(kv => a.GetValueOrDefault(kv.Key) != kv.Value && kv.Key != "upstream")
            .Select(kv => $"{kv.Key}: {a.GetValueOrDefault(kv.Key) ?? "(none)"} -> {kv.Value}").Take(3).ToList();
        if (changes.Count == 0 && a.GetValueOrDefault("upstream") != b.GetValueOrDefault("upstream")) return "an earlier stage changed";
        return changes.Count == 0 ? "settings differ" : string.Join("; ", changes);
    }

    private static Dictionary<string, string?> Flatten(JsonNode? node, string prefix)
    {
        var result = new Dictionary<string, string?>();
        if (node is JsonObject o)
            foreach (var (k, v) in o)
                foreach (var kv in Flatten(v, prefix.Length == 0 ? k : $"{prefix}.{k}")) result[kv.Key] = kv.Value;
        else result[prefix] = node?.ToJsonString();
        return result;
    }

    /// <summary>Each stage's state and counts, and the models the run produced.</summary>
    /// <exception cref="InvalidInputException">the directory holds no run.</exception>
    public static AlignRunStatus Status(string directory)
    {
        if (!RunManifest.Exists(directory)) throw new InvalidInputException($"no Self-Align run in {directory} (no {RunManifest.FileName})");
        var manifest = RunManifest.Open(directory);
        var stages = Enum.GetValues<AlignStage>().Select(stage =>
        {
            var s = manifest.Stage(stage);
            var state = s is null ? StageState.NotStarted : manifest.IsComplete(stage) ? StageState.Complete
                : s["shard_complete"]?.GetValue<bool>() == true ? StageState.ShardComplete : StageState.InProgress;
            return new AlignStageStatus(stage, state, s?["counts"]?.DeepClone() as JsonObject ?? PartialCounts(directory, stage))
            {
                Shard = s?["shard"]?.GetValue<string>(),
            };
        }).ToList();
        string? Model(string file) => File.Exists(Path.Combine(directory, file)) ? Path.GetFullPath(Path.Combine(directory, file)) : null;
        return new AlignRunStatus(Path.GetFullPath(directory), stages,
            manifest.Root["base_model"]?["path"]?.GetValue<string>(), Model(EngravedModel), Model(VerboseModel));
    }

    private static JsonObject PartialCounts(string directory, AlignStage stage)
    {
        long Lines(string f) => File.Exists(Path.Combine(directory, f)) ? File.ReadLines(Path.Combine(directory, f)).LongCount(l => l.EndsWith('}')) : 0;
        return stage switch
        {
            AlignStage.Prompts => new JsonObject { ["self_instruct_requests_done"] = Lines(SelfInstructFile), ["topic_requests_done"] = Lines(TopicsFile), ["question_requests_done"] = Lines(QuestionsFile) },
            AlignStage.Answers => new JsonObject { ["answered"] = Lines(AnswersFile) },
            AlignStage.Verbose => new JsonObject { ["answered"] = Lines(VerboseFile) },
            _ => new JsonObject(),
        };
    }
}
