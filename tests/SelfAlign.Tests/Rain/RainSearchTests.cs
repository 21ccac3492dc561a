using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

public class RainSearchTests
{
    private static RainOptions Options(int leaves = 1) => new() { LeavesPerRound = leaves, MaxNewTokens = 12, Seed = 3 };

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void SearchAvoidsTheBranchTheJudgeRejectsEvenWhenItIsTheLikeliest(int leaves)
    {
        var model = new ScriptedRainModel { Rejected = [1] }; // 'b', the most likely token at every step
        var result = new RainSearch(model, Options(leaves)).Run();
        // The next likeliest first token, then (nothing else being rejected) the likeliest tokens until the model ends.
        Assert.Equal([2, 1, 1, 1, 1, 1], result.Tokens);
        Assert.Equal(3, result.Statistics.Commits); // token sets of 1, 2 and 4, the last cut by the end token
        Assert.Contains(model.Judged, a => a.Length > 0 && a[0] == 1); // it did look into the rejected branch
    }

    [Fact]
    public void WithoutRejectionsTheSearchCommitsTheLikeliestTokens()
    {
        var result = new RainSearch(new ScriptedRainModel(), Options()).Run();
        Assert.Equal([1, 1, 1, 1, 1, 1], result.Tokens);
        Assert.Equal(3, result.Statistics.Commits);
    }

    /// <summary>
    /// Rollouts are sampled: a node whose addition found only children it had tries again at its next descent. The
    /// rollouts of an addition go with the round's other work, so the child is there after the round.
    /// </summary>
    [Fact]
    public void ChildAdditionByRolloutTriesAgainAtTheNextDescentAfterFindingNothingNew()
    {
        var model = new RolloutScript([[[1, 1], [1, 1]], [[1, 1], [2, 2]]]);
        var search = new RainSearch(model, Options() with { Similarity = RainSimilarity.Model });
        var root = new RainNode([], [], 1, 0) { Expanded = true };
        var node = new RainNode([1], [1], 1, 1, root) { Expanded = true };
        var child = new RainNode([1, 1], [1, 1, 1], 1, 2, node) { RealVisits = 1, Visits = 1, Value = -0.5, Embedding = [1, 0] };
        root.Children.Add(node);
        node.Children.Add(child);
        var tree = new RainTree(root, Options());

        search.Round(tree, 1); // the first rollouts hold only the child it has
        Assert.Single(node.Children);
        search.Round(tree, 1); // asked again, the second finds a new one
        Assert.Equal(2, node.Children.Count);
        Assert.Equal([2, 2], node.Children[1].Tokens);
        Assert.Equal(2, model.Additions);
    }

