using SelfAlign.Generation;

namespace SelfAlign.Rain;

/// <summary>How a partial answer's two judgements (both option orders) become a value in [-1, 1].</summary>
public enum RainScoring
{
    /// <summary>The reference's vote: +1 per order in which "good" beats "bad", minus 1 (values -1, 0, +1).</summary>
    Vote,
    /// <summary>p(good) / (p(good) + p(bad)) in each order, summed, minus 1: a continuous value.</summary>
    Continuous,
}

/// <summary>Where the embeddings for sibling similarity come from.</summary>
public enum RainSimilarity
{
    /// <summary>The searched model's own hidden state at the end of the judged text.</summary>
    Model,
    /// <summary>A separate embedding GGUF (<see cref="RainOptions.EmbeddingModelPath"/>), mean-pooled.</summary>
    EmbeddingModel,
    /// <summary>No similarity credit and no dynamic addition of children.</summary>
    Off,
}

/// <summary>
/// RAIN's constants. Defaults are the reference implementation's (docs/methods.md, B.2); <see cref="LeavesPerRound"/> and
/// <see cref="UseCache"/> are SelfAlign's. <see cref="UseCache"/> changes speed only; <see cref="LeavesPerRound"/>
/// also changes which leaves a round visits (virtual loss), with 1 the reference's one-leaf-at-a-time search.
/// </summary>
public sealed record RainOptions
{
    /// <summary>Visits the best root child needs (more than this) before the search may stop early (Tmin).</summary>
    public int MinIterations { get; init; } = 6;
    /// <summary>Most search iterations per committed token set (Tmax).</summary>
    public int MaxIterations { get; init; } = 50;
    /// <summary>At least this many new iterations per commit, even when a reused subtree brings many visits (reference: 15).</summary>
    public int MinNewIterations { get; init; } = 15;
    /// <summary>Value the best root child must exceed to stop early (V).</summary>
    public double ValueThreshold { get; init; } = 0.8;
    /// <summary>PUCT exploration constant (c).</summary>
    public double Exploration { get; init; } = 2.0;
    /// <summary>Token-set length by depth from the original root; the last applies to every deeper level.</summary>
    public IReadOnlyList<int> TokenSetLengths { get; init; } = [1, 2, 4, 10];
    /// <summary>Candidates for single-token sets: the top-k next tokens.</summary>
    public int TopKSingle { get; init; } = 10;
    /// <summary>Rollouts for longer sets: one greedy plus this many minus one sampled.</summary>
    public int Rollouts { get; init; } = 10;
    /// <summary>Rollout tokens are sampled from this many most likely tokens.</summary>
    public int RolloutTopK { get; init; } = 15;
    /// <summary>Temperature of rollouts, leaf simulations and the vanilla baseline.</summary>
    public float Temperature { get; init; } = 1.0f;
    /// <summary>Share of uniform noise mixed into the root's priors.</summary>
    public double RootNoise { get; init; } = 0.25;
    /// <summary>Discount on backed-up values (gamma).</summary>
    public double Discount { get; init; } = 1.0;
    /// <summary>Weight of similarity credit to a near-identical sibling (times the cosine similarity).</summary>
    public double SimilarityWeight { get; init; } = 0.2;
    /// <summary>Cosine similarity from which a sibling gets credit.</summary>
    public double SimilarityThreshold { get; init; } = 0.95;
    /// <summary>Children are added when their embeddings' variance norm is below this times the token-set length.</summary>
    public double AdditionVarianceThreshold { get; init; } = 0.03;
    /// <summary>Most children a node may have after dynamic addition.</summary>
    public int MaxChildren { get; init; } = 20;
    public RainScoring Scoring { get; init; } = RainScoring.Vote;
    public RainSimilarity Similarity { get; init; } = RainSimilarity.Model;
    /// <summary>Embedding GGUF for <see cref="RainSimilarity.EmbeddingModel"/>.</summary>
    public string? EmbeddingModelPath { get; init; }
    /// <summary>Most tokens the answer may have.</summary>
    public int MaxNewTokens { get; init; } = 128;
    /// <summary>Most tokens one leaf simulation may add before it reaches a punctuation mark.</summary>
    public int MaxSimulationTokens { get; init; } = 48;
    /// <summary>Text that ends the answer (a new user turn); end-of-generation tokens always do.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public ulong Seed { get; init; }

