namespace SelfAlign.Generation;

/// <summary>Options for a llama.cpp context (KV cache, batch and thread settings).</summary>
public sealed record ContextOptions
{
    /// <summary>KV-cache cells shared by all sequences (the cache is unified); 0 = the model's trained length.</summary>
    public int ContextSize { get; init; } = 4096;
    /// <summary>Most tokens one decode call may carry.</summary>
    public int BatchSize { get; init; } = 512;
    /// <summary>Most sequences that may live in the cache at once.</summary>
    public int MaxSequences { get; init; } = 64;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Return per-token embeddings too (RAIN's similarity uses them).</summary>
    public bool Embeddings { get; init; }
    /// <summary>Flash attention: null lets llama.cpp choose.</summary>
    public bool? FlashAttention { get; init; }

    internal void Validate()
    {
        if (ContextSize < 0) throw new ArgumentOutOfRangeException(nameof(ContextSize), "context size must be positive");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), "batch size must be at least 1");
        if (MaxSequences is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(MaxSequences), "max sequences must be 1..256");
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), "threads must be at least 1");
    }
}
