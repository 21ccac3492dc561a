using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

public class RainTreeTests
{
    private static readonly RainOptions Options = new();

    private static RainNode Child(RainNode parent, int token, double prior, double visits = 0, double value = 0, float[]? embedding = null)
    {
        var c = new RainNode([token], [.. parent.Path, token], prior, parent.Depth + 1, parent)
        {
            Visits = visits, RealVisits = (int)visits, Value = value, Embedding = embedding,
        };
        parent.Children.Add(c);
        parent.Expanded = true;
        return c;
    }

    [Fact]
    public void PuctScoresUseMinMaxNormalisedValuesAndPriors()
    {
        var root = new RainNode([], [], 1, 0) { Visits = 4, RealVisits = 4 };
        var a = Child(root, 1, 0.5, visits: 2, value: 0.5);
        var b = Child(root, 2, 0.3);
        var c = Child(root, 3, 0.2, visits: 1, value: -1);
        var tree = new RainTree(root, Options);

        Assert.Equal(1.5 / (2 + 1e-5) + 2 * 0.5 * 2 / 3.0, tree.Score(root, a), 9);
        Assert.Equal(2 * 0.3 * 2 / 1.0, tree.Score(root, b), 9); // unvisited: value term 0
        Assert.Equal(0 + 2 * 0.2 * 2 / 2.0, tree.Score(root, c), 9);
        Assert.Same(a, tree.Select(root)); // 0.75 + 0.667 > 1.2 > 0.4
    }

    [Fact]
    public void PendingSelectionsCountAsLossesSoARoundSpreads()
    {
        var root = new RainNode([], [], 1, 0) { Visits = 4, RealVisits = 4 };
        var a = Child(root, 1, 0.5, visits: 2, value: 0.5);
        Child(root, 2, 0.3);
        var tree = new RainTree(root, Options);
        Assert.Same(a, tree.Select(root));
        a.Pending = 2;
        root.Pending = 2;
        Assert.NotSame(a, tree.Select(root));
    }

    [Fact]
    public void BackupUpdatesThePathAndCreditsOnlySimilarSiblings()
    {
        var root = new RainNode([], [], 1, 0);
        var parent = Child(root, 1, 1.0);
        var leaf = Child(parent, 2, 0.5);
        var twin = Child(parent, 3, 0.3, visits: 1, value: -1, embedding: [1, 0, 0]);
        var other = Child(parent, 4, 0.2, visits: 1, value: -1, embedding: [0, 1, 0]);
        var tree = new RainTree(root, Options);

        tree.Backup(leaf, 1.0, [new float[] { 1, 0, 0 }]);

        Assert.Equal(1, leaf.RealVisits);
        Assert.Equal(1.0, leaf.Value, 9);
        Assert.Equal(1, parent.RealVisits);
        Assert.Equal(1, root.RealVisits);
        // the twin (cosine 1) gets n += 0.2 and its mean moves toward the backed-up value
        Assert.Equal(1.2, twin.Visits, 6);
        Assert.Equal((-1 * 1 + 0.2 * 1.0) / 1.2, twin.Value, 6);
        // the orthogonal sibling gets nothing
        Assert.Equal(1.0, other.Visits, 9);
        Assert.Equal(-1.0, other.Value, 9);
        // second backup: running means
        tree.Backup(leaf, -1.0, [new float[] { 0, 0, 1 }]);
        Assert.Equal(0.0, leaf.Value, 9);
        Assert.Equal(new float[] { 0.5f, 0, 0.5f }, leaf.Embedding);
    }

    /// <summary>An iteration adds at most one visit to one child: the leader is safe only when its lead exceeds what is left.</summary>
    [Fact]
    public void LeaderIsSafeOnlyWhenItsLeadExceedsTheIterationsLeft()
    {
        var root = new RainNode([], [], 1, 0);
        Child(root, 1, 0.5, visits: 9, value: -1);
        Child(root, 2, 0.3, visits: 4.5, value: 1);
        Child(root, 3, 0.2, visits: 1, value: 1);
        var tree = new RainTree(root, Options);
        Assert.True(tree.LeaderIsSafe(4));
        Assert.False(tree.LeaderIsSafe(5)); // 4.5 + 5 would pass 9
        Assert.False(new RainTree(new RainNode([], [], 1, 0), Options).LeaderIsSafe(0)); // no children, nothing to commit
    }

    [Fact]
    public void SimilarityOffGivesNoCredit()
    {
        var root = new RainNode([], [], 1, 0);
        var leaf = Child(root, 2, 0.5);
        var twin = Child(root, 3, 0.3, visits: 1, value: -1, embedding: [1, 0]);
        new RainTree(root, Options with { Similarity = RainSimilarity.Off }).Backup(leaf, 1.0, [new float[] { 1, 0 }]);
        Assert.Equal(1.0, twin.Visits, 9);
    }

    [Fact]
    public void CommitKeepsTheSubtreeAndMixesNoiseIntoTheNewRootsPriors()
    {
        var root = new RainNode([], [], 1, 0);
        var best = Child(root, 1, 0.7, visits: 8, value: 0.9);
        Child(root, 2, 0.3, visits: 1, value: 0.1);
        var g1 = Child(best, 5, 0.8, visits: 5, value: 0.9);
        var g2 = Child(best, 6, 0.2, visits: 2, value: 0.5);
        var tree = new RainTree(root, Options);

        Assert.Same(best, tree.BestChild());
        tree.Commit(best);

        Assert.Same(best, tree.Root);
        Assert.Null(best.Parent);
        Assert.Equal([g1, g2], best.Children);
        Assert.Equal(5, g1.RealVisits); // statistics survive the commit
        Assert.Equal(0.75 * 0.8 + 0.25 / 2, g1.Prior, 9);
        Assert.Equal(0.75 * 0.2 + 0.25 / 2, g2.Prior, 9);
    }

    [Theory]
    [InlineData(7, 0.9, true)]
    [InlineData(6, 0.9, false)] // needs more than Tmin = 6 real visits
    [InlineData(7, 0.8, false)] // needs a value above V = 0.8
    public void EarlyStopNeedsMoreThanTminVisitsAndAValueAboveV(int visits, double value, bool stops)
    {
        var root = new RainNode([], [], 1, 0);
        Child(root, 1, 0.5, visits: visits, value: value);
        Child(root, 2, 0.5, visits: 1, value: 1);
        Assert.Equal(stops, new RainTree(root, Options).CanStop());
    }

    [Fact]
    public void ChildrenAreAddedOnlyWhenAllAreBadAndAlike()
    {
        var root = new RainNode([], [], 1, 0);
        var a = Child(root, 1, 0.5, visits: 1, value: -1, embedding: [1, 0]);
        Child(root, 2, 0.5, visits: 1, value: -0.5, embedding: [1, 0.01f]);
        var tree = new RainTree(root, Options);
        Assert.True(tree.NeedsMoreChildren(root));
        a.Value = 0.2;
        Assert.False(tree.NeedsMoreChildren(root)); // one child looks fine
        a.Value = -1;
        a.Embedding = [0, 1];
        Assert.False(tree.NeedsMoreChildren(root)); // children differ
    }
}
