using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;

namespace SelfAlign.Evaluation;

/// <summary>What to evaluate, and where the suites' files are.</summary>
public sealed record EvalOptions
{
    public required IReadOnlyList<EvalSuite> Suites { get; init; }
    /// <summary>Where each suite's files are found under their distributed names (mc_task.json, hhh_alignment/&lt;subset&gt;/task.json, ...).</summary>
    public string DataDirectory { get; init; } = ".";
    /// <summary>TruthfulQA's mc_task.json, when not in <see cref="DataDirectory"/>.</summary>
    public string? McTaskFile { get; init; }
    /// <summary>The directory holding HHH's subsets, when not <see cref="DataDirectory"/>.</summary>
    public string? HhhDirectory { get; init; }
    /// <summary>The first N items of each suite; 0 = all.</summary>
    public int Limit { get; init; }
    /// <summary>Seeds the candidates' order (and so tie-breaking).</summary>
    public ulong Seed { get; init; } = 1;
    public EvalPrompts Prompts { get; init; } = EvalPrompts.Default;
    /// <summary>Items scored per engine call (their candidates share its decode calls).</summary>
    public int BatchItems { get; init; } = 8;
    /// <summary>The red-team prompts for <see cref="EvalSuite.Harmless"/> (an HH-RLHF split or the red-team attempts), when not found in <see cref="DataDirectory"/>.</summary>
    public string? HarmlessFile { get; init; }
    /// <summary>AdvBench's harmful_behaviors.csv, when not in <see cref="DataDirectory"/>.</summary>
    public string? AdvBenchFile { get; init; }
    /// <summary>Vicuna-80's or MT-Bench's question.jsonl, when not found in <see cref="DataDirectory"/>.</summary>
    public string? QuestionsFile { get; init; }
    /// <summary>What the model is compared with in <see cref="EvalSuite.Pairwise"/>.</summary>
    public PairwiseBaseline? Baseline { get; init; }
    /// <summary>How a prompt becomes the model's input: its chat template, or a turn format.</summary>
    public IChatFormat ChatFormat { get; init; } = TurnFormat.Plain;
    public EvalDecoder Decoder { get; init; } = EvalDecoder.Greedy;
    /// <summary>Answers the generation suites when <see cref="Decoder"/> is <see cref="EvalDecoder.Rain"/>: RAIN on the model
    /// under test, with its own judge (better another than <see cref="Judge"/>, or the decoder is graded by the judge it searched with).</summary>
    public Rain.RainDecoder? RainDecoder { get; init; }
    public float Temperature { get; init; } = 0.7f;
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>The harm judge's prompt (RAIN's judge file format).</summary>
    public Rain.RainJudge Judge { get; init; } = Rain.RainJudge.Harm;
    /// <summary>Where the judge runs: another model's engine or a server; null = the model under test judges itself.</summary>
    public ITextScorer? JudgeScorer { get; init; }
    /// <summary>What <see cref="JudgeScorer"/> is (a GGUF path, a served model and its URL), recorded so that a rerun with another judge is refused.</summary>
    public string? JudgeName { get; init; }
    /// <summary>The server the model under test runs on, when not in process (its URL and model name), recorded likewise.</summary>
    public string? BackendName { get; init; }
    public RefusalPhrases RefusalPhrases { get; init; } = RefusalPhrases.Default;
}

/// <summary>The other side of a pairwise comparison: another model (in process or served) or the same one with another decoder.</summary>
/// <param name="Name">what it is, recorded so that a rerun against another baseline is refused.</param>
public sealed record PairwiseBaseline(ITextGenerator Generator, EvalDecoder Decoder, string Name, Rain.RainDecoder? RainDecoder = null);

/// <summary>Progress of one suite: items scored of the total.</summary>
public sealed record EvalProgress(EvalSuite Suite, int Done, int Total);

/// <summary>
/// An evaluation in a directory: each suite's per-item results appended to <c>&lt;suite&gt;.jsonl</c> as they are scored, so a
/// run killed at any point continues where it stopped; <c>run.json</c> records the model and settings, and a run with
/// another model or settings in the same directory is refused. The summary (every figure with its count and 95% interval)
/// is computed from the files, and written to <c>summary.json</c>.
/// </summary>
public sealed class EvalRun(string directory)
{
    public string Directory { get; } = Path.GetFullPath(directory);

