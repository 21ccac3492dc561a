using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Pipeline;

/// <summary>
/// Stage 1 (docs/methods.md, A.1): self-instruct lists filtered by length, banned words and ROUGE-L novelty; topic-guided
/// red-teaming (balanced topic brainstorming over several rounds, then questions from type and topic hints);
/// merged, de-duplicated and shuffled into stage1-prompts.jsonl. Every request's output is a line written in
/// request order, so a rerun rebuilds the state from the file and continues.
/// </summary>
internal sealed class PromptStage(AlignRun run, string basePath)
{
    private readonly AlignConfig _c = run.Config;
    private readonly PromptTemplates _t = run.Templates;

    public async Task<JsonObject> RunAsync(IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        using var model = run.LoadForGeneration(basePath, AlignStage.Prompts);
        using var engine = run.Generator(model, AlignStage.Prompts);
        var (instructions, dropped) = await SelfInstructAsync(engine, progress, ct);
        var topics = await TopicsAsync(engine, progress, ct);
        var questions = await QuestionsAsync(engine, topics, progress, ct);

        // merge: exact duplicates (case and punctuation ignored) dropped, then shuffled with the run's seed
        IEnumerable<(string Text, string Input, string Source, string? Type, string? Topic)> merged = instructions.Select(i => (Text: i.Instruction, i.Input, Source: "self-instruct", Type: (string?)null, Topic: (string?)null))
            .Concat(questions.Select(q => (Text: q.Question, Input: "", Source: "red-team", Type: (string?)q.Type, Topic: (string?)q.Topic)));
        // a rehearsal goes on with the seeds' own prompts when the model's lists hold nothing usable (random weights)
        if (_c.Rehearsal)
            merged = merged.Concat(run.SeedTasks.Select(t => (Text: t.Instruction, t.Input, Source: "seed-task", Type: (string?)null, Topic: (string?)null)))
                .Concat(run.RedTeamSeeds.Select(q => (Text: q.Question, Input: "", Source: "red-team-seed", Type: (string?)q.Type, Topic: (string?)q.Topic)));
        var prompts = merged.DistinctBy(x => TextFilters.NormalisedKey(x.Text + "\n" + x.Input)).ToList();
        var shuffle = StageGeneration.Random(_c.Seed, "merge", 0);
        prompts = prompts.OrderBy(_ => shuffle.Next()).ToList();
        var tmp = run.PathOf(AlignRun.PromptsFile + ".tmp");
        File.Delete(tmp);
        using (var w = new JsonlWriter(tmp))
            for (var i = 0; i < prompts.Count; i++)
            {
                var record = new JsonObject { ["id"] = $"p{i + 1:D6}", ["instruction"] = prompts[i].Text, ["input"] = prompts[i].Input, ["source"] = prompts[i].Source };
                if (prompts[i].Type is { } type) { record["type"] = type; record["topic"] = prompts[i].Topic; }
                w.Write(record);
            }
        File.Move(tmp, run.PathOf(AlignRun.PromptsFile), overwrite: true);
        return new JsonObject
        {
            ["self_instruct_kept"] = instructions.Count, ["self_instruct_dropped"] = dropped, ["topics"] = topics.Sum(t => t.Value.Count),
            ["topic_types"] = topics.Count, ["red_team_questions"] = questions.Count, ["prompts"] = prompts.Count,
        };
    }

    // ---------------- self-instruct ----------------