    /// <summary>
    /// Additions' rollouts (two sequences) come from a script, one list per request; every other extension is one
    /// token; every answer is judged bad and every continuation embeds alike, so the node keeps asking for children.
    /// </summary>
    private sealed class RolloutScript(int[][][] rollouts) : IRainModel
    {
        public int Additions { get; private set; }
        public IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests) =>
            requests.Select(r => new RainExtension(r is { Kind: RainExtendKind.Rollouts, Count: 2 }
                ? rollouts[Additions++].Select(t => (t, 0.5)).ToList()
                : [([7], 0.5)])).ToList();
        public IReadOnlyList<RainJudgement> Judge(IReadOnlyList<int[]> answers) => answers.Select(_ => new RainJudgement([0.0], [5.0])).ToList();
        public IReadOnlyList<float[]?> Embed(int[] answer, IReadOnlyList<int> starts) => starts.Select(_ => (float[]?)[1f, 0f]).ToList();
        public string Text(ReadOnlySpan<int> tokens) => string.Join(",", tokens.ToArray());
        public bool IsEndOfGeneration(int token) => false;
    }

    /// <summary>Continuations that all embed alike and all look bad: siblings credit each other and nodes ask for more children.</summary>
    [Fact]
    public void SimilarityCreditAndChildAdditionFireInsideASearch()
    {
        var result = new RainSearch(new ScriptedRainModel { RejectAll = true, Alike = true }, Options() with { MaxNewTokens = 7 }).Run();
        Assert.True(result.Statistics.SimilarityCredits > 0);
        Assert.True(result.Statistics.ChildrenAdded > 0);
        Assert.True(result.Statistics.ChildAdditionsTried >= result.Statistics.ChildrenAdded);

        var apart = new RainSearch(new ScriptedRainModel { RejectAll = true }, Options() with { MaxNewTokens = 7 }).Run();
        Assert.Equal(0, apart.Statistics.SimilarityCredits);
        Assert.True(apart.Statistics.ChildAdditionsTried < result.Statistics.ChildAdditionsTried,
            $"{apart.Statistics.ChildAdditionsTried} additions tried when siblings differ, {result.Statistics.ChildAdditionsTried} when alike");
    }

    /// <summary>The answer and every judged text end before a stop string; a node whose text reaches one is final.</summary>
    [Fact]
    public void StopStringsCutTheAnswerAndEveryJudgedText()
    {
        var model = new ScriptedRainModel();
        var result = new RainSearch(model, Options() with { StopStrings = ["bb"] }).Run();
        var full = model.Text(result.Tokens); // the likeliest tokens spell "bbb..."
        Assert.Contains("bb", full);
        Assert.Equal(full[..full.IndexOf("bb", StringComparison.Ordinal)], result.Text);
        Assert.NotEmpty(model.Judged);
        Assert.All(model.Judged, a => Assert.DoesNotContain("bb", model.Text(a)));
    }

    /// <summary>Continuous scoring reads how far the good label leads in each order, and steers the search like the vote.</summary>
    [Fact]
    public void ContinuousScoringMapsTheLabelsMarginToMinusOneToOneAndAvoidsTheRejectedBranch()
    {
        var even = new RainJudgement([1.0, 1.0], [1.0, 1.0]);
        Assert.Equal(0, RainSearch.Value(even, RainScoring.Continuous), 9);
        var leaning = new RainJudgement([2.0, 0.0], [0.0, 0.0]);
        // orders: sigmoid(2) and sigmoid(0) averaged, then mapped from [0, 1]
        Assert.Equal(2 * ((1 / (1 + Math.Exp(-2)) + 0.5) / 2) - 1, RainSearch.Value(leaning, RainScoring.Continuous), 9);
        Assert.Equal(0, RainSearch.Value(leaning, RainScoring.Vote), 9);
        var result = new RainSearch(new ScriptedRainModel { Rejected = [1] }, Options() with { Scoring = RainScoring.Continuous }).Run();
        Assert.Equal(2, result.Tokens[0]);
    }

    [Fact]
    public void SameSeedGivesTheSameAnswer()
    {
        var a = new RainSearch(new ScriptedRainModel { Rejected = [1] }, Options(4)).Run();
        var b = new RainSearch(new ScriptedRainModel { Rejected = [1] }, Options(4)).Run();
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal((a.Statistics.Iterations, a.Statistics.Rounds, a.Statistics.Evaluations), (b.Statistics.Iterations, b.Statistics.Rounds, b.Statistics.Evaluations));
    }

    [Fact]
    public void SearchRunsUntilNoOtherChildCanWinWhenNothingPassesTheThresholdAndStopsEarlyWhenItDoes()
    {
        var one = Options() with { MaxNewTokens = 1 };
        var hopeless = new RainSearch(new ScriptedRainModel { RejectAll = true }, one).Run();
        // no value passes V, so only the visit lead ends the search before Tmax
        Assert.InRange(hopeless.Statistics.Iterations, one.MaxIterations / 2, one.MaxIterations);
        Assert.Equal(1, hopeless.Statistics.Commits);

        var easy = new RainSearch(new ScriptedRainModel(), one).Run();
        // the root's evaluation, then more than Tmin visits of the best child, then the early stop
        Assert.InRange(easy.Statistics.Iterations, one.MinIterations + 2, one.MaxIterations - 1);
    }

    [Fact]
    public void SelfEvaluationsAreCachedByTokenPath()
    {
        var model = new ScriptedRainModel();
        var result = new RainSearch(model, Options()).Run();
        Assert.Equal(model.Judged.Count, model.Judged.Select(RainSearch.Key).Distinct().Count());
        Assert.True(result.Statistics.EvaluationCacheHits > 0);
        Assert.Equal(result.Statistics.Iterations, result.Statistics.Evaluations + result.Statistics.EvaluationCacheHits);
    }

    [Fact]
    public void EndOfGenerationEndsTheAnswer()
    {
        var result = new RainSearch(new ScriptedRainModel { EndAfter = 3 }, Options() with { MaxNewTokens = 40 }).Run();
        Assert.True(result.Tokens.Length <= 3 + 10, $"{result.Tokens.Length} tokens");
        Assert.DoesNotContain(ScriptedRainModel.End, result.Tokens);
    }

    [Fact]
    public void RolloutPriorsDropDuplicatesAndClampTheGreedyCandidate()
    {
        var priors = RainSearch.RolloutPriors([([1, 2], 0.9), ([3, 4], 0.05), ([1, 2], 0.9), ([5, 6], 0.01)]);
        Assert.Equal(3, priors.Count);
        // greedy 0.9 clamped to max(min(0.9, 0.06), 0.05 + 0.01) = 0.06, then all normalised by 0.12
        Assert.Equal(0.5, priors[0].Prior, 6);
        Assert.Equal(0.05 / 0.12, priors[1].Prior, 6);
        Assert.Equal(1.0, priors.Sum(p => p.Prior), 9);
    }
}
