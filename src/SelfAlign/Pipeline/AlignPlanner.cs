using System.Diagnostics;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Training;

namespace SelfAlign.Pipeline;

/// <summary>
/// Plans a run before it starts: counts each stage's requests and tokens from the config and the data files (the prompts
/// built as the stages build them, tokenized by the model), measures on the configured model how fast it evaluates prompts,
/// generates alone and batched, and trains one window, and multiplies out. Counts that depend on what the model writes use
/// the most the prompts ask for (a list's free places, ten topics per brainstorm), so a full run's plan is an upper bound.
/// </summary>
internal static class AlignPlanner
{
    /// <summary>Places in a generated list: the shipped and the reference prompts ask for lists of 20.</summary>
    private const int ListPlaces = 20;
    /// <summary>New topics one brainstorm asks for.</summary>
    private const int TopicsPerRequest = 10;
    private const int CalibrationTokens = 16;
    private const int CalibrationBatch = 8;
    private const int CalibrationSteps = 3;

    public static async Task<AlignPlan> PlanAsync(AlignRun run, string basePath, IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var c = run.Config;
        var t = run.Templates;
        var clock = Stopwatch.StartNew();
        progress?.Report(new AlignProgress(AlignStage.Prompts, "calibration: loading the model", 0, 4));
        using var model = LlamaModel.Load(basePath);
        var load = clock.Elapsed.TotalSeconds;
        var v = model.Vocabulary;
        int Tokens(string text) => v.Tokenize(text).Length;

        // ---- calibration on the configured model ----
        double prefillRate, stepAlone, stepBatched;
        var questions = run.SeedTasks.Take(CalibrationBatch).Select(s => AlignData.QuestionText(s.Instruction, s.Input)).ToList();
        if (questions.Count == 0) questions.Add("Explain how a lock works.");
        using (var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = c.ContextSize, Threads = c.Threads } }))
        {
            // the stages' own sampling: on a large vocabulary, choosing a token costs as much as a decode step of a small model
            var never = StageGeneration.Sampling(c.Answers.Sampling, v, banEndOfText: true) with { Seed = c.Seed };
            progress?.Report(new AlignProgress(AlignStage.Prompts, "calibration: prompt evaluation", 1, 4));
            var prompt = run.SelfAlignPrefix + TextTemplate.Fill(t.Question, ("question", questions[0]));
            var sw = Stopwatch.StartNew();
            await engine.GenerateAsync(new GenerationRequest { Prompt = prompt, MaxNewTokens = 1, Sampling = never }, ct);
            prefillRate = Tokens(prompt) / sw.Elapsed.TotalSeconds;

            progress?.Report(new AlignProgress(AlignStage.Prompts, "calibration: generation", 2, 4));
            async Task<double> Generate(IReadOnlyList<string> texts)
            {
                var watch = Stopwatch.StartNew();
                var requests = texts.Select(q => new GenerationRequest { Prompt = q, MaxNewTokens = CalibrationTokens + 1, Sampling = never }).ToList();
                await foreach (var _ in engine.GenerateBatchAsync(requests, ct)) { }
                // the first new token comes with the prompt's evaluation; the rest are decode steps
                return Math.Max(1e-6, watch.Elapsed.TotalSeconds - texts.Sum(Tokens) / prefillRate) / CalibrationTokens;
            }
            await Generate([questions[0]]); // warm-up: the first steps pay for allocations a run pays once
            stepAlone = await Generate([questions[0]]);
            stepBatched = await Generate(Enumerable.Range(0, CalibrationBatch).Select(i => questions[i % questions.Count]).ToList());
        }
        progress?.Report(new AlignProgress(AlignStage.Prompts, "calibration: training", 3, 4));
        var trainingWindow = TrainingWindowSeconds(run, basePath, c.Engraving, ct);
        var calibration = new PlanCalibration(load, prefillRate, stepAlone, stepBatched, CalibrationBatch, trainingWindow, c.Engraving.ContextLength,
            clock.Elapsed.TotalSeconds);
        progress?.Report(new AlignProgress(AlignStage.Prompts, "calibration", 4, 4));

        // ---- the steps, as the stages will make them ----
        PlannedStep Generation(AlignStage stage, string name, long requests, int sharedTokens, double tokensPerRequest, int maxNew, bool exact, string basis,
            bool loads)
        {
            var room = (c.ContextSize - sharedTokens) / Math.Max(1.0, tokensPerRequest + maxNew);
            var together = (int)Math.Clamp(Math.Min(requests, Math.Min(new ContextOptions().MaxSequences, Math.Floor(room))), 1, int.MaxValue);
            var promptTokens = (long)Math.Round(sharedTokens + requests * tokensPerRequest);
            var seconds = (requests == 0 ? 0 : promptTokens / prefillRate + Math.Ceiling(requests / (double)together) * maxNew * calibration.StepSeconds(together)) + (loads ? load : 0);
            return new PlannedStep(stage, name, requests, promptTokens, requests * maxNew, 0, seconds, exact, basis);
        }
        PlannedStep Training(AlignStage stage, string name, long records, double tokensPerRecord, FineTuneConfig cfg)
        {
            var windows = (long)Math.Ceiling(records * tokensPerRecord / cfg.ContextLength) * cfg.Epochs;
            // per-window time scales with the window's length, measured at the engraving's
            var seconds = load + windows * trainingWindow * cfg.ContextLength / c.Engraving.ContextLength;
            return new PlannedStep(stage, name, 0, 0, 0, windows, seconds, false, "one record per kept answer and identity conversation");
        }

        var steps = new List<PlannedStep>();
        var stages = new PromptStage(run, basePath);
        var si = c.SelfInstruct;
        var siSample = Enumerable.Range(0, Math.Min(si.Requests, 8)).Select(i => (double)Tokens(stages.SelfInstructPrompt(i))).DefaultIfEmpty(0).Average();
        steps.Add(Generation(AlignStage.Prompts, "self-instruct", si.Requests, 0, siSample, si.Sampling.MaxNewTokens, true, "self_instruct.requests", loads: true));

        // topic brainstorming: one request per topic a type holds (capped), each adding at most ten topics
        var rt = c.RedTeam;
        var seedTopics = run.RedTeamSeeds.GroupBy(s => s.Type).ToDictionary(g => g.Key, g => g.Select(s => s.Topic).Distinct(StringComparer.OrdinalIgnoreCase).ToList());
        var perType = seedTopics.Count == 0 ? 0 : seedTopics.Values.Min(l => l.Count);
        long topicRequests = 0;
        double topicPromptTokens = 0;
        for (var round = 0; round < rt.TopicRounds && seedTopics.Count > 0; round++)
        {
            var requestsPerType = rt.TopicRequestsPerType > 0 ? Math.Min(rt.TopicRequestsPerType, perType) : perType;
            var (type, topics) = seedTopics.First();
            var shown = Enumerable.Range(0, Math.Min(perType, perType < 10 ? 1 : 5)).Select(i => topics[i % topics.Count]).ToList();
            topicRequests += (long)requestsPerType * seedTopics.Count;
            topicPromptTokens += (double)requestsPerType * seedTopics.Count * Tokens(stages.TopicPrompt(type, shown));
            perType += requestsPerType * TopicsPerRequest;
        }
        steps.Add(Generation(AlignStage.Prompts, "red-team topics", topicRequests, 0, topicRequests == 0 ? 0 : topicPromptTokens / topicRequests,
            rt.TopicSampling.MaxNewTokens, rt.TopicRounds <= 1, $"at most {TopicsPerRequest} new topics per request", loads: false));

        var newTopics = (long)(perType - (seedTopics.Count == 0 ? 0 : seedTopics.Values.Min(l => l.Count))) * seedTopics.Count;
        var questionRequests = (long)Math.Ceiling(newTopics / (double)rt.HintsPerRequest);
        if (rt.QuestionRequests > 0) questionRequests = Math.Min(questionRequests, rt.QuestionRequests);
        var seeds = run.RedTeamSeeds.Take(rt.HintsPerRequest).ToList();
        var questionPrompt = seeds.Count == 0 ? 0 : Tokens(stages.QuestionPrompt(seeds, seeds.Select(s => (s.Type, s.Topic)).ToList()));
        steps.Add(Generation(AlignStage.Prompts, "red-team questions", questionRequests, 0, questionPrompt, rt.QuestionSampling.MaxNewTokens, false,
            "every new topic asked about once", loads: false));

        // stage 2 answers what stage 1 keeps: at most the lists' free places and one question per topic
        long prompts = si.Requests * Math.Max(0, ListPlaces - si.Demonstrations) + Math.Min(questionRequests * rt.HintsPerRequest, newTopics);
        if (c.Rehearsal) prompts += run.SeedTasks.Count + run.RedTeamSeeds.Count;
        var exactPrompts = c.Answers.Limit > 0 && c.Answers.Limit <= prompts;
        if (c.Answers.Limit > 0) prompts = Math.Min(prompts, c.Answers.Limit);
        var questionTokens = questions.Average(q => (double)Tokens(TextTemplate.Fill(t.Question, ("question", q))));
        var promptsBasis = exactPrompts ? "answers.limit" : $"at most {ListPlaces - si.Demonstrations} kept per self-instruct request and one per new topic";
        steps.Add(Generation(AlignStage.Answers, "answers", prompts, Tokens(run.SelfAlignPrefix), questionTokens, c.Answers.Sampling.MaxNewTokens,
            exactPrompts, promptsBasis, loads: true));

        var identity = IdentityRecords.Of(c).Count;
        var chat = questions.Average(q => (double)Tokens(TextTemplate.Fill(t.ChatPrompt, ("question", q))));
        steps.Add(Training(AlignStage.Engraving, "engraving", prompts + identity, chat + c.Answers.Sampling.MaxNewTokens, c.Engraving));

        var split = t.VerbosePrompt.IndexOf("{question}", StringComparison.Ordinal);
        var verboseQuestion = questions.Average(q => (double)Tokens(t.VerbosePrompt[split..].Replace("{question}", q, StringComparison.Ordinal)));
        steps.Add(Generation(AlignStage.Verbose, "verbose answers", prompts, Tokens(t.VerbosePrompt[..split]), verboseQuestion, c.Verbose.Sampling.MaxNewTokens,
            exactPrompts, promptsBasis, loads: true));
        steps.Add(Training(AlignStage.Verbose, "verbose training", prompts + identity, chat + c.Verbose.Sampling.MaxNewTokens, c.Verbose.Training));
        return new AlignPlan(basePath, steps, calibration);
    }

    /// <summary>Seconds of one training window, measured over a few steps of the engraving's own method on windows of its length.</summary>
    private static double TrainingWindowSeconds(AlignRun run, string basePath, FineTuneConfig cfg, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("selfalign-plan-");
        try
        {
            var data = Path.Combine(dir.FullName, "data.jsonl");
            using (var w = new JsonlWriter(data))
            {
                // plain text long enough for more windows than the calibration trains
                var text = string.Join(" ", run.SeedTasks.Select(s => s.Instruction).DefaultIfEmpty("Explain how a lock works."));
                var chars = 0;
                while (chars < 8 * (CalibrationSteps + 1) * cfg.ContextLength)
                {
                    w.Write(FineTuneStage.TrainingRecord(run.Templates, "Tell me something.", text, finished: true));
                    chars += text.Length;
                }
            }
            var options = cfg.ToTrainingOptions(run.Config.Seed, run.Config.Threads) with { BatchSize = 1, MaxSteps = CalibrationSteps, WarmupSteps = 0 };
            var stamps = new List<double>();
            var clock = Stopwatch.StartNew();
            new LlamaTrainer(options).Train(basePath, data, Path.Combine(dir.FullName, "out.gguf"),
                new InlineProgress<TrainingProgress>(_ => stamps.Add(clock.Elapsed.TotalSeconds)), cancellationToken: ct);
            // the first step builds the graphs; the later ones are what every window costs
            return stamps.Count >= 2 ? (stamps[^1] - stamps[0]) / (stamps.Count - 1) : clock.Elapsed.TotalSeconds / CalibrationSteps;
        }
        finally { dir.Delete(recursive: true); }
    }
}