    private async Task<(List<SeedTask> Kept, int Dropped)> SelfInstructAsync(ITextGenerator engine, IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var cfg = _c.SelfInstruct;
        var path = run.PathOf(AlignRun.SelfInstructFile);
        var pool = new InstructionPool(cfg.RougeThreshold);
        foreach (var s in run.SeedTasks) pool.Add(s.Instruction);
        var kept = new List<SeedTask>();
        var dropped = 0;
        var done = JsonlFile.RecoverForAppend(path);
        foreach (var r in done.OrderBy(r => r["i"]!.GetValue<int>()))
        {
            foreach (var k in r["kept"]!.AsArray())
            {
                // runs written before inputs were kept hold the instruction alone
                var task = k is JsonObject o ? new SeedTask(o["instruction"]!.GetValue<string>(), o["input"]!.GetValue<string>()) : new SeedTask(k!.GetValue<string>(), "");
                pool.Add(task.Instruction);
                kept.Add(task);
            }
            dropped += r["dropped"]!.AsArray().Count;
        }
        var label = NumberedList.LabelOf(_t.SelfInstructItem, "{instruction}");
        var inputLabel = NumberedList.LabelOf(_t.SelfInstructItem[(_t.SelfInstructItem.IndexOf("{instruction}", StringComparison.Ordinal) + 1)..], "{input}");
        var k0 = cfg.Demonstrations;
        var nextPrefix = SelfInstructNextPrefix;
        var sampling = StageGeneration.Sampling(cfg.Sampling, engine.Vocabulary, banEndOfText: true);
        var todo = Enumerable.Range(done.Count, Math.Max(0, cfg.Requests - done.Count)).ToList();
        var requests = todo.Select(i => new GenerationRequest
        {
            Prompt = SelfInstructPrompt(i), MaxNewTokens = cfg.Sampling.MaxNewTokens, StopStrings = _t.ListStop,
            Sampling = sampling with { Seed = StageGeneration.Seed(_c.Seed, "self-instruct", i) },
        }).ToList();
        using var writer = new JsonlWriter(path);
        await StageGeneration.InOrderAsync(engine, requests, (j, result) =>
        {
            run.Generated(result.Tokens.Count);
            // the prompt ends with the next item's prefix, so the text starts inside that item
            var items = NumberedList.ParseTasks(nextPrefix + result.Text, label, inputLabel).Where(x => x.Number > k0)
                .Select(x => new SeedTask(x.Instruction, x.Input)).ToList();
            if (result.FinishReason == FinishReason.Length && items.Count > 0) items.RemoveAt(items.Count - 1); // possibly cut off
            var keptHere = new JsonArray();
            var droppedHere = new JsonArray();
            foreach (var item in items)
            {
                var reason = TextFilters.RejectInstruction(item.Instruction, item.Input, cfg)
                             ?? (pool.TryAdd(item.Instruction) ? null : $"ROUGE-L above {cfg.RougeThreshold} with a kept instruction");
                var json = new JsonObject { ["instruction"] = item.Instruction, ["input"] = item.Input };
                if (reason is null) { keptHere.Add(json); kept.Add(item); }
                else { json["reason"] = reason; droppedHere.Add(json); }
            }
            dropped += droppedHere.Count;
            writer.Write(new JsonObject { ["i"] = todo[j], ["raw"] = result.Text, ["finish"] = result.FinishReason.ToString(), ["kept"] = keptHere, ["dropped"] = droppedHere });
            progress?.Report(new AlignProgress(AlignStage.Prompts, "self-instruct", todo[j] + 1, cfg.Requests, $"{kept.Count} kept"));
        }, ct);
        return (kept, dropped);
    }

    private string SelfInstructNextPrefix => NumberedList.NextItemPrefix(_t.SelfInstructItem, "{instruction}", _c.SelfInstruct.Demonstrations + 1);

    /// <summary>Self-instruct request <paramref name="i"/>: its seeded draw of demonstrations, ending with the next item's prefix.</summary>
    internal string SelfInstructPrompt(int i)
    {
        var k0 = _c.SelfInstruct.Demonstrations;
        var rng = StageGeneration.Random(_c.Seed, "self-instruct", i);
        var demos = run.SeedTasks.OrderBy(_ => rng.Next()).Take(k0).ToList();
        var list = string.Concat(demos.Select((d, n) => TextTemplate.Fill(_t.SelfInstructItem, ("n", n + 1), ("instruction", d.Instruction), ("input", d.Input.Length > 0 ? d.Input : "<noinput>"))));
        return NumberedList.Prompt(_t.SelfInstruct, "{demonstrations}", list, SelfInstructNextPrefix, ("count", k0));
    }

    /// <summary>A topic-brainstorming request for <paramref name="type"/> showing <paramref name="examples"/>.</summary>
    internal string TopicPrompt(string type, IReadOnlyList<string> examples) =>
        NumberedList.Prompt(_t.TopicBrainstorm, "{topics}", string.Concat(examples.Select((t, n) => TextTemplate.Fill(_t.TopicItem, ("n", n + 1), ("topic", t)))),
            NumberedList.NextItemPrefix(_t.TopicItem, "{topic}", examples.Count + 1), ("type", type));

