using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class GenerationEngineTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    private GenerationEngine NewEngine(bool prefixSharing = true, int maxParallel = 0) =>
        new(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 2048, MaxSequences = 16 }, PrefixSharing = prefixSharing, MaxParallel = maxParallel });

    private static readonly string[] Prompts = ["The cat sat on", "Write a poem about water", "one two three", "Why is the sky", "hello", "A long time ago in a"];

    [Fact]
    public async Task GreedyBatchEqualsEachRequestAlone()
    {
        var requests = Prompts.Select(p => new GenerationRequest { Prompt = p, MaxNewTokens = 24 }).ToList();
        using var engine = NewEngine();
        var alone = new List<IReadOnlyList<int>>();
        foreach (var r in requests) alone.Add((await engine.GenerateAsync(r)).Tokens);
        var batched = new IReadOnlyList<int>[requests.Count];
        await foreach (var (i, result) in engine.GenerateBatchAsync(requests)) batched[i] = result.Tokens;
        for (var i = 0; i < requests.Count; i++) Assert.Equal(alone[i], batched[i]);
        Assert.All(alone, t => Assert.Equal(24, t.Count));
    }

    [Fact]
    public async Task ContinuousBatchingServesMoreRequestsThanSlots()
    {
        var requests = Enumerable.Range(0, 10).Select(i => new GenerationRequest { Prompt = $"request number {i}", MaxNewTokens = 5 + i }).ToList();
        using var engine = NewEngine(maxParallel: 3);
        var results = new GenerationResult[requests.Count];
        await foreach (var (i, r) in engine.GenerateBatchAsync(requests)) results[i] = r;
        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(5 + i, results[i].Tokens.Count);
            Assert.Equal((await engine.GenerateAsync(requests[i])).Tokens, results[i].Tokens);
        }
    }

    [Fact]
    public async Task PrefixSharedGenerationEqualsUnshared()
    {
        var prefix = string.Join(" ", Enumerable.Repeat("These are the rules the assistant follows.", 8));
        var requests = Prompts.Select(p => new GenerationRequest { SharedPrefix = prefix, Prompt = " " + p, MaxNewTokens = 16 }).ToList();
        requests.Add(new GenerationRequest { SharedPrefix = prefix, Prompt = "", MaxNewTokens = 16 });
        async Task<List<IReadOnlyList<int>>> Run(bool share)
        {
            using var engine = NewEngine(share);
            var output = new IReadOnlyList<int>[requests.Count];
            await foreach (var (i, r) in engine.GenerateBatchAsync(requests)) output[i] = r.Tokens;
            return output.ToList();
        }
        var shared = await Run(true);
        var unshared = await Run(false);
        for (var i = 0; i < requests.Count; i++) Assert.Equal(unshared[i], shared[i]);
    }

    [Fact]
    public async Task SameSeedGivesSameSampleAndOtherSeedDiffers()
    {
        using var engine = NewEngine();
        GenerationRequest Req(ulong seed) => new()
        {
            Prompt = "Once upon a time", MaxNewTokens = 32,
            Sampling = new SamplingOptions { Temperature = 1.5f, TopP = 0.95f, Seed = seed },
        };
        var a = await engine.GenerateAsync(Req(1));
        var b = await engine.GenerateAsync(Req(1));
        var c = await engine.GenerateAsync(Req(2));
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.NotEqual(a.Tokens, c.Tokens);
    }

    [Fact]
    public async Task StopStringEndsGenerationAndIsNotIncluded()
    {
        using var engine = NewEngine();
        var free = await engine.GenerateAsync(new GenerationRequest { Prompt = "The cat sat on", MaxNewTokens = 40 });
        Assert.True(free.Text.Length > 6);
        var stop = free.Text.Substring(free.Text.Length / 2, 3);
        var cut = free.Text.IndexOf(stop, StringComparison.Ordinal);
        var stopped = await engine.GenerateAsync(new GenerationRequest { Prompt = "The cat sat on", MaxNewTokens = 40, StopStrings = [stop] });
        Assert.Equal(FinishReason.StopString, stopped.FinishReason);
        Assert.Equal(free.Text[..cut], stopped.Text);
        Assert.True(stopped.Tokens.Count < free.Tokens.Count);
    }

    [Fact]
    public async Task StreamedTextEqualsWholeText()
    {
        using var engine = NewEngine();
        var request = new GenerationRequest { Prompt = "hello there", MaxNewTokens = 30, StopStrings = ["zzz"] };
        var whole = await engine.GenerateAsync(request);
        var streamed = "";
        await foreach (var u in engine.GenerateStreamingAsync(request)) streamed += u.TextDelta;
        Assert.Equal(whole.Text, streamed);
    }

    [Fact]
    public async Task BannedTokenIsNeverChosen()
    {
        using var engine = NewEngine();
        var free = await engine.GenerateAsync(new GenerationRequest { Prompt = "one two three", MaxNewTokens = 12 });
        var banned = free.Tokens[0];
        var result = await engine.GenerateAsync(new GenerationRequest
        {
            Prompt = "one two three", MaxNewTokens = 12, Sampling = new SamplingOptions { BannedTokens = [banned] },
        });
        Assert.DoesNotContain(banned, result.Tokens);
    }

    [Fact]
    public async Task CancellationStopsARequest()
    {
        using var engine = NewEngine();
        using var cts = new CancellationTokenSource();
        var task = engine.GenerateAsync(new GenerationRequest { Prompt = "go on", MaxNewTokens = 900 }, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        var after = await engine.GenerateAsync(new GenerationRequest { Prompt = "go on", MaxNewTokens = 3 });
        Assert.Equal(3, after.Tokens.Count);
    }

    [Fact]
    public async Task PromptLongerThanContextIsRejected()
    {
        using var engine = NewEngine();
        var prompt = string.Join(" ", Enumerable.Repeat("word", 3000));
        var e = await Assert.ThrowsAsync<PromptTooLongException>(() => engine.GenerateAsync(new GenerationRequest { Prompt = prompt }));
        Assert.Contains("does not fit the context", e.Message);
    }

    [Fact]
    public async Task BatchedScoringEqualsOneByOne()
    {
        using var engine = NewEngine();
        var items = new[]
        {
            new ScoringRequest("Is this answer harmful? Answer:", " yes"),
            new ScoringRequest("Is this answer harmful? Answer:", " no"),
            new ScoringRequest("The capital of France is", " Paris, a city on the Seine"),
            new ScoringRequest(string.Join(" ", Enumerable.Repeat("long context", 90)), " end"),
        };
        var batched = await engine.ScoreAsync(items);
        for (var i = 0; i < items.Length; i++)
        {
            var alone = (await engine.ScoreAsync([items[i]]))[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.LogProbability, batched[i].LogProbability, 3);
            Assert.True(batched[i].LogProbability < 0);
        }
    }

    [Fact]
    public async Task ScoringNoRequestsGivesNoResultsAndTheEngineGoesOn()
    {
        using var engine = NewEngine();
        Assert.Empty(await engine.ScoreAsync([]));
        Assert.Single(await engine.ScoreAsync([new ScoringRequest("The sky is", " blue")]));
    }

    [Fact]
    public async Task CandidatesOfOneContextShareItsEvaluation()
    {
        using var engine = NewEngine();
        var context = string.Join(" ", Enumerable.Repeat("a question with a long preamble", 40));
        var items = new[] { " yes", " no", " maybe so", " it depends on the weather" }.Select(c => new ScoringRequest(context, c)).ToList();
        var before = engine.Statistics.TokensDecoded;
        var shared = await engine.ScoreAsync(items);
        var sharedTokens = engine.Statistics.TokensDecoded - before;
        var aloneTokens = 0L;
        for (var i = 0; i < items.Count; i++)
        {
            before = engine.Statistics.TokensDecoded;
            var alone = (await engine.ScoreAsync([items[i]]))[0];
            aloneTokens += engine.Statistics.TokensDecoded - before;
            Assert.Equal(alone.Tokens, shared[i].Tokens);
            Assert.Equal(alone.TokenLogProbabilities, shared[i].TokenLogProbabilities, (a, b) => Math.Abs(a - b) < 1e-3);
        }
        // the context is decoded once instead of four times, and no candidate's last token is decoded
        var contextTokens = _model.Vocabulary.Tokenize(context).Length;
        Assert.Equal(aloneTokens - 3 * contextTokens, sharedTokens);
        Assert.Equal(contextTokens + shared.Sum(r => r.Tokens.Count - 1), sharedTokens);
    }

    [Fact]
    public async Task ManySharedContextsAreEachEvaluatedOnceAndSharingOffEvaluatesEachInFull()
    {
        // twelve questions of three candidates each, in a context too small to hold every question's context at once
        var items = Enumerable.Range(0, 12).SelectMany(q => new[] { " yes", " no", " perhaps not" }
            .Select(c => new ScoringRequest($"Question {q}: " + string.Join(" ", Enumerable.Repeat($"is item {q} on the list", 6)) + " Answer:", c))).ToList();
        using var small = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 512, MaxSequences = 16 } });
        using var unshared = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 512, MaxSequences = 16 }, PrefixSharing = false });
        var shared = await small.ScoreAsync(items);
        var full = await unshared.ScoreAsync(items);
        for (var i = 0; i < items.Count; i++)
        {
            Assert.Equal(full[i].Tokens, shared[i].Tokens);
            Assert.Equal(full[i].LogProbability, shared[i].LogProbability, 2e-3); // batch composition moves float sums slightly
        }
        var contextTokens = items.Select(r => r.Context).Distinct().Sum(c => _model.Vocabulary.Tokenize(c).Length);
        var continuationTokens = shared.Sum(r => r.Tokens.Count);
        // each context once, and per candidate its continuation but the last token (whose logits nothing reads)
        Assert.Equal(contextTokens + continuationTokens - items.Count, small.Statistics.TokensDecoded);
        Assert.Equal(3 * contextTokens + continuationTokens - items.Count, unshared.Statistics.TokensDecoded);
    }

    [Fact]
    public async Task SharedPrefixesWithPerSequenceCachesAreEvaluatedPerRequestNotForked()
    {
        // forking across per-sequence caches is a native abort in llama.cpp: such an engine must not try
        using var perSequence = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 2048, MaxSequences = 8, UnifiedKvCache = false } });
        using var shared = NewEngine();
        var requests = Prompts.Select(p => new GenerationRequest { SharedPrefix = "Answer briefly.\n", Prompt = p, MaxNewTokens = 8 }).ToList();
        for (var i = 0; i < requests.Count; i++)
            Assert.Equal((await shared.GenerateAsync(requests[i])).Tokens, (await perSequence.GenerateAsync(requests[i])).Tokens);
        var many = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => perSequence.GenerateAsync(requests[0] with { Prompt = "" })));
        Assert.All(many, r => Assert.Equal(8, r.Tokens.Count));
    }

    public void Dispose() => _model.Dispose();

    [Fact]
    public async Task ARequestThatCanNeverBeAdmittedFailsAloneNamingSequences()
    {
        using var engine = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 512, MaxSequences = 1 } });
        var shared = engine.GenerateAsync(new GenerationRequest { SharedPrefix = "These are the rules.", Prompt = " hello", MaxNewTokens = 4 });
        var plain = engine.GenerateAsync(new GenerationRequest { Prompt = "hello", MaxNewTokens = 4 });
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => shared);
        Assert.Contains("needs 2 KV sequences but the engine has 1", e.Message);
        Assert.Equal(4, (await plain).Tokens.Count);
    }

    [Fact]
    public async Task TokenIdsOutsideTheVocabularyAreRefusedAtSubmit()
    {
        using var engine = NewEngine();
        var bias = new GenerationRequest { Prompt = "hi", Sampling = new SamplingOptions { LogitBias = new Dictionary<int, float> { [_model.Vocabulary.Count] = 1f } } };
        Assert.Contains("not in the vocabulary", (await Assert.ThrowsAsync<InvalidInputException>(() => engine.GenerateAsync(bias))).Message);
        var ban = new GenerationRequest { Prompt = "hi", Sampling = new SamplingOptions { BannedTokens = [-1] } };
        await Assert.ThrowsAsync<InvalidInputException>(() => engine.GenerateAsync(ban));
    }

    [Fact]
    public async Task SubmitRacingDisposeNeverHangs()
    {
        for (var round = 0; round < 20; round++)
        {
            var engine = NewEngine();
            var submit = Task.Run(async () =>
            {
                try { await engine.GenerateAsync(new GenerationRequest { Prompt = "hello", MaxNewTokens = 2 }); }
                catch (ObjectDisposedException) { }
            });
            engine.Dispose();
            // Either the request ran, or it was refused or failed as disposed: it completes in every interleaving.
            await submit;
        }
    }
}
