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

    /// <summary>Rollouts are sampled: a node whose addition found only children it had tries again at its next descent.</summary>
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

        search.CollectLeaves(tree, 1); // the first rollouts hold only the child it has
        Assert.Single(node.Children);
        search.CollectLeaves(tree, 1); // asked again, the second finds a new one
        Assert.Equal(2, node.Children.Count);
        Assert.Equal([2, 2], node.Children[1].Tokens);
        Assert.Equal(2, model.Requests);
    }

    /// <summary>Rollouts from a script, one list per request; judging and text are not used.</summary>
    private sealed class RolloutScript(int[][][] rollouts) : IRainModel
    {
        public int Requests { get; private set; }
        public IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests) =>
            requests.Select(r => new RainExtension(rollouts[Requests++].Select(t => (t, 0.5)).ToList())).ToList();
        public IReadOnlyList<RainJudgement> Judge(IReadOnlyList<int[]> answers) => throw new NotSupportedException();
        public string Text(ReadOnlySpan<int> tokens) => string.Join(",", tokens.ToArray());
        public bool IsEndOfGeneration(int token) => false;
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
    public void SearchRunsTmaxIterationsWhenNothingPassesTheThresholdAndStopsEarlyWhenItDoes()
    {
        var one = Options() with { MaxNewTokens = 1 };
        var hopeless = new RainSearch(new ScriptedRainModel { RejectAll = true }, one).Run();
        Assert.Equal(one.MaxIterations, hopeless.Statistics.Iterations);
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
