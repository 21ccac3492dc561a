using SelfAlign.Generation;
using Xunit;

namespace SelfAlign.Tests.Generation;

/// <summary>Sampler maths on hand-made distributions (4 to 6 tokens, and one flat over a large vocabulary); no model needed.</summary>
public class TokenSamplerTests
{
    private static readonly float[] Logits = [1f, 3f, 2f, 0f];

    [Fact]
    public void GreedyPicksArgmax() => Assert.Equal(1, new TokenSampler(SamplingOptions.Greedy).Sample(Logits, []));

    [Fact]
    public void BannedTokenAndBiasChangeTheChoice()
    {
        Assert.Equal(2, new TokenSampler(new SamplingOptions { BannedTokens = [1] }).Sample(Logits, []));
        Assert.Equal(3, new TokenSampler(new SamplingOptions { LogitBias = new Dictionary<int, float> { [3] = 5f } }).Sample(Logits, []));
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.3f)]
    public void ALogitBiasOfAHundredGivesProbabilitiesNotNaN(float temperature)
    {
        // OpenAI's logit_bias goes to 100: e^100 overflows a float unless the softmax shifts by the largest logit first
        var p = new float[4];
        LogitMath.Softmax([1f, 3f, 2f, 100f], temperature, p);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
        Assert.Equal(1f, p[3], 1e-6f);
        var s = new TokenSampler(new SamplingOptions { Temperature = temperature, TopP = 0.9f, Seed = 6, LogitBias = new Dictionary<int, float> { [0] = 100f } });
        for (var i = 0; i < 50; i++) Assert.Equal(0, s.Sample(Logits, []));
    }

    [Fact]
    public void TopKOneIsGreedyAtAnyTemperature()
    {
        var s = new TokenSampler(new SamplingOptions { Temperature = 5f, TopK = 1, Seed = 3 });
        for (var i = 0; i < 50; i++) Assert.Equal(1, s.Sample(Logits, []));
    }

    [Fact]
    public void TopPKeepsSmallestSetReachingP()
    {
        // softmax([1,3,2,0]) = [.087,.644,.237,.032]: top-p 0.7 keeps tokens 1 and 2 only.
        var s = new TokenSampler(new SamplingOptions { Temperature = 1f, TopP = 0.7f, Seed = 9 });
        var seen = Enumerable.Range(0, 400).Select(_ => s.Sample(Logits, [])).ToHashSet();
        Assert.Equal([1, 2], seen.Order());
    }

    [Fact]
    public void TopPOnAFlatLargeVocabularyKeepsExactlyTheSmallestSetReachingP()
    {
        // 150,000 tokens, logits falling slowly in reverse index order (so the most likely are the highest ids): top-p 0.9
        // needs tens of thousands of them, past the top-m heap, where the sampler sorts everything instead
        const int vocabulary = 150_000;
        var logits = Enumerable.Range(0, vocabulary).Select(i => -(vocabulary - 1 - i) * 2e-5f).ToArray();
        var p = logits.Select(x => Math.Exp(x)).ToArray();
        var total = p.Sum();
        var (mass, kept) = (0.0, 0);
        while (mass < 0.9 * total) mass += p[vocabulary - 1 - kept++];
        var s = new TokenSampler(new SamplingOptions { Temperature = 1f, TopP = 0.9f, Seed = 4 });
        var draws = Enumerable.Range(0, 3000).Select(_ => s.Sample(logits, [])).ToList();
        Assert.True(kept > 4096, $"{kept} tokens kept");
        Assert.All(draws, t => Assert.True(t >= vocabulary - kept, $"token {t} is outside the {kept} most likely"));
        // and the whole kept set is in play, up to its least likely end
        Assert.InRange(draws.Min(), vocabulary - kept, vocabulary - kept + kept / 20);
    }

    [Fact]
    public void MinPDropsUnlikelyTokens()
    {
        // p(2)/p(1) = e^-1 = .37 survives min-p 0.3; p(0)/p(1) = .135 does not.
        var s = new TokenSampler(new SamplingOptions { Temperature = 1f, MinP = 0.3f, Seed = 5 });
        var seen = Enumerable.Range(0, 400).Select(_ => s.Sample(Logits, [])).ToHashSet();
        Assert.Equal([1, 2], seen.Order());
    }

    [Fact]
    public void SampleFrequenciesFollowTheDistribution()
    {
        var s = new TokenSampler(new SamplingOptions { Temperature = 1f, Seed = 1 });
        var counts = new int[4];
        for (var i = 0; i < 20000; i++) counts[s.Sample(Logits, [])]++;
        Assert.InRange(counts[1] / 20000.0, 0.62, 0.67);
        Assert.InRange(counts[2] / 20000.0, 0.22, 0.26);
    }

    [Fact]
    public void RepetitionAndFrequencyPenaltiesLowerRepeatedTokens()
    {
        Assert.Equal(2, new TokenSampler(new SamplingOptions { RepetitionPenalty = 2f }).Sample(Logits, [1]));
        Assert.Equal(1, new TokenSampler(new SamplingOptions { FrequencyPenalty = 0.6f }).Sample(Logits, [1]));
        Assert.Equal(2, new TokenSampler(new SamplingOptions { FrequencyPenalty = 0.6f }).Sample(Logits, [1, 1]));
    }

    [Fact]
    public void NGramPenaltyCountsEachEarlierOccurrence()
    {
        var x = new float[6];
        // History 4 5 1 | 4 5 2 | 4 5 : the trigram context "4 5" was followed by 1 and by 2 before.
        TokenSampler.ApplyNGramPenalty(x, [4, 5, 1, 4, 5, 2, 4, 5], 3, 1.5f);
        Assert.Equal([0f, -1.5f, -1.5f, 0f, 0f, 0f], x);
        var y = new float[6];
        // Unigram penalty is plain frequency: token 4 and 5 occurred three and two times.
        TokenSampler.ApplyNGramPenalty(y, [4, 5, 4, 5, 4], 1, 1f);
        Assert.Equal([0f, 0f, 0f, 0f, -3f, -2f], y);
        // restricted to word starts, only those candidates are lowered
        var z = new float[6];
        TokenSampler.ApplyNGramPenalty(z, [4, 5, 1, 4, 5, 2, 4, 5], 3, 1.5f, [false, false, true, false, false, false]);
        Assert.Equal([0f, 0f, -1.5f, 0f, 0f, 0f], z);
    }

    [Fact]
    public void TopIndicesAreOrderedLargestFirst() =>
        Assert.Equal([1, 2, 0], TokenSampler.TopIndices(Logits, 3));

    [Fact]
    public void InvalidOptionsNameTheOption()
    {
        Assert.Contains("top-p", Assert.Throws<InvalidInputException>(() => new SamplingOptions { TopP = 0 }.Validate()).Message);
        Assert.Contains("temperature", Assert.Throws<InvalidInputException>(() => new SamplingOptions { Temperature = -1 }.Validate()).Message);
    }
}
