namespace SelfAlign.Generation;

/// <summary>One prompt to complete. The prompt's tokens are <c>tokenize(SharedPrefix) ++ tokenize(Prompt)</c>.</summary>
public sealed record GenerationRequest
{
    /// <summary>The text to continue (after <see cref="SharedPrefix"/> if one is given).</summary>
    public required string Prompt { get; init; }

    /// <summary>
    /// Text that many requests start with (Self-Align's principle prompt). The engine evaluates it once and
    /// forks its KV cache into each request. Tokenised on its own, so results do not depend on whether sharing is on.
    /// </summary>
    public string? SharedPrefix { get; init; }

    public int MaxNewTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>Generation ends before the first of these strings; the string is not part of the result.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Stop at the vocabulary's end-of-generation tokens (EOS, EOT).</summary>
    public bool StopAtEndOfGeneration { get; init; } = true;
    /// <summary>Add BOS (if the model does) before the prompt.</summary>
    public bool AddSpecialTokens { get; init; } = true;
    /// <summary>Turn special-token text in the prompt (e.g. chat markers) into those tokens.</summary>
    public bool ParseSpecialTokens { get; init; } = true;

    /// <summary>
    /// Report each generated token's log-probability under the model (before sampling options change the logits) and this
    /// many most likely alternatives (0 = the chosen token only; at most <see cref="MaxTopLogProbabilities"/>); null = off.
    /// </summary>
    public int? LogProbabilities { get; init; }

    /// <summary>Also report the log-probability of every prompt token after the first (as many alternatives as
    /// <see cref="LogProbabilities"/> asks). The prompt is then evaluated on its own, not forked from a shared prefix, and
    /// <see cref="MaxNewTokens"/> may be 0 to score the prompt without generating.</summary>
    public bool PromptLogProbabilities { get; init; }

    public const int MaxTopLogProbabilities = 20;

    internal void Validate()
    {
        Sampling.Validate();
        if (MaxNewTokens < (PromptLogProbabilities ? 0 : 1))
            throw new InvalidInputException($"MaxNewTokens must be at least {(PromptLogProbabilities ? 0 : 1)} (got {MaxNewTokens})");
        if (LogProbabilities is < 0 or > MaxTopLogProbabilities)
            throw new InvalidInputException($"top log-probabilities must be in 0..{MaxTopLogProbabilities} (got {LogProbabilities})");
    }
}
