using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using SelfAlign.Testbed;

namespace SelfAlign.Benchmarks;

/// <summary>
/// RAIN's cost on held-out testbed requests: wall time against vanilla sampling with the same settings (median of
/// per-prompt ratios) with its KV cache and, on the first few prompts, without it (the reference's baseline), where
/// the time goes, and the same searches with the KV cache and batching switched off (which must choose the same tokens).
/// </summary>
public static class RainBenchmark
{
    public sealed record Result(
        int Prompts, double MedianTimeRatio, double RainSeconds, double VanillaSeconds,
        double MedianTimeRatioToUncachedVanilla, bool UncachedVanillaSameTokens,
        double DecodeCallsPerAnswerToken, double TokensDecodedPerAnswerToken, double ExtensionTokensPerAnswerToken, double JudgedAnswerTokensPerAnswerToken,
        double JudgeSuffixTokensPerAnswerToken, double RoundsPerCommit, double IterationsPerCommit,
        double ExtendShare, double JudgeShare, double TreeShare, double DecodeShare,
        int Iterations, int SimilarityCredits, int ChildAdditionsTried, int ChildrenAdded,
        int UncachedPrompts, double UncachedSeconds, double CachedSecondsSamePrompts, double UncachedSlowdown, bool UncachedSameTokens);

    public static Result Run(LlamaModel model, RainJudge judge, int perKind, Action<string>? log = null, int maxNewTokens = 40, int uncachedPrompts = 4)
    {
        var requests = TestbedRequests.Generate(true, perKind, 77).Concat(TestbedRequests.Generate(false, perKind, 77)).ToList();
        var options = new RainOptions { MaxNewTokens = maxNewTokens, StopStrings = ["\n\n"] };
        var total = new RainStatistics();
        var ratios = new List<double>();
        var answerTokens = 0L;
        var vanillaSeconds = 0.0;
        var cached = new List<RainResult>();
        using (var rain = new RainDecoder(model, judge, options))
        {
            rain.GenerateVanilla(TestbedPrompts.Plain(requests[0]), 0); // warm up
            for (var i = 0; i < requests.Count; i++)
            {
                log?.Invoke($"prompt {i + 1}/{requests.Count}");
                var prompt = TestbedPrompts.Plain(requests[i]);
                var r = rain.Generate(prompt, requests[i], options with { Seed = (ulong)i });
                var v = rain.GenerateVanilla(prompt, (ulong)i);
                cached.Add(r);
                total = total.Add(r.Statistics);
                answerTokens += r.Tokens.Length;
                vanillaSeconds += v.Seconds;
                ratios.Add(r.Statistics.Seconds / Math.Max(1e-9, v.Seconds));
            }
        }
        var median = Stats.Median(ratios)!.Value;

        var uncachedSeconds = 0.0;
        var same = true;
        var n = Math.Min(uncachedPrompts, requests.Count);
        var uncachedVanillaRatios = new List<double>();
        var vanillaSame = true;
        using (var rain = new RainDecoder(model, judge, options))
            for (var i = 0; i < n; i++)
            {
                log?.Invoke($"prompt {i + 1}/{n}: vanilla sampling without the KV cache");
                var prompt = TestbedPrompts.Plain(requests[i]);
                var cachedVanilla = rain.GenerateVanilla(prompt, (ulong)i);
                var uncachedVanilla = rain.GenerateVanilla(prompt, (ulong)i, useCache: false);
                vanillaSame &= uncachedVanilla.Tokens.SequenceEqual(cachedVanilla.Tokens);
                uncachedVanillaRatios.Add(cached[i].Statistics.Seconds / Math.Max(1e-9, uncachedVanilla.Seconds));
            }
        using (var rain = new RainDecoder(model, judge, options with { UseCache = false }))
            for (var i = 0; i < n; i++)
            {
                log?.Invoke($"prompt {i + 1}/{n} without the KV cache and batching");
                var r = rain.Generate(TestbedPrompts.Plain(requests[i]), requests[i], options with { Seed = (ulong)i, UseCache = false });
                uncachedSeconds += r.Statistics.Seconds;
                same &= r.Tokens.SequenceEqual(cached[i].Tokens);
            }
        var cachedSame = cached.Take(n).Sum(r => r.Statistics.Seconds);
        return new Result(
            requests.Count, median, total.Seconds, vanillaSeconds, Stats.Median(uncachedVanillaRatios) ?? 0, vanillaSame,
            (double)total.DecodeCalls / Math.Max(1, answerTokens), (double)total.TokensDecoded / Math.Max(1, answerTokens),
            (double)total.ExtensionTokens / Math.Max(1, answerTokens), (double)total.JudgedAnswerTokens / Math.Max(1, answerTokens),
            (double)total.JudgeSuffixTokens / Math.Max(1, answerTokens),
            (double)total.Rounds / Math.Max(1, total.Commits), (double)total.Iterations / Math.Max(1, total.Commits),
            total.ExtendSeconds / total.Seconds, total.JudgeSeconds / total.Seconds,
            1 - (total.ExtendSeconds + total.JudgeSeconds) / total.Seconds, total.DecodeSeconds / total.Seconds,
            total.Iterations, total.SimilarityCredits, total.ChildAdditionsTried, total.ChildrenAdded,
            n, uncachedSeconds, cachedSame, uncachedSeconds / Math.Max(1e-9, cachedSame), same);
    }

