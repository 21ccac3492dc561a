namespace SelfAlign.Rain;

/// <summary>What one RAIN answer cost. Summable over prompts with <see cref="Add"/>.</summary>
public sealed record RainStatistics
{
    /// <summary>Search iterations (leaves selected, simulated and judged).</summary>
    public int Iterations { get; init; }
    /// <summary>Rounds of leaves handled together.</summary>
    public int Rounds { get; init; }
    /// <summary>Token sets committed.</summary>
    public int Commits { get; init; }
    /// <summary>Judged texts actually sent to the model (each in every option order).</summary>
    public int Evaluations { get; init; }
    /// <summary>Judgements answered from the cache of judged token paths.</summary>
    public int EvaluationCacheHits { get; init; }
    /// <summary>Times a visit credited a sibling whose embedding was at least as similar as the threshold.</summary>
    public int SimilarityCredits { get; init; }
    /// <summary>Times a node whose children all looked bad and alike asked for another child; <see cref="ChildrenAdded"/> of them got one.</summary>
    public int ChildAdditionsTried { get; init; }
    public int ChildrenAdded { get; init; }
    /// <summary>Tokens whose KV entries were reused from a cached prefix instead of decoded again.</summary>
    public long ReusedTokens { get; init; }
    public long DecodeCalls { get; init; }
    public long TokensDecoded { get; init; }
    /// <summary>Of <see cref="TokensDecoded"/>: expansion, rollouts and simulations.</summary>
    public long ExtensionTokens { get; init; }
    /// <summary>Of <see cref="TokensDecoded"/>: answer tokens decoded into the judge prompt.</summary>
    public long JudgedAnswerTokens { get; init; }
    /// <summary>Of <see cref="TokensDecoded"/>: the judge's question after each judged answer, in every option order
    /// (decoded again for every judgement, as it follows the answer; the rest is prompts and judge headers).</summary>
    public long JudgeSuffixTokens { get; init; }
    /// <summary>Time in expansion and simulation (rollouts and leaf continuations, their decodes included).</summary>
    public double ExtendSeconds { get; init; }
    /// <summary>Time in self-evaluation (judge decodes included).</summary>
    public double JudgeSeconds { get; init; }
    /// <summary>Of <see cref="Seconds"/>, the time inside llama_decode.</summary>
    public double DecodeSeconds { get; init; }
    public double Seconds { get; init; }

    public RainStatistics Add(RainStatistics o) => new()
    {
        Iterations = Iterations + o.Iterations, Rounds = Rounds + o.Rounds, Commits = Commits + o.Commits,
        Evaluations = Evaluations + o.Evaluations, EvaluationCacheHits = EvaluationCacheHits + o.EvaluationCacheHits,
        SimilarityCredits = SimilarityCredits + o.SimilarityCredits, ChildAdditionsTried = ChildAdditionsTried + o.ChildAdditionsTried, ChildrenAdded = ChildrenAdded + o.ChildrenAdded,
        ReusedTokens = ReusedTokens + o.ReusedTokens, ExtendSeconds = ExtendSeconds + o.ExtendSeconds, JudgeSeconds = JudgeSeconds + o.JudgeSeconds, DecodeCalls = DecodeCalls + o.DecodeCalls,
        TokensDecoded = TokensDecoded + o.TokensDecoded, ExtensionTokens = ExtensionTokens + o.ExtensionTokens,
        JudgedAnswerTokens = JudgedAnswerTokens + o.JudgedAnswerTokens, JudgeSuffixTokens = JudgeSuffixTokens + o.JudgeSuffixTokens, DecodeSeconds = DecodeSeconds + o.DecodeSeconds, Seconds = Seconds + o.Seconds,
    };
}