    /// <summary>A question request: the seeds' hints and questions, then the fresh hints to write questions for.</summary>
    internal string QuestionPrompt(IReadOnlyList<RedTeamSeed> seeds, IReadOnlyList<(string Type, string Topic)> fresh)
    {
        var hints = seeds.Select(s => (s.Type, s.Topic)).Concat(fresh).ToList();
        var hintText = string.Concat(hints.Select((h, n) => TextTemplate.Fill(_t.HintItem, ("n", n + 1), ("type", h.Type), ("topic", h.Topic))));
        var questionText = string.Concat(seeds.Select((s, n) => TextTemplate.Fill(_t.QuestionItem, ("n", n + 1), ("question", s.Question))));
        return NumberedList.Prompt(_t.QuestionGeneration, "{questions}", questionText, NumberedList.NextItemPrefix(_t.QuestionItem, "{question}", seeds.Count + 1),
            ("hints", hintText), ("count", hints.Count));
    }

    // ---------------- red-teaming topics ----------------

    private async Task<Dictionary<string, List<string>>> TopicsAsync(ITextGenerator engine, IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var cfg = _c.RedTeam;
        var path = run.PathOf(AlignRun.TopicsFile);
        var topics = new Dictionary<string, List<string>>();
        foreach (var s in run.RedTeamSeeds)
        {
            if (!topics.TryGetValue(s.Type, out var list)) topics[s.Type] = list = [];
            if (!list.Contains(s.Topic, StringComparer.OrdinalIgnoreCase)) list.Add(s.Topic);
        }
        var done = JsonlFile.RecoverForAppend(path);
        using var writer = new JsonlWriter(path);
        var types = topics.Keys.ToList();
        var sampling = StageGeneration.Sampling(cfg.TopicSampling, engine.Vocabulary, banEndOfText: true);
        for (var round = 0; round < cfg.TopicRounds; round++)
        {
            // one request per topic a type holds (the reference), up to the configured cap
            var plan = types.SelectMany(type => Enumerable.Range(0, cfg.TopicRequestsPerType > 0 ? Math.Min(cfg.TopicRequestsPerType, topics[type].Count) : topics[type].Count)
                .Select(j => (Type: type, J: j))).ToList();
            var have = done.Where(r => r["round"]!.GetValue<int>() == round).OrderBy(r => r["i"]!.GetValue<int>()).ToList();
            var results = have.Select(r => (r["type"]!.GetValue<string>(), r["topics"]!.AsArray().Select(x => x!.GetValue<string>()).ToList())).ToList();
            var todo = Enumerable.Range(have.Count, plan.Count - have.Count).ToList();
            var requests = todo.Select(i =>
            {
                var (type, _) = plan[i];
                var rng = StageGeneration.Random(_c.Seed, $"topics-{round}", i);
                var examples = topics[type].OrderBy(_ => rng.Next()).Take(ExamplesShown(type)).ToList();
                return new GenerationRequest
                {
                    Prompt = TopicPrompt(type, examples),
                    MaxNewTokens = cfg.TopicSampling.MaxNewTokens, StopStrings = _t.ListStop,
                    Sampling = sampling with { Seed = StageGeneration.Seed(_c.Seed, $"topics-{round}", i) },
                };
            }).ToList();
            var r0 = round;
            await StageGeneration.InOrderAsync(engine, requests, (j, result) =>
            {
                run.Generated(result.Tokens.Count);
                var i = todo[j];
                var parsed = NumberedList.Parse(NextTopic(plan[i].Type) + result.Text).Take(20).Select(x => x.Text)
                    .Where(t => TextFilters.RejectTopic(t, cfg.MaxTopicWords, cfg.TopicsCapitalised) is null).ToList();
                writer.Write(new JsonObject { ["round"] = r0, ["i"] = i, ["type"] = plan[i].Type, ["raw"] = result.Text, ["topics"] = new JsonArray(parsed.Select(p => (JsonNode)p).ToArray()) });
                results.Add((plan[i].Type, parsed));
                progress?.Report(new AlignProgress(AlignStage.Prompts, $"topics round {r0 + 1}/{cfg.TopicRounds}", i + 1, plan.Count, $"{topics.Sum(t => t.Value.Count)} topics"));
            }, ct);
            foreach (var (type, found) in results)
                foreach (var t in found)
                    if (!topics[type].Contains(t, StringComparer.OrdinalIgnoreCase)) topics[type].Add(t);
            // balanced: every type keeps as many topics as the type with fewest
            var min = topics.Values.Min(l => l.Count);
            foreach (var type in types) topics[type] = topics[type].Take(min).ToList();
        }
        return topics;

        // as the reference: one example topic while a type has fewer than 10, otherwise 5; the prompt ends with the next number
        int ExamplesShown(string type) => Math.Min(topics[type].Count, topics[type].Count < 10 ? 1 : 5);
        string NextTopic(string type) => NumberedList.NextItemPrefix(_t.TopicItem, "{topic}", ExamplesShown(type) + 1);
    }

