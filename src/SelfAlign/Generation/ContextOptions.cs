using SelfAlign.Models;

namespace SelfAlign.Generation;

/// <summary>Options for a llama.cpp context (KV cache, batch and thread settings).</summary>
public sealed record ContextOptions
{
    /// <summary>KV-cache cells for all sequences together; 0 = the model's trained length.</summary>
    public int ContextSize { get; init; } = 4096;
    /// <summary>Most tokens one decode call may carry.</summary>
    public int BatchSize { get; init; } = 512;
    /// <summary>Most sequences that may live in the cache at once.</summary>
    public int MaxSequences { get; init; } = 64;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>
    /// One KV buffer for all sequences (the default): sequences that share a prefix share its cells, so a fork
    /// copies nothing. Turn off for many independent sequences: each then gets ContextSize / MaxSequences
    /// cells of its own and attends only over them.
    /// </summary>
    public bool UnifiedKvCache { get; init; } = true;
    /// <summary>Keep K and V in F32 (training needs it: ggml has no F16 backward for them).</summary>
    public bool F32KvCache { get; init; }
    /// <summary>Return per-token embeddings too (RAIN's similarity uses them).</summary>
    public bool Embeddings { get; init; }
    /// <summary>
    /// Flash attention: off by default because with it on, a sequence's logits depend on what else shares the
    /// batch (about 1e-3 apart), which breaks "batched equals alone"; null lets llama.cpp choose.
    /// </summary>
    public bool? FlashAttention { get; init; } = false;
    /// <summary>
    /// How the CPU threads wait: null keeps llama.cpp's default (a pool per graph whose workers spin at barriers);
    /// 0..100 gives the context its own pool with that polling level, 0 meaning workers sleep. On a machine whose
    /// cores other processes also use, spinning workers slow each other down (docs/training.md).
    /// </summary>
    public int? ThreadPolling { get; init; }
    /// <summary>LoRA adapters applied to every decode, each with its scale (1 = as trained); loaded with <see cref="LoraAdapter.Load"/> for the same model.</summary>
    public IReadOnlyList<(LoraAdapter Adapter, float Scale)> LoraAdapters { get; init; } = [];

    internal void Validate()
    {
        if (ContextSize < 0) throw new InvalidInputException($"ContextSize must be >= 0 (got {ContextSize})");
        if (BatchSize < 1) throw new InvalidInputException($"BatchSize must be at least 1 (got {BatchSize})");
        if (MaxSequences is < 1 or > 256) throw new InvalidInputException($"MaxSequences must be 1..256 (got {MaxSequences})");
        if (Threads < 1) throw new InvalidInputException($"Threads must be at least 1 (got {Threads})");
        if (ThreadPolling is < 0 or > 100) throw new InvalidInputException($"ThreadPolling must be 0..100 (got {ThreadPolling})");
    }
}
