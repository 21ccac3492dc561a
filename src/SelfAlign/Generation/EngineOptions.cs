namespace SelfAlign.Generation;

/// <summary>Options for a <see cref="GenerationEngine"/>.</summary>
public sealed record EngineOptions
{
    public ContextOptions Context { get; init; } = new();
    /// <summary>Evaluate each distinct <see cref="GenerationRequest.SharedPrefix"/> once and fork it, and each context that
    /// several scored continuations share (on by default; with per-sequence KV caches each request evaluates its prefix itself).</summary>
    public bool PrefixSharing { get; init; } = true;
    /// <summary>Requests decoded together; 0 = as many as the context's sequences allow.</summary>
    public int MaxParallel { get; init; }
}
