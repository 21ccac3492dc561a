using SelfAlign.Data;
namespace SelfAlign.Rain;

/// <summary>The answer a search committed, its text, and what the search did.</summary>
public sealed record RainSearchResult(int[] Tokens, string Text, RainStatistics Statistics);

/// <summary>
/// RAIN's search for one answer (docs/methods.md, B.2): rounds of PUCT selection down the tree, expansion of the
/// selected leaves into candidate token sets, simulation to the next punctuation mark, self-evaluation, backup;
/// then commit the most-visited root child and reuse its subtree, until the answer ends. Works on any
/// <see cref="IRainModel"/>; all randomness comes from one seeded stream drawn in a fixed order, so the result
/// does not depend on how the model batches.
/// </summary>
public sealed class RainSearch(IRainModel model, RainOptions options)
{
    private readonly Dictionary<string, double> _evaluated = [];
    /// <summary>Nodes that asked for a child by rollout while this round's leaves were collected.</summary>
    private readonly List<RainNode> _growing = [];
    private Random _random = new(0);
    private int _iterations, _rounds, _commits, _evaluations, _hits, _additionsTried, _childrenAdded, _similarityCredits;
    private long _extendTicks, _judgeTicks;

    /// <summary>Searches from the empty answer until it ends (stop string, end of generation, or the token budget).</summary>
    public RainSearchResult Run(CancellationToken cancellationToken = default)
    {
        _random = Seeds.Random(options.Seed);
        var tree = new RainTree(new RainNode([], [], 1, 0), options);
        while (!tree.Root.Terminal && tree.Root.Path.Length < options.MaxNewTokens)
        {
            var start = tree.Root.RealVisits;
            var limit = Math.Max(options.MaxIterations, start + options.MinNewIterations);
            // the reused subtree may already pass the early-stop test, or leave no other child a chance
            for (var i = start; i < limit && !tree.CanStop() && !tree.LeaderIsSafe(limit - i);)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var leaves = Round(tree, Math.Min(options.Leaves, limit - i));
                i += leaves.Count;
                _iterations += leaves.Count;
                _rounds++;
            }
            if (tree.BestChild() is not { } best) break;
            tree.Commit(best);
            model.Committed(best.Path);
            _commits++;
        }
        _similarityCredits += tree.SimilarityCredits;
        var tokens = tree.Root.Path.Where(t => !model.IsEndOfGeneration(t)).ToArray();
        var text = model.Text(tokens);
        var stop = options.FindStop(text);
        return new RainSearchResult(tokens, stop >= 0 ? text[..stop] : text, new RainStatistics
        {
            Iterations = _iterations, Rounds = _rounds, Commits = _commits, Evaluations = _evaluations, EvaluationCacheHits = _hits,
            SimilarityCredits = _similarityCredits, ChildAdditionsTried = _additionsTried, ChildrenAdded = _childrenAdded,
            ExtendSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(0, _extendTicks).TotalSeconds,
            JudgeSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(0, _judgeTicks).TotalSeconds,
        });
    }

    /// <summary>One round: collects up to <paramref name="count"/> leaves, then expands, simulates, judges and backs them up.</summary>
    internal List<RainNode> Round(RainTree tree, int count)
    {
        var leaves = CollectLeaves(tree, count);
        EvaluateRound(tree, leaves);
        return leaves;
    }

    /// <summary>
    /// Up to <paramref name="count"/> distinct leaves, each chosen by PUCT from the root with the earlier picks of
    /// this round counted as pending losses (virtual loss). A pick that repeats adds another pending loss on its
    /// path so the next pick looks elsewhere; after as many repeats as leaves wanted, the round takes what it has.
    /// </summary>
    internal List<RainNode> CollectLeaves(RainTree tree, int count)
    {
        var leaves = new List<RainNode>(count);
        var picks = new List<RainNode>();
        for (var repeats = 0; leaves.Count < count && repeats < count;)
        {
            var node = tree.Root;
            while (node.Expanded && node.Children.Count > 0)
            {
                if (tree.NeedsMoreChildren(node)) AddChild(node);
                node = tree.Select(node);
            }
            if (leaves.Contains(node)) repeats++;
            else leaves.Add(node);
            for (var n = node; n is not null; n = n.Parent) n.Pending++;
            picks.Add(node);
        }
        foreach (var pick in picks)
            for (var n = pick; n is not null; n = n.Parent) n.Pending--;
        return leaves;
    }

    private void EvaluateRound(RainTree tree, List<RainNode> leaves)
    {
        // 1. expansion and simulation requests, seeds drawn in leaf order, then the rollouts of nodes asking for a child
        var requests = new List<RainExtendRequest>();
        var expansionIndex = new int[leaves.Count];
        var simulationIndex = new int[leaves.Count];
        foreach (var (leaf, k) in leaves.Select((l, k) => (l, k)))
        {
            expansionIndex[k] = simulationIndex[k] = -1;
            var budget = options.MaxNewTokens - leaf.Path.Length;
            if (!leaf.Expanded && !leaf.Terminal && budget > 0)
            {
                var length = Math.Min(options.TokenSetLength(leaf.Depth), budget);
                expansionIndex[k] = requests.Count;
                requests.Add(options.TokenSetLength(leaf.Depth) == 1
                    ? new RainExtendRequest(leaf.Path, RainExtendKind.TopTokens, 1, options.MaxChildren, NextSeed())
                    : new RainExtendRequest(leaf.Path, RainExtendKind.Rollouts, length, options.Rollouts, NextSeed()));
            }
            if (!leaf.Terminal && budget > 0 && !RainText.EndsAtBoundary(model.Text(leaf.Path)))
            {
                simulationIndex[k] = requests.Count;
                requests.Add(new RainExtendRequest(leaf.Path, RainExtendKind.Simulation, Math.Min(options.MaxSimulationTokens, budget), 1, NextSeed()));
            }
        }
        var growFrom = requests.Count;
        foreach (var node in _growing)
            requests.Add(new RainExtendRequest(node.Path, RainExtendKind.Rollouts,
                Math.Min(options.TokenSetLength(node.Depth), Math.Max(1, options.MaxNewTokens - node.Path.Length)), 2, NextSeed()));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var extensions = requests.Count > 0 ? model.Extend(requests) : [];
        _extendTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        for (var g = 0; g < _growing.Count; g++) AddRolloutChild(_growing[g], extensions[growFrom + g]);
        _growing.Clear();

        // 2. the judged texts: each leaf's path plus its simulation, cut at the end of the turn
        var judged = new int[leaves.Count][];
        for (var k = 0; k < leaves.Count; k++)
        {
            var path = simulationIndex[k] >= 0 ? [.. leaves[k].Path, .. extensions[simulationIndex[k]].Sequences[0].Tokens] : leaves[k].Path;
            judged[k] = CutAtEnd(path);
        }
        var toJudge = judged.Select(Key).Distinct().Where(key => !_evaluated.ContainsKey(key)).ToList();
        var answers = judged.DistinctBy(Key).Where(a => toJudge.Contains(Key(a))).ToList();
        if (answers.Count > 0)
        {
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            var judgements = model.Judge(answers);
            _judgeTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
            for (var i = 0; i < answers.Count; i++) _evaluated[Key(answers[i])] = Value(judgements[i]);
            _evaluations += answers.Count;
        }
        _hits += leaves.Count - answers.Count;

        // 3. children for expanded leaves, then backup in leaf order
        for (var k = 0; k < leaves.Count; k++)
        {
            var leaf = leaves[k];
            if (expansionIndex[k] >= 0) Expand(tree, leaf, extensions[expansionIndex[k]]);
            else if (!leaf.Expanded && leaf.Path.Length >= options.MaxNewTokens) leaf.Terminal = true;
            tree.Backup(leaf, _evaluated[Key(judged[k])], Embeddings(tree, leaf, judged[k]));
        }
    }

    /// <summary>Each node's own continuation in the judged text, embedded, from the leaf up to (not including) the root.</summary>
    private IReadOnlyList<float[]?> Embeddings(RainTree tree, RainNode leaf, int[] judged)
    {
        if (options.Similarity == RainSimilarity.Off) return [];
        var starts = new List<int>();
        for (var n = leaf; !ReferenceEquals(n, tree.Root) && n is not null; n = n.Parent) starts.Add(n.Path.Length - n.Tokens.Length);
        return starts.Count == 0 ? [] : model.Embed(judged, starts);
    }

    private void Expand(RainTree tree, RainNode leaf, RainExtension extension)
    {
        leaf.Expanded = true;
        List<(int[] Tokens, double Prior)> candidates;
        if (options.TokenSetLength(leaf.Depth) == 1)
        {
            leaf.Distribution = extension.Sequences.Select(s => (s.Tokens[0], s.Probability)).ToArray();
            var top = extension.Sequences.Take(options.TopKSingle).ToList();
            var sum = top.Sum(s => s.Probability);
            candidates = top.Select(s => (s.Tokens, sum > 0 ? s.Probability / sum : 1.0 / top.Count)).ToList();
        }
        else candidates = RolloutPriors(extension.Sequences);
        foreach (var (tokens, prior) in candidates) leaf.Children.Add(NewChild(leaf, tokens, prior));
        if (ReferenceEquals(leaf, tree.Root)) tree.MixRootNoise();
    }

    /// <summary>
    /// Priors of rollout candidates (greedy first): duplicates dropped, the greedy one's probability clamped to
    /// max(min(p_greedy, sum of the others), max + min of the others) as the reference does, then normalised.
    /// </summary>
    internal static List<(int[] Tokens, double Prior)> RolloutPriors(IReadOnlyList<(int[] Tokens, double Probability)> rollouts)
    {
        var unique = rollouts.DistinctBy(r => Key(r.Tokens)).ToList();
        var priors = unique.Select(u => u.Probability).ToArray();
        if (priors.Length > 1)
        {
            var others = priors.Skip(1).ToArray();
            priors[0] = Math.Max(Math.Min(priors[0], others.Sum()), others.Max() + others.Min());
        }
        var sum = priors.Sum();
        return unique.Select((u, i) => (u.Tokens, sum > 0 ? priors[i] / sum : 1.0 / priors.Length)).ToList();
    }

    private RainNode NewChild(RainNode parent, int[] tokens, double prior)
    {
        var path = (int[])[.. parent.Path, .. tokens];
        var child = new RainNode(tokens, path, prior, parent.Depth + 1, parent);
        var text = model.Text(path);
        child.Terminal = tokens.Any(model.IsEndOfGeneration) || options.FindStop(text) >= 0;
        return child;
    }

    /// <summary>
    /// Dynamic addition: the next single token from the kept distribution, at once (a node whose distribution is
    /// used up is marked so it is not asked again); or one unseen rollout (greedy + 1 sample), whose rollouts join
    /// this round's decodes so the child is there from the next round on. Rollouts are sampled, so a node whose try
    /// found nothing new tries again at its next descent (as the reference does).
    /// </summary>
    private void AddChild(RainNode node)
    {
        if (options.TokenSetLength(node.Depth) > 1)
        {
            if (!_growing.Contains(node)) _growing.Add(node);
            return;
        }
        _additionsTried++;
        var existing = node.Children.Select(c => c.Tokens[0]).ToHashSet();
        var sum = node.Distribution.Take(options.TopKSingle).Sum(d => d.Probability);
        var next = node.Distribution.FirstOrDefault(d => !existing.Contains(d.Token));
        if (next.Probability <= 0) { node.CannotGrow = true; return; }
        node.Children.Add(NewChild(node, [next.Token], next.Probability / sum));
        _childrenAdded++;
    }

    private void AddRolloutChild(RainNode node, RainExtension extension)
    {
        _additionsTried++;
        var existing = node.Children.Select(c => Key(c.Tokens)).ToHashSet();
        var fresh = extension.Sequences.FirstOrDefault(s => !existing.Contains(Key(s.Tokens)));
        if (fresh.Tokens is null) return;
        // an unseen rollout joins with the smallest prior among its siblings
        node.Children.Add(NewChild(node, fresh.Tokens, node.Children.Min(c => c.Prior)));
        _childrenAdded++;
    }

    private int[] CutAtEnd(int[] path)
    {
        var end = Array.FindIndex(path, model.IsEndOfGeneration);
        if (end >= 0) path = path[..end];
        if (options.StopStrings.Count == 0) return path;
        // drop whole tokens from the end while the text still reaches a stop string
        var cut = path.Length;
        while (cut > 0 && options.FindStop(model.Text(path.AsSpan(0, cut))) >= 0) cut--;
        return cut == path.Length ? path : path[..cut];
    }

    /// <summary>The self-evaluation value in [-1, 1] from the label logits of every option order.</summary>
    internal double Value(RainJudgement j) => Value(j, options.Scoring);

    /// <summary>A judgement's value in [-1, 1]: the share of option orders that prefer the good label (vote), or the mean of
    /// p(good) / (p(good) + p(bad)) (continuous), mapped from [0, 1].</summary>
    internal static double Value(RainJudgement j, RainScoring scoring)
    {
        var orders = j.GoodLogits.Length;
        var sum = 0.0;
        for (var o = 0; o < orders; o++)
            sum += scoring == RainScoring.Vote
                ? (j.GoodLogits[o] > j.BadLogits[o] ? 1 : 0)
                : 1 / (1 + Math.Exp(j.BadLogits[o] - j.GoodLogits[o]));
        return 2 * sum / orders - 1;
    }

    private ulong NextSeed() => (ulong)_random.NextInt64();

    internal static string Key(int[] tokens) => string.Join(',', tokens);
}
