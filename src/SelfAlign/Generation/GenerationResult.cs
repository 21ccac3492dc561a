namespace SelfAlign.Generation;

/// <summary>Why a completion ended. A cancelled request has no result: it throws <see cref="OperationCanceledException"/>, as .NET does.</summary>
public enum FinishReason { EndOfGeneration, StopString, Length }

/// <summary>The completion of one <see cref="GenerationRequest"/>.</summary>
public sealed record GenerationResult(
    string Text, IReadOnlyList<int> Tokens, FinishReason FinishReason, int PromptTokenCount, TimeSpan Elapsed)
{
    /// <summary>The stop string that ended the completion (<see cref="FinishReason.StopString"/>), else null.</summary>
    public string? StopString { get; init; }
    /// <summary>One entry per generated token, when <see cref="GenerationRequest.LogProbabilities"/> asked for them.</summary>
    public IReadOnlyList<TokenLogProbability>? LogProbabilities { get; init; }
    /// <summary>The prompt's tokens with the log-probability of each after the first (null for the first), when
    /// <see cref="GenerationRequest.PromptLogProbabilities"/> asked for them.</summary>
    public IReadOnlyList<PromptToken>? PromptLogProbabilities { get; init; }
}

/// <summary>A streamed piece of a completion: the text that became final with this token, and the log-probabilities of
/// the tokens generated since the previous update (when asked for). The last update carries the whole <see cref="Result"/>
/// (its text delta may be empty).</summary>
public sealed record GenerationUpdate(string TextDelta, int Token)
{
    public IReadOnlyList<TokenLogProbability> LogProbabilities { get; init; } = [];
    /// <summary>Set on the last update only: the finished completion, with its finish reason and token counts.</summary>
    public GenerationResult? Result { get; init; }
}

/// <summary>A token with its natural-log probability and the most likely alternatives at its position, best first.</summary>
public sealed record TokenLogProbability(int Token, float LogProbability, IReadOnlyList<TokenAlternative> Alternatives);

public readonly record struct TokenAlternative(int Token, float LogProbability);

/// <summary>A prompt token and, after the first, its log-probability given the tokens before it.</summary>
public sealed record PromptToken(int Token, TokenLogProbability? LogProbability);
