namespace SelfAlign.Generation;

/// <summary>
/// How the next token is chosen. The order applied is: banned tokens and logit bias, penalties,
/// then greedy (Temperature 0) or temperature, top-k, top-p, min-p and a seeded draw.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>0 = greedy (argmax).</summary>
    public float Temperature { get; init; }
    /// <summary>Keep only the k most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 = off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Drop tokens less likely than p × the top token's probability; 0 = off.</summary>
    public float MinP { get; init; }
    /// <summary>Seed of the request's own random stream: the same seed gives the same sample, alone or batched.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Divides positive (multiplies negative) logits of tokens already generated; 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>Subtracted once per earlier occurrence of the token in the generated text.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>Subtracted once if the token occurred in the generated text.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>How many of the latest generated tokens the repetition, frequency and presence penalties look at; 0 = all.</summary>
    public int PenaltyWindow { get; init; }

    /// <summary>
    /// N-gram frequency penalties: entry n-1 is subtracted from a candidate's logit once for every earlier
    /// occurrence of the n-gram it would complete (Dromedary's verbose stage penalises 3- and 4-grams).
    /// </summary>
    public IReadOnlyList<float> NGramPenalties { get; init; } = [];

    /// <summary>
    /// The tokens the n-gram penalties may lower (indexed by token id); null: every token. Dromedary penalises only tokens
    /// that start a word (<see cref="Models.Vocabulary.WordStarts"/>), so a repeated phrase is discouraged where it begins
    /// rather than inside a word.
    /// </summary>
    public IReadOnlyList<bool>? NGramPenaltyTokens { get; init; }

    /// <summary>Added to the logits of these tokens (negative discourages).</summary>
    public IReadOnlyDictionary<int, float> LogitBias { get; init; } = new Dictionary<int, float>();
    /// <summary>Tokens that are never chosen (e.g. EOS while a list is being written).</summary>
    public IReadOnlyCollection<int> BannedTokens { get; init; } = [];

    public bool IsGreedy => Temperature <= 0f;

    public static SamplingOptions Greedy { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        if (Temperature < 0 || float.IsNaN(Temperature)) throw new InvalidInputException($"temperature must be >= 0 (got {Temperature})");
        if (TopK < 0) throw new InvalidInputException($"top-k must be >= 0 (got {TopK})");
        if (TopP is <= 0 or > 1) throw new InvalidInputException($"top-p must be in (0, 1] (got {TopP})");
        if (MinP is < 0 or >= 1) throw new InvalidInputException($"min-p must be in [0, 1) (got {MinP})");
        if (RepetitionPenalty <= 0) throw new InvalidInputException($"repetition penalty must be > 0 (got {RepetitionPenalty})");
        if (PenaltyWindow < 0) throw new InvalidInputException($"penalty window must be >= 0 (got {PenaltyWindow})");
        if (NGramPenalties.Count > 8) throw new InvalidInputException("n-gram penalties go up to 8-grams");
    }
}