    /// <param name="generator">answers the generation suites; <paramref name="scorer"/> scores the multiple-choice ones (and
    /// judges, unless <see cref="EvalOptions.JudgeScorer"/> is set): normally one engine or one server backend for both.</param>
    /// <param name="modelPath">the model scored (with any adapters in <paramref name="adapters"/>), recorded with its hash;
    /// with a server backend, the served model's GGUF that gives the vocabulary.</param>
    public async Task<JsonObject> RunAsync(ITextGenerator generator, ITextScorer scorer, string modelPath, IReadOnlyList<string> adapters, EvalOptions o,
        IProgress<EvalProgress>? progress = null, CancellationToken ct = default)
    {
        if (o.Decoder == EvalDecoder.Rain && o.RainDecoder is null) throw new ArgumentException("the RAIN decoder answers with a RainDecoder: set EvalOptions.RainDecoder", nameof(o));
        // every file is read and checked before anything is scored
        var truthfulQa = o.Suites.Contains(EvalSuite.TruthfulqaMc)
            ? Limit(TruthfulQaFiles.ReadMcTask(o.McTaskFile ?? Find(o.DataDirectory, "mc_task.json", "--mc-task")), o.Limit) : [];
        var hhh = o.Suites.Contains(EvalSuite.Hhh) ? Limit(HhhTaskFile.ReadAll(o.HhhDirectory ?? o.DataDirectory), o.Limit) : [];
        var harmless = o.Suites.Contains(EvalSuite.Harmless) ? Limit(HarmlessPrompts(o), o.Limit) : [];
        var advbench = o.Suites.Contains(EvalSuite.Advbench)
            ? Limit(RedTeamPromptFiles.ReadAdvBench(o.AdvBenchFile ?? Find(o.DataDirectory, "harmful_behaviors.csv", "--advbench")), o.Limit) : [];
        var questions = o.Suites.Contains(EvalSuite.Pairwise) ? Limit(QuestionFile.Read(o.QuestionsFile ?? FindQuestions(o.DataDirectory)), o.Limit) : [];
        if (o.Suites.Contains(EvalSuite.Pairwise) && o.Baseline is null) throw new ArgumentException("the pairwise suite compares with EvalOptions.Baseline", nameof(o));
        if (o.Baseline is { Decoder: EvalDecoder.Rain, RainDecoder: null }) throw new ArgumentException("a RAIN baseline answers with its RainDecoder", nameof(o));
        System.IO.Directory.CreateDirectory(Directory);
        CheckSameRun(modelPath, adapters, o);

        var multipleChoice = new MultipleChoiceScorer(scorer, o.Prompts, o.Seed);
        var suites = new JsonObject();
        if (o.Suites.Contains(EvalSuite.TruthfulqaMc))
        {
            var path = await ScoreAsync(EvalSuite.TruthfulqaMc, truthfulQa, q => q.Id, multipleChoice.TruthfulQaAsync,
                s => new JsonObject { ["id"] = s.Id, ["mc1"] = s.Mc1, ["mc2"] = s.Mc2, ["true_false_mc1"] = s.TrueFalseMc1 }, o, progress, ct);
            suites[Name(EvalSuite.TruthfulqaMc)] = TruthfulQaSummary(path);
        }
        if (o.Suites.Contains(EvalSuite.Hhh))
        {
            var path = await ScoreAsync(EvalSuite.Hhh, hhh, e => e.Id, multipleChoice.HhhAsync,
                s => new JsonObject { ["id"] = s.Id, ["subset"] = s.Subset, ["correct"] = s.Correct, ["margin"] = s.Margin }, o, progress, ct);
            suites[Name(EvalSuite.Hhh)] = HhhSummary(path);
        }
        var answerer = new Answerer(generator, o.Decoder, o.RainDecoder, o);
        var answering = new AnsweringSuite(answerer, new AnswerJudge(o.JudgeScorer ?? scorer, o.Judge), o.RefusalPhrases);
        foreach (var (suite, prompts) in new[] { (EvalSuite.Harmless, harmless), (EvalSuite.Advbench, advbench) })
        {
            if (!o.Suites.Contains(suite)) continue;
            var path = await ScoreAsync(suite, prompts, p => p.Id, answering.AnswerAsync, a => a.ToJson(), o, progress, ct);
            suites[Name(suite)] = AnswersSummary(path, refusals: suite == EvalSuite.Advbench);
        }
        if (o.Suites.Contains(EvalSuite.Pairwise))
        {
            var b = o.Baseline!;
            var pairwise = new PairwiseSuite(answerer, new Answerer(b.Generator, b.Decoder, b.RainDecoder, o), o.JudgeScorer ?? scorer, o);
            var path = await ScoreAsync(EvalSuite.Pairwise, questions, q => q.Id, pairwise.JudgeAsync, j => j.ToJson(), o, progress, ct);
            suites[Name(EvalSuite.Pairwise)] = PairwiseSummary(path, b.Name);
        }
        var summary = new JsonObject
        {
            ["model"] = modelPath, ["adapters"] = new JsonArray(adapters.Select(a => (JsonNode)a).ToArray()), ["decoder"] = EnumNames.Of(o.Decoder), ["suites"] = suites,
        };
        if (o.BackendName is { } backend) summary["backend"] = backend;
        File.WriteAllText(Path.Combine(Directory, "summary.json"), summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    public static string Name(EvalSuite suite) => EnumNames.Of(suite);

    private async Task<string> ScoreAsync<TItem, TScore>(EvalSuite suite, IReadOnlyList<TItem> items, Func<TItem, string> id,
        Func<IReadOnlyList<TItem>, CancellationToken, Task<List<TScore>>> score, Func<TScore, JsonObject> record, EvalOptions o,
        IProgress<EvalProgress>? progress, CancellationToken ct)
    {
        var path = Path.Combine(Directory, Name(suite) + ".jsonl");
        var todo = JsonlFile.Remaining(path, items, id);
        var done = items.Count - todo.Count;
        progress?.Report(new EvalProgress(suite, done, items.Count));
        using var writer = new JsonlWriter(path);
        foreach (var chunk in todo.Chunk(Math.Max(1, o.BatchItems)))
        {
            foreach (var s in await score(chunk, ct)) writer.Write(record(s));
            done += chunk.Length;
            progress?.Report(new EvalProgress(suite, done, items.Count));
        }
        return path;
    }

    /// <summary>The harmless suite's prompts: the given file, or every HH-RLHF split (*.jsonl.gz) under the data directory, or its red-team attempts.</summary>
    private static List<RedTeamPrompt> HarmlessPrompts(EvalOptions o)
    {
        if (o.HarmlessFile is { } file) return ReadRedTeamFile(file);
        var dir = o.DataDirectory;
        var splits = System.IO.Directory.Exists(dir)
            ? System.IO.Directory.GetFiles(dir, "*.jsonl.gz", SearchOption.AllDirectories).Where(f => !IsAttempts(f)).Order(StringComparer.Ordinal).ToList() : [];
        if (splits.Count > 0)
            return splits.SelectMany(f => RedTeamPromptFiles.ReadHhRlhf(f).Select(p => p with { Id = $"{Path.GetRelativePath(dir, f)}:{p.Id}" }))
                .DistinctBy(p => p.Prompt).ToList();
        var attempts = System.IO.Directory.Exists(dir) ? System.IO.Directory.GetFiles(dir, "*", SearchOption.AllDirectories).FirstOrDefault(IsAttempts) : null;
        return attempts is not null ? ReadRedTeamFile(attempts)
            : throw new InvalidInputException($"{dir}: no HH-RLHF *.jsonl.gz nor red_team_attempts file (give one with --harmless-file)");

        static bool IsAttempts(string f) => Path.GetFileName(f).StartsWith("red_team_attempts", StringComparison.OrdinalIgnoreCase);
        static List<RedTeamPrompt> ReadRedTeamFile(string f) =>
            IsAttempts(f) ? RedTeamPromptFiles.ReadRedTeamAttempts(f) : RedTeamPromptFiles.ReadHhRlhf(f);
    }

    /// <summary>question.jsonl in the data directory, else the one file there whose name holds "question" (MT-Bench's and Vicuna's copies are named variously).</summary>
    private static string FindQuestions(string dir)
    {
        var exact = Path.Combine(dir, "question.jsonl");
        if (File.Exists(exact)) return exact;
        var found = System.IO.Directory.Exists(dir) ? System.IO.Directory.GetFiles(dir, "*question*.jsonl").Order(StringComparer.Ordinal).ToList() : [];
        return found.Count switch
        {
            1 => found[0],
            0 => throw new InvalidInputException($"{dir}: no question.jsonl (give its path with --questions)"),
            _ => throw new InvalidInputException($"{dir}: several question files ({string.Join(", ", found.Select(Path.GetFileName))}); name one with --questions"),
        };
    }

    private static List<T> Limit<T>(List<T> items, int limit) => limit > 0 ? items.Take(limit).ToList() : items;

    private static string Find(string dir, string name, string option)
    {
        var path = Path.Combine(dir, name);
        return File.Exists(path) ? path : throw new InvalidInputException($"{dir}: no {name} (give its path with {option})");
    }

    /// <summary>Refuses to mix results of another model or other settings into this directory.</summary>
    private void CheckSameRun(string modelPath, IReadOnlyList<string> adapters, EvalOptions o)
    {
        var run = new JsonObject
        {
            ["model_sha256"] = FileHash.Sha256(modelPath),
            ["adapters_sha256"] = new JsonArray(adapters.Select(a => (JsonNode)FileHash.Sha256(a)).ToArray()),
            ["seed"] = o.Seed,
            ["prompts"] = System.Text.Json.JsonSerializer.SerializeToNode(o.Prompts),
            ["answers"] = $"{o.Decoder} {o.Temperature} {o.MaxNewTokens} {o.ChatFormat.Format([new ChatTurn("user", "{prompt}")])}" +
                          (o.Decoder == EvalDecoder.Rain ? " " + FileHash.Sha256Text(System.Text.Json.JsonSerializer.Serialize(new { o.RainDecoder?.Options, o.RainDecoder?.Judge })) : ""),
            ["judge"] = FileHash.Sha256Text(System.Text.Json.JsonSerializer.Serialize(o.Judge)) + (o.JudgeName is { } j ? " " + j : ""),
            ["refusal_phrases"] = string.Join('|', o.RefusalPhrases.Phrases),
        };
        if (o.BackendName is { } backend) run["backend"] = backend;
        if (o.Baseline is { } baseline) run["baseline"] = $"{baseline.Name} {baseline.Decoder}";
        var path = Path.Combine(Directory, "run.json");
        if (File.Exists(path))
        {
            var before = JsonNode.Parse(File.ReadAllText(path));
            if (!JsonNode.DeepEquals(before, run))
                throw new InvalidInputException($"{Directory} holds results of another model, adapter, backend, seed, prompts, decoder or judge ({path}); evaluate into another --out directory");
            return;
        }
        File.WriteAllText(path, run.ToJsonString());
    }

    private static JsonObject TruthfulQaSummary(string path)
    {
        var rows = JsonlFile.Read(path).Select(r => r.Record).ToList();
        return new JsonObject
        {
            ["n"] = rows.Count,
            ["mc1"] = Proportion(rows.Count(r => r["mc1"]!.GetValue<bool>()), rows.Count),
            ["mc2"] = Mean(rows.Select(r => r["mc2"]!.GetValue<double>()).ToList()),
            ["true_false_mc1"] = Proportion(rows.Count(r => r["true_false_mc1"]!.GetValue<bool>()), rows.Count),
        };
    }

    private static JsonObject HhhSummary(string path)
    {
        var rows = JsonlFile.Read(path).Select(r => r.Record).ToList();
        var subsets = new JsonObject();
        foreach (var g in rows.GroupBy(r => r["subset"]!.GetValue<string>()).OrderBy(g => g.Key))
            subsets[g.Key] = Proportion(g.Count(r => r["correct"]!.GetValue<bool>()), g.Count());
        return new JsonObject { ["n"] = rows.Count, ["overall"] = Proportion(rows.Count(r => r["correct"]!.GetValue<bool>()), rows.Count), ["subsets"] = subsets };
    }

    private static JsonObject AnswersSummary(string path, bool refusals)
    {
        var rows = JsonlFile.Read(path).Select(r => r.Record).ToList();
        var summary = new JsonObject
        {
            ["n"] = rows.Count,
            ["harmful_rate"] = Proportion(rows.Count(r => r["harmful"]!.GetValue<bool>()), rows.Count),
            ["harmless_probability"] = Mean(rows.Select(r => r["harmless_p"]!.GetValue<double>()).ToList()),
        };
        if (refusals) summary["attack_success_rate"] = Proportion(rows.Count(r => !r["refused"]!.GetValue<bool>()), rows.Count);
        return summary;
    }

    private static JsonObject PairwiseSummary(string path, string baseline)
    {
        var outcomes = JsonlFile.Read(path).Select(r => r.Record["outcome"]!.GetValue<string>()).ToList();
        return new JsonObject
        {
            ["n"] = outcomes.Count, ["baseline"] = baseline,
            ["win_rate"] = Proportion(outcomes.Count(x => x == "win"), outcomes.Count),
            ["tie_rate"] = Proportion(outcomes.Count(x => x == "tie"), outcomes.Count),
            ["loss_rate"] = Proportion(outcomes.Count(x => x == "loss"), outcomes.Count),
            // a win counts 1, a tie one half: above 0.5 the model is judged the better
            ["score"] = Mean(outcomes.Select(x => x switch { "win" => 1.0, "tie" => 0.5, _ => 0.0 }).ToList()),
        };
    }

    private static JsonObject Proportion(int k, int n)
    {
        var (low, high) = Stats.Wilson(k, n);
        return new JsonObject { ["value"] = n > 0 ? (double)k / n : 0, ["count"] = k, ["n"] = n, ["low"] = low, ["high"] = high };
    }

    private static JsonObject Mean(List<double> values)
    {
        var (mean, low, high) = Stats.MeanInterval(values);
        return new JsonObject { ["value"] = mean, ["n"] = values.Count, ["low"] = low, ["high"] = high };
    }
}
