namespace SelfAlign.Generation;

/// <summary>Why a completion ended. A cancelled request has no result: it throws <see cref="OperationCanceledException"/>, as .NET does.</summary>
public enum FinishReason { EndOfGeneration, StopString, Length }

/// <summary>The completion of one <see cref="GenerationRequest"/>.</summary>
public sealed record GenerationResult(
    string Text, IReadOnlyList<int> Tokens, FinishReason FinishReason, int PromptTokenCount, TimeSpan Elapsed);

/// <summary>A streamed piece of a completion: the text that became final with this token.</summary>
public sealed record GenerationUpdate(string TextDelta, int Token);