    /// <summary>Index of the first of <see cref="StopStrings"/> in the text, or -1.</summary>
    internal int FindStop(string text) => new StopStringMatcher(StopStrings).FindStop(text, 0);
    /// <summary>
    /// Leaves selected (with virtual loss), simulated and judged together per round. Unset: 4 for a search alone (its
    /// round's work fills the decode calls; more leaves sent benign answers down refusal branches, docs/rain.md) and
    /// 1 for each of many prompts searched at once (the reference's one-leaf order; the prompts fill the calls).
    /// </summary>
    public int? LeavesPerRound { get; init; }

    /// <summary>The leaves per round of a search alone when <see cref="LeavesPerRound"/> is unset.</summary>
    public const int LeavesAlone = 4;
    /// <summary>Each prompt's leaves per round when many search at once and <see cref="LeavesPerRound"/> is unset.</summary>
    public const int LeavesTogether = 1;

    /// <summary>The leaves per round a search takes: the set value, or <see cref="LeavesAlone"/>.</summary>
    internal int Leaves => LeavesPerRound ?? LeavesAlone;

    /// <summary>These options for one of many prompts searched at once: unset leaves become <see cref="LeavesTogether"/>.</summary>
    internal RainOptions ForManyAtOnce() => LeavesPerRound is null ? this with { LeavesPerRound = LeavesTogether } : this;
    /// <summary>Keep tree nodes and the judge prompt in the KV cache and batch work; off recomputes every context (as the reference does).</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>
    /// Flash attention in the search context: faster, and a token's logits then depend slightly on what shares its
    /// decode call, so an answer can differ from one searched with other batching (docs/rain.md measures how often).
    /// </summary>
    public bool FlashAttention { get; init; } = true;
    /// <summary>KV-cache cells of the search context.</summary>
    public int ContextSize { get; init; } = 8192;
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first constant out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string what) { if (!ok) throw new InvalidInputException(what); }
        Check(MinIterations >= 0, $"min iterations (Tmin) must be >= 0, got {MinIterations}");
        Check(MaxIterations >= 1, $"max iterations (Tmax) must be >= 1, got {MaxIterations}");
        Check(MinIterations < MaxIterations, $"min iterations (Tmin {MinIterations}) must be below max iterations (Tmax {MaxIterations})");
        Check(MinNewIterations >= 1, $"min new iterations must be >= 1, got {MinNewIterations}");
        Check(ValueThreshold is >= -1 and <= 1, $"value threshold (V) must be in [-1, 1], got {ValueThreshold}");
        Check(Exploration > 0, $"exploration constant (c) must be > 0, got {Exploration}");
        Check(TokenSetLengths.Count > 0 && TokenSetLengths.All(l => l is >= 1 and <= 64), "token-set lengths must be 1..64 each, at least one");
        Check(TopKSingle is >= 1 and <= 256, $"top-k for single tokens must be 1..256, got {TopKSingle}");
        Check(Rollouts is >= 1 and <= 64, $"rollouts must be 1..64, got {Rollouts}");
        Check(RolloutTopK >= 1, $"rollout top-k must be >= 1, got {RolloutTopK}");
        Check(Temperature > 0, $"temperature must be > 0, got {Temperature}");
        Check(RootNoise is >= 0 and <= 1, $"root noise must be in [0, 1], got {RootNoise}");
        Check(Discount is > 0 and <= 1, $"discount must be in (0, 1], got {Discount}");
        Check(SimilarityWeight is >= 0 and <= 1, $"similarity weight must be in [0, 1], got {SimilarityWeight}");
        Check(SimilarityThreshold is >= -1 and <= 1, $"similarity threshold must be in [-1, 1], got {SimilarityThreshold}");
        Check(MaxChildren >= TopKSingle, $"max children ({MaxChildren}) must be at least top-k ({TopKSingle})");
        Check(MaxNewTokens >= 1, $"max new tokens must be >= 1, got {MaxNewTokens}");
        Check(MaxSimulationTokens >= 1, $"max simulation tokens must be >= 1, got {MaxSimulationTokens}");
        Check(LeavesPerRound is null or (>= 1 and <= 32), $"leaves per round must be 1..32, got {LeavesPerRound}");
        Check(ContextSize >= 256, $"context size must be >= 256, got {ContextSize}");
        Check(Similarity != RainSimilarity.EmbeddingModel || EmbeddingModelPath is not null, "similarity from an embedding model needs its GGUF path");
    }

    internal int TokenSetLength(int depth) => TokenSetLengths[Math.Min(depth, TokenSetLengths.Count - 1)];
}
