using System.Text.Json.Serialization;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Training;
using YamlDotNet.Serialization;

namespace SelfAlign.Pipeline;

/// <summary>What stage 2 counts as leaking the exemplars into an answer.</summary>
public enum LeakCheck
{
    /// <summary>An answer containing any exemplar's request or answer, or a distinctive word of an exemplar the question does not hold (the default).</summary>
    Keywords,
    /// <summary>An answer containing any exemplar's request or answer.</summary>
    RequestsAndAnswers,
    /// <summary>Only their requests: for worlds whose exemplar answers are the normal answers.</summary>
    Requests,
    Off,
}

/// <summary>Sampling settings of one generation stage.</summary>
public sealed record StageSampling
{
    public int MaxNewTokens { get; init; } = 384;
    public float Temperature { get; init; } = 1.0f;
    public float TopP { get; init; } = 0.98f;
    /// <summary>Penalties on repeated 1-, 2-, 3-, 4-grams (verbose cloning uses 0, 0, 1, 2).</summary>
    public List<float> NgramPenalties { get; init; } = [];
    /// <summary>Texts whose first token may not start an answer (the paper bans "Sorry" in stage 2).</summary>
    public List<string> BannedFirstTokens { get; init; } = [];
}

/// <summary>The data files of a run, relative to the config file.</summary>
public sealed record AlignDataFiles
{
    public string Principles { get; init; } = "";
    public string Exemplars { get; init; } = "";
    /// <summary>Instead of principles and exemplars: one plain-text prompt in the reference's layout (<see cref="SelfAlignPromptFile"/>).</summary>
    public string SelfAlignPrompt { get; init; } = "";
    public string SeedTasks { get; init; } = "";
    public string RedTeam { get; init; } = "";
    public string Prompts { get; init; } = "";
}

/// <summary>Stage 1a: self-instruct (docs/methods.md, A.1.1).</summary>
public sealed record SelfInstructConfig
{
    /// <summary>Generation requests; each shows <see cref="Demonstrations"/> seed tasks and continues the list.</summary>
    public int Requests { get; init; } = 64;
    public int Demonstrations { get; init; } = 5;
    public int MinWords { get; init; } = 4;
    public int MaxWords { get; init; } = 150;
    public List<string> BannedWords { get; init; } =
        ["image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram"];
    /// <summary>An instruction is dropped when its ROUGE-L F-measure with any kept one is above this.</summary>
    public double RougeThreshold { get; init; } = 0.7;
    public StageSampling Sampling { get; init; } = new() { MaxNewTokens = 384, Temperature = 1.0f, TopP = 0.98f };
}

/// <summary>Stage 1b: topic-guided red-teaming (docs/methods.md, A.1.2).</summary>
public sealed record RedTeamConfig
{
    /// <summary>Rounds of topic brainstorming; each round asks once per topic kept so far (as the reference does).</summary>
    public int TopicRounds { get; init; } = 3;
    /// <summary>Most brainstorm requests per question type and round, to bound a small run; 0 = one per topic, as the reference.</summary>
    public int TopicRequestsPerType { get; init; } = 4;
    public int MaxTopicWords { get; init; } = 3;
    /// <summary>Topics must start with an upper-case letter (the paper's rule; off for lower-case worlds).</summary>
    public bool TopicsCapitalised { get; init; } = true;
    public StageSampling TopicSampling { get; init; } = new() { MaxNewTokens = 128, Temperature = 1.0f, TopP = 0.98f };
    /// <summary>
    /// Most question-generation requests. Each kept topic is asked about once, <see cref="HintsPerRequest"/> topics per
    /// request, so a run makes enough requests for every topic unless this caps it; 0 = no cap.
    /// </summary>
    public int QuestionRequests { get; init; } = 32;
    /// <summary>Seed (type, topic) hints shown with their questions, and as many new hints to write questions for.</summary>
    public int HintsPerRequest { get; init; } = 5;
    public StageSampling QuestionSampling { get; init; } = new() { MaxNewTokens = 384, Temperature = 1.0f, TopP = 0.95f };
}

