namespace SelfAlign.Rain;

/// <summary>What the search asks of the model at the end of a path.</summary>
public enum RainExtendKind
{
    /// <summary>The head of the next-token distribution (single-token candidate sets).</summary>
    TopTokens,
    /// <summary>Rollouts of <see cref="RainExtendRequest.Length"/> tokens: one greedy, the rest sampled from the top tokens.</summary>
    Rollouts,
    /// <summary>One sampled continuation up to the next punctuation mark, end of turn or end of generation.</summary>
    Simulation,
}

/// <summary>One piece of work at the end of an answer path; <see cref="Seed"/> makes its sampling independent of batching.</summary>
public sealed record RainExtendRequest(int[] Path, RainExtendKind Kind, int Length, int Count, ulong Seed);

/// <summary>Token sequences found at the end of a path, each with its probability (product over its tokens), best first for top tokens.</summary>
public sealed record RainExtension(IReadOnlyList<(int[] Tokens, double Probability)> Sequences);

/// <summary>The judge's two label logits in each option order.</summary>
public sealed record RainJudgement(double[] GoodLogits, double[] BadLogits);

/// <summary>
/// The model as RAIN's search sees it. Work comes in lists so an implementation can batch it; results must not
/// depend on how the list is split (each request carries its own seed). <see cref="LlamaRainModel"/> is the
/// llama.cpp implementation; tests script their own.
/// </summary>
public interface IRainModel
{
    IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests);
    IReadOnlyList<RainJudgement> Judge(IReadOnlyList<int[]> answers);
    /// <summary>
    /// For each start, a unit-length embedding of <c>answer[start..]</c> (a node's own continuation: its token set
    /// through the judged end), mean-pooled over its tokens; null where the span is empty or similarity is off.
    /// Called after <see cref="Judge"/> has seen the answer.
    /// </summary>
    IReadOnlyList<float[]?> Embed(int[] answer, IReadOnlyList<int> starts);
    /// <summary>Every later request starts with <paramref name="path"/> (the search committed it): state kept for other paths may go.</summary>
    void Committed(int[] path) { }
    /// <summary>The text of answer tokens (end-of-generation tokens render as nothing).</summary>
    string Text(ReadOnlySpan<int> tokens);
    bool IsEndOfGeneration(int token);
}
