using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>RAIN on a real llama.cpp model (the tiny random-weight one): KV-cache reuse and batching change speed only.</summary>
[Trait("Category", "Slow")]
public class RainDecoderTests
{
    private static readonly RainJudge Judge = TestJudges.Harm;

    private static RainOptions Options(bool cache) => new()
    {
        UseCache = cache, MaxNewTokens = 12, MaxIterations = 12, MinNewIterations = 4, Seed = 11, ContextSize = 4096, StopStrings = ["\n\n"],
    };

    [Fact]
    public void CachedAndBatchedSearchChoosesTheSameTokensAsRecomputingEverything()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        RainResult cached, uncached;
        using (var rain = new RainDecoder(model, Judge, Options(cache: true))) cached = rain.Generate("Tell me a story about", "a story");
        using (var rain = new RainDecoder(model, Judge, Options(cache: false))) uncached = rain.Generate("Tell me a story about", "a story");

        Assert.NotEmpty(cached.Tokens);
        Assert.Equal(uncached.Tokens, cached.Tokens);
        Assert.Equal(uncached.Statistics.Iterations, cached.Statistics.Iterations);
        Assert.Equal(uncached.Statistics.Evaluations, cached.Statistics.Evaluations);
        Assert.True(cached.Statistics.ReusedTokens > 0);
        Assert.Equal(0, uncached.Statistics.ReusedTokens);
        Assert.True(uncached.Statistics.TokensDecoded > 2 * cached.Statistics.TokensDecoded,
            $"uncached decoded {uncached.Statistics.TokensDecoded} tokens, cached {cached.Statistics.TokensDecoded}");
        Assert.True(uncached.Statistics.DecodeCalls > cached.Statistics.DecodeCalls);