    public sealed record ThroughputResult(
        int Prompts, int LeavesPerRound, int PromptsAtOnce, double OneAfterAnotherSeconds, double TogetherSeconds, double Speedup,
        long DecodeCallsOneAfterAnother, long DecodeCallsTogether, double DecodeCallsPerCommittedTokenTogether, int SameAnswers,
        double AsRequestsSeconds, int AsRequestsSameAnswers, double VanillaBatchSeconds, double TogetherOverVanillaBatch, double TokensDecodedPerCommittedToken,
        double ExtensionTokensPerCommittedToken, double JudgedAnswerTokensPerCommittedToken, double JudgeSuffixTokensPerCommittedToken, double VanillaTokensDecodedPerAnswerToken);

    /// <summary>
    /// The same held-out requests searched one after another, all at once (same seeds), submitted together to a
    /// <see cref="RainScheduler"/> as a server's requests are, and answered by batched vanilla sampling on the generation engine; what bounds RAIN against vanilla is the tokens each decodes per
    /// answer token.
    /// </summary>
    public static ThroughputResult Throughput(LlamaModel model, RainJudge judge, int prompts, int leavesPerRound, Action<string>? log = null, int maxNewTokens = 40)
    {
        var requests = TestbedRequests.Generate(true, prompts / 2, 91).Concat(TestbedRequests.Generate(false, prompts - prompts / 2, 91)).ToList();
        var options = new RainOptions { MaxNewTokens = maxNewTokens, StopStrings = ["\n\n"], LeavesPerRound = leavesPerRound };
        var inputs = requests.Select((r, i) => new RainPrompt(TestbedPrompts.Plain(r), r, (ulong)i)).ToList();
        using var rain = new RainDecoder(model, judge, options);
        rain.Generate(inputs[0].Prompt, inputs[0].UserRequest, options with { MaxNewTokens = 2 }); // warm up

        log?.Invoke($"{prompts} prompts one after another");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var alone = inputs.Select(p => rain.Generate(p.Prompt, p.UserRequest, options with { Seed = p.Seed })).ToList();
        var aloneSeconds = clock.Elapsed.TotalSeconds;

        log?.Invoke($"{prompts} prompts at once ({rain.PromptsAtOnce()} searching at a time)");
        var together = rain.GenerateMany(inputs);

        log?.Invoke($"{prompts} prompts as concurrent requests to a scheduler");
        clock.Restart();
        RainResult[] requested;
        using (var scheduler = new RainScheduler(rain))
            requested = Task.WhenAll(inputs.Select(p => Task.Run(() => scheduler.GenerateAsync(p.Prompt, p.UserRequest, options with { Seed = p.Seed })))).GetAwaiter().GetResult();
        var requestedSeconds = clock.Elapsed.TotalSeconds;

        log?.Invoke($"{prompts} prompts by batched vanilla sampling");
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = Math.Min(64, prompts) } });
        var vanillaRequests = inputs.Select(p => new GenerationRequest
        {
            Prompt = p.Prompt, MaxNewTokens = maxNewTokens, StopStrings = ["\n\n"], Sampling = new SamplingOptions { Temperature = 1, Seed = p.Seed },
        }).ToList();
        var decodedBefore = engine.Statistics.TokensDecoded;
        clock.Restart();
        var vanillaTokens = 0L;
        foreach (var r in engine.GenerateBatchAsync(vanillaRequests).ToBlockingEnumerable()) vanillaTokens += r.Result.Tokens.Count;
        var vanillaSeconds = clock.Elapsed.TotalSeconds;
        var vanillaDecoded = engine.Statistics.TokensDecoded - decodedBefore;

        var committed = together.Answers.Sum(a => (long)a.Tokens.Length);
        return new ThroughputResult(
            prompts, leavesPerRound, rain.PromptsAtOnce(), aloneSeconds, together.Total.Seconds, aloneSeconds / together.Total.Seconds,
            alone.Sum(a => a.Statistics.DecodeCalls), together.Total.DecodeCalls, (double)together.Total.DecodeCalls / Math.Max(1, committed), alone.Zip(together.Answers).Count(p => p.First.Tokens.SequenceEqual(p.Second.Tokens)),
            requestedSeconds, alone.Zip(requested).Count(p => p.First.Tokens.SequenceEqual(p.Second.Tokens)), vanillaSeconds, together.Total.Seconds / vanillaSeconds, (double)together.Total.TokensDecoded / Math.Max(1, committed),
            (double)together.Total.ExtensionTokens / Math.Max(1, committed), (double)together.Total.JudgedAnswerTokens / Math.Max(1, committed),
            (double)together.Total.JudgeSuffixTokens / Math.Max(1, committed),
            (double)vanillaDecoded / Math.Max(1, vanillaTokens));
    }

    public sealed record MixedResult(
        int RainRequests, int PlainRequests, double RainAloneSeconds, double PlainAloneSeconds, double TwoEnginesSeconds, double OneEngineSeconds, double Speedup,
        long TwoEnginesDecodeCalls, long OneEngineDecodeCalls, long SearchDecodeCalls, int SameRainAnswers, int SamePlainAnswers);

    /// <summary>
    /// RAIN requests and ordinary completions arriving together, as at a server: on two engines (the searches in a
    /// context of their own beside the completions' engine) and on one engine whose searches take a share of its
    /// context, so their decode calls carry the completions. Flash attention is off in both, so answers compare. Each
    /// workload is also timed alone on the two engines, for what the mix costs.
    /// </summary>
    public static MixedResult Mixed(LlamaModel model, RainJudge judge, int rainRequests, int plainRequests, Action<string>? log = null, int maxNewTokens = 40)
    {
        var requests = TestbedRequests.Generate(true, rainRequests / 2, 93).Concat(TestbedRequests.Generate(false, rainRequests - rainRequests / 2, 93)).ToList();
        var options = new RainOptions { MaxNewTokens = maxNewTokens, StopStrings = ["\n\n"], FlashAttention = false };
        var plain = TestbedRequests.Generate(false, plainRequests, 94).Select((r, i) => new GenerationRequest
        {
            Prompt = TestbedPrompts.Plain(r), MaxNewTokens = maxNewTokens, StopStrings = ["\n\n"], Sampling = new SamplingOptions { Temperature = 1, Seed = (ulong)i },
        }).ToList();
        const int Parallel = 16, PlainCells = 4096;
        const int RainSequences = LlamaRainModel.Sequences - (Parallel + 1);

        (double Seconds, RainResult[] Rain, GenerationResult[] Plain) Serve(GenerationEngine engine, RainDecoder rain, bool searches = true, bool completions = true)
        {
            rain.Generate(TestbedPrompts.Plain(requests[0]), requests[0], options with { MaxNewTokens = 2 }); // warm up
            using var scheduler = new RainScheduler(rain);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var rainTasks = searches ? requests.Select((r, i) => Task.Run(() => scheduler.GenerateAsync(TestbedPrompts.Plain(r), r, options with { Seed = (ulong)i }))).ToList() : [];
            var plainTasks = completions ? plain.Select(r => Task.Run(() => engine.GenerateAsync(r))).ToList() : [];
            var rainAnswers = Task.WhenAll(rainTasks).GetAwaiter().GetResult();
            var plainAnswers = Task.WhenAll(plainTasks).GetAwaiter().GetResult();
            return (clock.Elapsed.TotalSeconds, rainAnswers, plainAnswers);
        }

        log?.Invoke($"{rainRequests} RAIN requests and {plainRequests} completions on two engines");
        double twoSeconds, rainAlone, plainAlone;
        long twoCalls;
        RainResult[] twoRain;
        GenerationResult[] twoPlain;
        using (var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = PlainCells, MaxSequences = Parallel + 1 }, MaxParallel = Parallel }))
        using (var rain = new RainDecoder(model, judge, options))
        {
            rainAlone = Serve(engine, rain, completions: false).Seconds;
            plainAlone = Serve(engine, rain, searches: false).Seconds;
            var before = engine.Statistics.DecodeCalls + rain.RainModel.Share.DecodeCalls;
            (twoSeconds, twoRain, twoPlain) = Serve(engine, rain);
            twoCalls = engine.Statistics.DecodeCalls + rain.RainModel.Share.DecodeCalls - before;
        }

        log?.Invoke($"{rainRequests} RAIN requests and {plainRequests} completions on one engine");
        using var shared = new GenerationEngine(model, new EngineOptions
        {
            Context = new ContextOptions { ContextSize = PlainCells + options.ContextSize, MaxSequences = LlamaRainModel.Sequences, Embeddings = true },
            MaxParallel = Parallel,
        });
        using var onShared = new RainDecoder(shared, judge, options, RainSequences);
        var callsBefore = shared.Statistics.DecodeCalls;
        var searchBefore = onShared.RainModel.Share.DecodeCalls;
        var (oneSeconds, oneRain, onePlain) = Serve(shared, onShared);
        return new MixedResult(rainRequests, plainRequests, rainAlone, plainAlone, twoSeconds, oneSeconds, twoSeconds / oneSeconds, twoCalls, shared.Statistics.DecodeCalls - callsBefore,
            onShared.RainModel.Share.DecodeCalls - searchBefore, twoRain.Zip(oneRain).Count(p => p.First.Tokens.SequenceEqual(p.Second.Tokens)),
            twoPlain.Zip(onePlain).Count(p => p.First.Tokens.SequenceEqual(p.Second.Tokens)));
    }
}