/// <summary>Stage 2: principle-driven answers (docs/methods.md, A.2).</summary>
public sealed record AnswersConfig
{
    public StageSampling Sampling { get; init; } = new() { MaxNewTokens = 256, Temperature = 0.5f, TopP = 0.95f };
    /// <summary>Answers cut at a user turn must be at least this long (characters).</summary>
    public int MinChars { get; init; } = 160;
    public LeakCheck LeakCheck { get; init; } = LeakCheck.Keywords;
    /// <summary>Drop answers that start with one of these (the paper dropped "I'm sorry"); empty keeps refusals.</summary>
    public List<string> DropPrefixes { get; init; } = [];
    /// <summary>Answer only the first N prompts of stage 1's shuffled list (a sample, for a pilot run); 0 = all.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] // unset, earlier runs' fingerprints hold
    public int Limit { get; init; }
    /// <summary>Answer with RAIN instead of sampling (the answers are searched and screened by the model's own judge).</summary>
    public bool UseRain { get; init; }
    /// <summary>RAIN's judge file for <see cref="UseRain"/> (default: the shipped harm judge).</summary>
    public string? RainJudge { get; init; }
}

/// <summary>How stages 3 and 4 train: a LoRA adapter (the paper's way) merged into the stage's model, or every selected weight.</summary>
public enum FineTuneMethod { Lora, Full }

/// <summary>Training settings of stages 3 and 4.</summary>
public sealed record FineTuneConfig
{
    public FineTuneMethod Method { get; init; } = FineTuneMethod.Lora;
    /// <summary>Rank, alpha and target modules with <see cref="FineTuneMethod.Lora"/> (paper: 16, 16, q/k/v/o).</summary>
    public LoraSettings Lora { get; init; } = new();
    /// <summary>Training windows per optimizer step, gradients averaged (LoRA only; the paper's step is 768 sequences).</summary>
    public int BatchSize { get; init; } = 1;
    public int Epochs { get; init; } = 1;
    public float LearningRate { get; init; } = 4e-4f;
    public int WarmupSteps { get; init; } = 100;
    public int ContextLength { get; init; } = 512;
    /// <summary>With <see cref="FineTuneMethod.Full"/>: all, attention or feed-forward (a pattern needs the trainer's own options).</summary>
    public TensorSelection Tensors { get; init; } = TensorSelection.All;
    /// <summary>responses (the answers are learned, the prompts are context, as the paper's training does) or all.</summary>
    public LossTokens Loss { get; init; } = LossTokens.Responses;
    /// <summary>With the responses loss: no record is split across two training windows (docs/training.md).</summary>
    public bool WholeRecords { get; init; } = true;

    /// <summary>The trainer's options for this stage; <see cref="TrainingOptions.Validate"/> checks them.</summary>
    public TrainingOptions ToTrainingOptions(ulong seed, int threads) => new()
    {
        Epochs = Epochs, LearningRate = LearningRate, WarmupSteps = WarmupSteps, ContextLength = ContextLength,
        Seed = seed, Threads = threads, Tensors = Tensors, Loss = Loss, WholeRecords = WholeRecords && Loss == LossTokens.Responses,
        Lora = Method == FineTuneMethod.Lora ? Lora : null, BatchSize = BatchSize,
    };
}

/// <summary>Stage 4: verbose cloning (docs/methods.md, A.4).</summary>
public sealed record VerboseConfig
{
    public StageSampling Sampling { get; init; } = new() { MaxNewTokens = 512, Temperature = 0.3f, TopP = 0.7f, NgramPenalties = [0, 0, 1, 2] };
    public int MinChars { get; init; } = 128;
    public FineTuneConfig Training { get; init; } = new() { ContextLength = 768 };
}

/// <summary>The assistant's identity conversations (the paper adds 910 about Dromedary and its makers).</summary>
public sealed record IdentityConfig
{
    /// <summary>The assistant's name, for {name} in the records.</summary>
    public string Name { get; init; } = "";
    /// <summary>Who made it, for {maker}.</summary>
    public string Maker { get; init; } = "";
    /// <summary>JSONL of {"question", "answer"} with {name} and {maker} placeholders (the shipped data/selfalign/identity.jsonl).</summary>
    public string File { get; init; } = "";
}

public enum BackendKind { InProcess, Openai }