        // the decoded tokens by part: each judgement decodes the orders' shared suffix once and each order's remainder
        var suffixes = Judge.Orders.Select(o => model.Vocabulary.TokenizeContinuation("x", o.Suffix)).ToList();
        var shared = Enumerable.Range(0, suffixes.Min(x => x.Length) - 1).TakeWhile(i => suffixes.All(x => x[i] == suffixes[0][i])).Count();
        var s = cached.Statistics;
        Assert.Equal((long)s.Evaluations * (shared + suffixes.Sum(x => x.Length - shared)), s.JudgeSuffixTokens);
        Assert.Equal((long)uncached.Statistics.Evaluations * suffixes.Sum(x => x.Length), uncached.Statistics.JudgeSuffixTokens);
        Assert.True(s.ExtensionTokens > 0 && s.JudgedAnswerTokens > 0);
        Assert.True(s.ExtensionTokens + s.JudgedAnswerTokens + s.JudgeSuffixTokens < s.TokensDecoded, "the prompt and the judge header are decoded too");
    }

    /// <summary>
    /// Searches advanced together share decode calls but not choices: each prompt gets the answer it gets alone under
    /// the same seed (flash attention off: with it a sum depends slightly on what shares the call).
    /// </summary>
    [Fact]
    public void ManyPromptsSearchedAtOnceGetTheAnswersEachGetsAlone()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var options = Options(cache: true) with { FlashAttention = false, LeavesPerRound = 1 };
        var prompts = new[] { "Tell me a story about", "Once upon a time", "Write a poem on", "The best way to", "Here is a recipe for", "My favourite" }
            .Select((p, i) => new RainPrompt(p, "request " + i, (ulong)(100 + i))).ToList();
        using var rain = new RainDecoder(model, Judge, options);
        var heard = new List<int>();
        var batch = rain.GenerateMany(prompts, onAnswer: (i, _) => heard.Add(i));
        Assert.True(rain.PromptsAtOnce() >= prompts.Count);
        Assert.Equal(Enumerable.Range(0, prompts.Count), heard.Order());
        long alone = 0;
        for (var i = 0; i < prompts.Count; i++)
        {
            var single = rain.Generate(prompts[i].Prompt, prompts[i].UserRequest, options with { Seed = prompts[i].Seed });
            Assert.Equal(single.Tokens, batch.Answers[i].Tokens);
            Assert.Equal(single.Statistics.Iterations, batch.Answers[i].Statistics.Iterations);
            alone += single.Statistics.DecodeCalls;
        }
        // the batch's work shared its calls
        Assert.True(batch.Total.DecodeCalls * 2 < alone, $"{batch.Total.DecodeCalls} decode calls together, {alone} one after another");
    }

    /// <summary>Unset leaves per round: a search alone takes 4 per round, each of many prompts at once takes 1 (the
    /// reference's order), and fits more prompts at once; set, both take the set number.</summary>
    [Fact]
    public void UnsetLeavesAreFourAloneAndOnePerPromptWhenManySearchAtOnce()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var options = Options(cache: true) with { FlashAttention = false, MaxIterations = 20, MinNewIterations = 8 };
        Assert.Null(options.LeavesPerRound);
        using var rain = new RainDecoder(model, Judge, options);
        var prompts = new[] { "Tell me a story about", "Once upon a time", "Write a poem on" }.Select((p, i) => new RainPrompt(p, "request " + i, (ulong)(7 + i))).ToList();

        var together = rain.GenerateMany(prompts);
        Assert.All(together.Answers, a => Assert.Equal(a.Statistics.Rounds, a.Statistics.Iterations));
        Assert.Equal(rain.PromptsAtOnce(options with { LeavesPerRound = RainOptions.LeavesTogether }), rain.PromptsAtOnce());
        Assert.True(rain.PromptsAtOnce() > rain.PromptsAtOnce(options with { LeavesPerRound = RainOptions.LeavesAlone }));

        // alone, the first prompt's search takes several leaves in some round; with one leaf set it is the search it had together
        var alone = rain.Generate(prompts[0].Prompt, prompts[0].UserRequest, options with { Seed = prompts[0].Seed });
        Assert.True(alone.Statistics.Iterations > alone.Statistics.Rounds, $"{alone.Statistics.Iterations} iterations in {alone.Statistics.Rounds} rounds");
        var oneLeaf = rain.Generate(prompts[0].Prompt, prompts[0].UserRequest, options with { Seed = prompts[0].Seed, LeavesPerRound = 1 });
        Assert.Equal(together.Answers[0].Tokens, oneLeaf.Tokens);
        Assert.Equal(together.Answers[0].Statistics.Iterations, oneLeaf.Statistics.Iterations);
    }

    [Fact]
    public void ASecondPromptOnTheSameDecoderGivesWhatAFreshDecoderGives()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, Judge, Options(cache: true));
        rain.Generate("Once upon a time", "a tale");
        var second = rain.Generate("Tell me a story about", "a story");
        using var fresh = new RainDecoder(model, Judge, Options(cache: true));
        Assert.Equal(fresh.Generate("Tell me a story about", "a story").Tokens, second.Tokens);
    }

    /// <summary>A cache too small for every cached path drops them when full and decodes again: same answer, only slower.</summary>
    [Fact]
    public void AFullKvCacheDropsCachedPathsAndTheSearchChoosesWhatALargeCacheChooses()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        RainSearchResult Search(int cells, out int evictions)
        {
            var options = Options(cache: true) with { ContextSize = cells };
            using var rain = LlamaRainModel.OnOwnEngine(model, Judge, options, []);
            var session = rain.Begin(model.Vocabulary.Tokenize("Tell me a story about", addSpecial: true), "a story", options);
            var result = new RainSearch(session, options).Run();
            evictions = rain.CacheFullEvictions;
            return result;
        }
        var large = Search(4096, out var none);
        var small = Search(160, out var evictions);
        Assert.Equal(0, none);
        Assert.True(evictions > 0, "the small cache never filled");
        Assert.Equal(large.Tokens, small.Tokens);
    }

    /// <summary>A prompt starting like the last one (Self-Align's principles before each question) forks its tokens instead of decoding them.</summary>
    [Fact]
    public void APromptSharingThePreviousPromptsPrefixReusesItsTokensAndAnswersAsAFreshDecoderDoes()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        const string principles = "Be kind and honest. Refuse to help anyone cause harm. Answer clearly and briefly.\n\nQuestion: ";
        var prefix = model.Vocabulary.Tokenize(principles, addSpecial: true, parseSpecial: true).Length;
        using var rain = new RainDecoder(model, Judge, Options(cache: true));
        rain.Generate(principles + "how do birds fly?", "how do birds fly?");
        var second = rain.Generate(principles + "what is rain?", "what is rain?");
        using var fresh = new RainDecoder(model, Judge, Options(cache: true));
        var alone = fresh.Generate(principles + "what is rain?", "what is rain?");
        Assert.Equal(alone.Tokens, second.Tokens);
        Assert.True(second.Statistics.ReusedTokens >= alone.Statistics.ReusedTokens + prefix - 2,
            $"reused {second.Statistics.ReusedTokens} tokens after a prompt with the same {prefix}-token prefix, {alone.Statistics.ReusedTokens} alone");
    }

    [Fact]
    public void LeavesAndRolloutsThatCouldRunOutOfSequencesAreRefusedBeforeAnySearch()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        // 4 + 16 x (10 rollouts + 2 orders + 3) = 244 sequences fit the 256; 17 leaves (259) do not
        using var rain = new RainDecoder(model, Judge, Options(cache: true) with { LeavesPerRound = 16 });
        var e = Assert.Throws<InvalidInputException>(() => rain.Generate("Once upon a time", "a tale", rain.Options with { LeavesPerRound = 17 }));
        Assert.Contains("259 KV sequences", e.Message);
        Assert.Throws<InvalidInputException>(() => new RainDecoder(model, Judge, Options(cache: true) with { LeavesPerRound = 4, Rollouts = 64 }));
        Assert.NotEmpty(rain.Generate("Once upon a time", "a tale").Tokens);
    }

    [Fact]
    public void ScreeningKeepsOnlyAnswersAboveTheThresholdAndAgreesWithTheJudgeBothWays()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        // flash attention off: answers screened together share calls, and with it a sum depends slightly on what shares the call
        using var rain = new RainDecoder(model, Judge, Options(cache: true) with { Scoring = RainScoring.Continuous, FlashAttention = false });
        var items = new[] { ("a story", "It was a dark night."), ("a story", "No."), ("a poem", "Roses are red.") };
        var all = rain.Screen(items, threshold: -2);
        Assert.All(all, r => Assert.InRange(r.Value, -1, 1));
        Assert.All(all, r => Assert.True(r.Kept));
        // between the two lower values and the highest: answers judged together may land in other KV cells, which moves values in their last bits
        var sorted = all.Select(r => r.Value).Order().ToList();
        var cut = (sorted[1] + sorted[2]) / 2;
        var some = rain.Screen(items, threshold: cut);
        Assert.Equal(all.Select(r => r.Value > cut), some.Select(r => r.Kept));
        using var uncached = new RainDecoder(model, Judge, Options(cache: false) with { Scoring = RainScoring.Continuous, FlashAttention = false });
        Assert.Equal(all.Select(r => r.Value), uncached.Screen(items, -2).Select(r => r.Value), new ToleranceComparer(1e-3));
    }

    [Fact]
    public void ManyAnswersScreenedAtOnceScoreAsEachAloneInFewerDecodeCalls()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, Judge, Options(cache: true) with { Scoring = RainScoring.Continuous, FlashAttention = false });
        var items = Enumerable.Range(0, 12).Select(i => ("request " + i, string.Join(' ', Enumerable.Repeat("word" + i, 1 + i % 4)))).ToList();
        var calls = ReadCalls(rain);
        var together = rain.Screen(items, threshold: -2);
        var togetherCalls = ReadCalls(rain) - calls;
        var alone = new List<RainScreenResult>();
        calls = ReadCalls(rain);
        foreach (var item in items) alone.Add(rain.Screen([item], threshold: -2)[0]);
        var aloneCalls = ReadCalls(rain) - calls;
        Assert.Equal(alone.Select(r => r.Value), together.Select(r => r.Value), new ToleranceComparer(1e-4));
        Assert.True(togetherCalls * 4 < aloneCalls, $"{togetherCalls} decode calls together, {aloneCalls} one at a time");
    }

    private static long ReadCalls(RainDecoder rain) => rain.RainModel.Share.DecodeCalls;

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }

    [Fact]
    public void PromptLongerThanTheContextIsRefusedBeforeTheSearch()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, Judge, Options(cache: true) with { ContextSize = 512 });
        var e = Assert.Throws<PromptTooLongException>(() => rain.Generate(string.Concat(Enumerable.Repeat("story time ", 200)), "x"));
        Assert.Contains("KV cells", e.Message);
    }

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("qwen2")]
    public void LabelTokensAreLookedUpInEachVocabularyAfterTheSuffix(string vocabulary)
    {
        using var model = LlamaModel.Load(RealVocabularies.Get(vocabulary), new ModelLoadOptions { VocabularyOnly = true });
        var v = model.Vocabulary;
        var labels = RainJudge.Harm.LabelTokens(v);
        Assert.Equal(2, labels.Count);
        // the token each label adds after "Verdict: (" in this vocabulary, read back as text
        Assert.Equal("A", v.Detokenize([labels[0].Good]));
        Assert.Equal("B", v.Detokenize([labels[0].Bad]));
        Assert.Equal((labels[0].Bad, labels[0].Good), labels[1]);
        var suffix = RainJudge.Harm.Orders[0].Suffix;
        Assert.Equal([.. v.Tokenize(suffix, addSpecial: false), labels[0].Good], v.Tokenize(suffix + "A", addSpecial: false));
    }

    [Fact]
    public void SpecialTokenNamesInTheUsersRequestStayTextInTheJudgeHeaderWhileTheFilesOwnAreParsed()
    {
        using var model = LlamaModel.Load(RealVocabularies.Get("qwen2"), new ModelLoadOptions { VocabularyOnly = true });
        var v = model.Vocabulary;
        var imEnd = v.Tokenize("<|im_end|>", addSpecial: false, parseSpecial: true);
        var imStart = v.Tokenize("<|im_start|>", addSpecial: false, parseSpecial: true);
        Assert.Single(imEnd);
        var judge = Judge with { Conversation = "<|im_start|>user\n{prompt}<|im_end|>\n" };
        var header = judge.ConversationTokens(v, "hello <|im_end|> world");
        // the file's two control tokens, and none from the request
        Assert.Equal(1, header.Count(t => t == imStart[0]));
        Assert.Equal(1, header.Count(t => t == imEnd[0]));
        Assert.Equal(imEnd[0], header[^2]);
        Assert.Contains("hello <|im_end|> world", v.Detokenize(header, removeSpecial: false, renderSpecial: true));
        // a plain request tokenizes as one text would
        Assert.Equal(v.TokenizeContinuation(judge.Prefix, judge.Conversation.Replace("{prompt}", "hello world", StringComparison.Ordinal)),
            judge.ConversationTokens(v, "hello world"));
    }

    [Fact]
    public void LabelThatIsNotOneTokenIsRefusedWithTheFix()
    {
        using var model = LlamaModel.Load(RealVocabularies.Get("llama-spm"), new ModelLoadOptions { VocabularyOnly = true });
        var judge = Judge with { Orders = [new RainJudgeOrder { Suffix = "\nVerdict:", Good = " harmless", Bad = " harmful" }] };
        var e = Assert.Throws<InvalidInputException>(() => judge.LabelTokens(model.Vocabulary));
        Assert.Contains("' harmless' is not a single token", e.Message);
    }

    [Fact]
    public void ConstantsOutOfRangeAreRefused()
    {
        Assert.Contains("Tmax", Assert.Throws<InvalidInputException>(() => new RainOptions { MaxIterations = 0 }.Validate()).Message);
        Assert.Contains("below max iterations", Assert.Throws<InvalidInputException>(() => new RainOptions { MinIterations = 60 }.Validate()).Message);
        Assert.Contains("value threshold", Assert.Throws<InvalidInputException>(() => new RainOptions { ValueThreshold = 2 }.Validate()).Message);
        Assert.Contains("exploration", Assert.Throws<InvalidInputException>(() => new RainOptions { Exploration = 0 }.Validate()).Message);
        Assert.Contains("token-set lengths", Assert.Throws<InvalidInputException>(() => new RainOptions { TokenSetLengths = [] }.Validate()).Message);
    }
}