    // ---------------- red-teaming questions ----------------

    private async Task<List<(string Type, string Topic, string Question)>> QuestionsAsync(
        ITextGenerator engine, Dictionary<string, List<string>> topics, IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var cfg = _c.RedTeam;
        var path = run.PathOf(AlignRun.QuestionsFile);
        var seedPairs = run.RedTeamSeeds.Select(s => (s.Type, s.Topic)).ToHashSet();
        // every kept topic is asked about exactly once: the pool in one seeded order, k fresh hints per request
        var order = StageGeneration.Random(_c.Seed, "questions-order", 0);
        var pool = topics.SelectMany(kv => kv.Value.Select(t => (Type: kv.Key, Topic: t))).Where(p => !seedPairs.Contains(p)).OrderBy(_ => order.Next()).ToList();
        var found = new List<(string Type, string Topic, string Question)>();
        var done = JsonlFile.RecoverForAppend(path);
        foreach (var r in done.OrderBy(r => r["i"]!.GetValue<int>()))
            foreach (var q in r["questions"]!.AsArray())
                found.Add((q!["type"]!.GetValue<string>(), q["topic"]!.GetValue<string>(), q["question"]!.GetValue<string>()));
        var k = cfg.HintsPerRequest;
        var groups = HintGroups(pool, k, cfg.QuestionRequests);
        var total = groups.Count;
        var todo = Enumerable.Range(done.Count, Math.Max(0, total - done.Count)).ToList();
        var hintsOf = new Dictionary<int, List<(string Type, string Topic)>>();
        var seedsShown = Math.Min(k, run.RedTeamSeeds.Count);
        var nextQuestion = NumberedList.NextItemPrefix(_t.QuestionItem, "{question}", seedsShown + 1);
        var sampling = StageGeneration.Sampling(cfg.QuestionSampling, engine.Vocabulary, banEndOfText: true);
        var requests = todo.Select(i =>
        {
            var rng = StageGeneration.Random(_c.Seed, "questions", i);
            var seeds = run.RedTeamSeeds.OrderBy(_ => rng.Next()).Take(k).ToList();
            var fresh = groups[i];
            hintsOf[i] = fresh;
            return new GenerationRequest
            {
                Prompt = QuestionPrompt(seeds, fresh),
                MaxNewTokens = cfg.QuestionSampling.MaxNewTokens, StopStrings = _t.ListStop,
                Sampling = sampling with { Seed = StageGeneration.Seed(_c.Seed, "questions", i) },
            };
        }).ToList();
        using var writer = new JsonlWriter(path);
        await StageGeneration.InOrderAsync(engine, requests, (j, result) =>
        {
            run.Generated(result.Tokens.Count);
            var i = todo[j];
            var fresh = hintsOf[i];
            var items = NumberedList.Parse(nextQuestion + result.Text).Where(x => x.Number > seedsShown && x.Number <= seedsShown + fresh.Count).ToList();
            if (result.FinishReason == FinishReason.Length && items.Count > 0) items.RemoveAt(items.Count - 1);
            var questions = new JsonArray();
            foreach (var (number, text) in items.DistinctBy(x => x.Number))
            {
                if (text.Length == 0) continue;
                var (type, topic) = fresh[number - seedsShown - 1];
                questions.Add(new JsonObject { ["type"] = type, ["topic"] = topic, ["question"] = text });
                found.Add((type, topic, text));
            }
            writer.Write(new JsonObject { ["i"] = i, ["raw"] = result.Text, ["questions"] = questions });
            progress?.Report(new AlignProgress(AlignStage.Prompts, "red-team questions", i + 1, total, $"{found.Count} questions"));
        }, ct);
        // as the reference's merge: the first question per (topic, type)
        return found.DistinctBy(q => (q.Type, q.Topic)).ToList();
    }

    /// <summary>The new (type, topic) hints of each question request: every topic of the pool once, in its order, <paramref name="k"/> per request, at most <paramref name="maxRequests"/> requests (0: no cap).</summary>
    internal static List<List<(string Type, string Topic)>> HintGroups(IReadOnlyList<(string Type, string Topic)> pool, int k, int maxRequests) =>
        pool.Chunk(k).Take(maxRequests > 0 ? maxRequests : int.MaxValue).Select(c => c.ToList()).ToList();
}