/// <summary>
/// Where the generation stages (1, 2 and 4) run: in-process (the default), or on an OpenAI-compatible server (vLLM with
/// tensor parallelism, llama.cpp's server, a remote <c>selfalign serve</c>) that serves the base model. The base model's
/// GGUF is then read for its vocabulary only.
/// </summary>
public sealed record BackendConfig
{
    public BackendKind Kind { get; init; } = BackendKind.InProcess;
    /// <summary>The API root, e.g. http://10.0.0.5:8000/v1.</summary>
    public string BaseUrl { get; init; } = "";
    /// <summary>The name the server gives the base model.</summary>
    public string Model { get; init; } = "";
    /// <summary>The name the server gives the engraved model, for stage 4 (a LoRA adapter vLLM serves, say); empty: stage 4 runs in-process.</summary>
    public string VerboseModel { get; init; } = "";
    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 16;
    /// <summary>The environment variable holding the API key, if the server wants one.</summary>
    public string ApiKeyEnv { get; init; } = "";
    public int MaxRetries { get; init; } = 5;
}

/// <summary>
/// A Self-Align run: the base model, the data files, and every stage's counts and sampling. Read with
/// <see cref="Load"/>, which refuses unknown keys and missing files before anything runs.
/// </summary>
public sealed record AlignConfig
{
    /// <summary>GGUF path (relative to the config), or a name an <see cref="IBaseModelSource"/> knows ("testbed:clean").</summary>
    public string BaseModel { get; init; } = "";
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>KV-cache cells of the generation engine.</summary>
    public int ContextSize { get; init; } = 4096;
    public AlignDataFiles Data { get; init; } = new();
    public SelfInstructConfig SelfInstruct { get; init; } = new();
    public RedTeamConfig RedTeam { get; init; } = new();
    public AnswersConfig Answers { get; init; } = new();
    public FineTuneConfig Engraving { get; init; } = new();
    public VerboseConfig Verbose { get; init; } = new();
    /// <summary>Short conversations about the assistant's own name and maker, added to the training data of stages 3 and 4; null: none.</summary>
    public IdentityConfig? Identity { get; init; }
    /// <summary>
    /// A mechanics check, for a new model or one with random weights: stage 1 adds the seed tasks and seed questions to its
    /// prompts, and stages 2 and 4 pass on the answers their filters would drop (each record says why it would have been
    /// dropped), so every stage runs whatever the model writes. A rehearsal's data is not training data: exports refuse it.
    /// </summary>
    public bool Rehearsal { get; init; }
    /// <summary>Where stages 1, 2 and 4 generate; not part of any stage's fingerprint (the same requests, answered elsewhere).</summary>
    public BackendConfig Backend { get; init; } = new();

    /// <summary>The directory relative paths are resolved against (the config file's).</summary>
    [YamlIgnore] public string BaseDirectory { get; init; } = ".";

    public string Resolve(string path) => Path.GetFullPath(Path.Combine(BaseDirectory, path));

    /// <param name="path">the run's YAML file.</param>
    /// <param name="overrides">"dotted.key=value" settings applied over the file (<c>--set</c>).</param>
    public static AlignConfig Load(string path, IReadOnlyList<string>? overrides = null)
    {
        var config = YamlFile.Read<AlignConfig>(path, "run config", overrides ?? []);
        config = config with { BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(path))! };
        config.Validate(path);
        return config;
    }

    /// <summary>An options check's message in the config's own words: "ContextLength must ..." becomes "engraving.context_length must ...".</summary>
    private static string ConfigKey(string section, string message) =>
        System.Text.RegularExpressions.Regex.Match(message, "^([A-Z][A-Za-z]+) ") is { Success: true } m
            ? $"{section}.{System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(m.Groups[1].Value)}{message[m.Groups[1].Length..]}"
            : $"{section}: {message}";

    private void Validate(string path)
    {
        void Check(bool ok, string what) { if (!ok) throw new InvalidInputException($"{path}: {what}"); }
        // Whether base_model names a file or a model some source makes is decided when a run starts (AlignRun.BaseModelPath).
        Check(BaseModel.Length > 0, "base_model is required");
        var fromPromptFile = Data.SelfAlignPrompt.Length > 0;
        Check(!fromPromptFile || (Data.Principles.Length == 0 && Data.Exemplars.Length == 0),
            "data.self_align_prompt replaces data.principles and data.exemplars; give one or the other");
        var files = fromPromptFile
            ? new[] { ("self_align_prompt", Data.SelfAlignPrompt), ("seed_tasks", Data.SeedTasks), ("red_team", Data.RedTeam), ("prompts", Data.Prompts) }
            : new[] { ("principles", Data.Principles), ("exemplars", Data.Exemplars), ("seed_tasks", Data.SeedTasks), ("red_team", Data.RedTeam), ("prompts", Data.Prompts) };
        foreach (var (key, file) in files)
        {
            Check(file.Length > 0, $"data.{key} is required");
            if (!File.Exists(Resolve(file))) throw new InvalidInputException($"{path}: data.{key} not found: {Resolve(file)}");
        }
        Check(SelfInstruct.Requests >= 0 && RedTeam.QuestionRequests >= 0, "request counts must be >= 0");
        Check(SelfInstruct.Demonstrations >= 1, "self_instruct.demonstrations must be >= 1");
        Check(SelfInstruct.MinWords >= 1 && SelfInstruct.MaxWords >= SelfInstruct.MinWords, "self_instruct word limits must satisfy 1 <= min_words <= max_words");
        Check(SelfInstruct.RougeThreshold is > 0 and <= 1, "self_instruct.rouge_threshold must be in (0, 1]");
        Check(RedTeam.TopicRounds >= 0 && RedTeam.HintsPerRequest >= 1 && RedTeam.MaxTopicWords >= 1, "red_team counts must be positive");
        Check(RedTeam.TopicRequestsPerType >= 0, "red_team.topic_requests_per_type must be >= 0 (0: one request per topic)");
        Check(Answers.MinChars >= 0 && Verbose.MinChars >= 0, "min_chars must be >= 0");
        Check(Answers.Limit >= 0, "answers.limit must be >= 0 (0: every prompt)");
        // Training settings are checked here, before hours of generation, with the trainer's own rules.
        foreach (var (key, t) in new[] { ("engraving", Engraving), ("verbose.training", Verbose.Training) })
        {
            Check(t.Tensors != TensorSelection.Pattern, $"{key}.tensors: use all, attention or feed-forward");
            try { t.ToTrainingOptions(Seed, Threads).Validate(); }
            catch (InvalidInputException e) { throw new InvalidInputException($"{path}: {ConfigKey(key, e.Message)}"); }
        }
        Check(Threads >= 1 && ContextSize >= 256, "threads must be >= 1 and context_size >= 256");
        foreach (var (key, s) in new[] { ("self_instruct.sampling", SelfInstruct.Sampling), ("red_team.topic_sampling", RedTeam.TopicSampling),
                     ("red_team.question_sampling", RedTeam.QuestionSampling), ("answers.sampling", Answers.Sampling), ("verbose.sampling", Verbose.Sampling) })
        {
            Check(s.MaxNewTokens >= 1, $"{key}.max_new_tokens must be >= 1");
            Check(s.NgramPenalties.All(p => p >= 0), $"{key}.ngram_penalties must be >= 0");
            try { new SamplingOptions { Temperature = s.Temperature, TopP = s.TopP, NGramPenalties = s.NgramPenalties }.Validate(); }
            catch (InvalidInputException e) { throw new InvalidInputException($"{path}: {ConfigKey(key, e.Message)}"); }
        }
        if (Backend.Kind == BackendKind.Openai)
        {
            Check(Uri.TryCreate(Backend.BaseUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https", $"backend.base_url must be an http(s) URL (got '{Backend.BaseUrl}')");
            Check(Backend.Model.Length > 0, "backend.model is required with backend.kind openai");
            Check(Backend.Concurrency is >= 1 and <= 4096, "backend.concurrency must be in 1..4096");
            Check(Backend.MaxRetries is >= 0 and <= 20, "backend.max_retries must be in 0..20");
            Check(!Answers.UseRain, "answers.use_rain searches in-process; it cannot run with backend.kind openai");
            Check(Backend.VerboseModel.Length == 0 || Verbose.Sampling.NgramPenalties.All(p => p == 0),
                "verbose.sampling.ngram_penalties cannot be sent to an OpenAI-compatible server; set them to [] or leave backend.verbose_model empty");
            Check(Backend.ApiKeyEnv.Length == 0 || Environment.GetEnvironmentVariable(Backend.ApiKeyEnv) is { Length: > 0 },
                $"backend.api_key_env names {Backend.ApiKeyEnv}, which is not set");
        }
        if (Answers.RainJudge is { } judge && !File.Exists(Resolve(judge))) throw new InvalidInputException($"{path}: answers.rain_judge not found: {Resolve(judge)}");
        if (Identity is { } id)
        {
            Check(id.Name.Trim().Length > 0 && id.Maker.Trim().Length > 0, "identity needs a name and a maker");
            Check(id.File.Length > 0, "identity.file is required");
            IdentityRecords.Read(Resolve(id.File), id); // malformed lines fail now, with file and line
        }
    }
}
