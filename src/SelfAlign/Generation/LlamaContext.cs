using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// A llama.cpp context: the KV cache, holding up to <see cref="MaxSequences"/> sequences (each at consecutive
/// positions), and the decode call. Not thread-safe: one owner drives it (the <see cref="GenerationEngine"/> loop, which also
/// runs the work of the RAIN searches it lends a share to; a trainer; a baseline of its own).
/// </summary>
public sealed class LlamaContext : IDisposable
{
    private readonly SafeLlamaContextHandle _handle;
    private readonly SafeThreadpoolHandle? _threadpool;

    public LlamaModel Model { get; }
    /// <summary>What the context was made with.</summary>
    public ContextOptions Options { get; }
    public int ContextSize { get; }
    public int BatchSize { get; }
    public int MaxSequences { get; }
    public int VocabularySize { get; }
    /// <summary>Most cells one sequence can hold (all of them with a unified cache).</summary>
    public int SequenceCapacity { get; }
    public bool IsUnified { get; }
    /// <summary>Decode calls made so far (for statistics).</summary>
    public long DecodeCalls { get; private set; }
    /// <summary>Tokens evaluated so far (for statistics).</summary>
    public long TokensDecoded { get; private set; }
    /// <summary>Time spent inside llama_decode so far (for statistics).</summary>
    public TimeSpan DecodeTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, _decodeTicks);
    private long _decodeTicks;
    private readonly KvCellLedger _ledger;

    public LlamaContext(LlamaModel model, ContextOptions? options = null)
    {
        options ??= new ContextOptions();
        options.Validate();
        var p = SafeLlamaContextHandle.DefaultParameters();
        p.n_ctx = (uint)(options.ContextSize == 0 ? model.ContextLengthTrained : options.ContextSize);
        p.n_batch = (uint)options.BatchSize;
        p.n_ubatch = (uint)options.BatchSize;
        p.n_seq_max = (uint)options.MaxSequences;
        // llama.cpp reserves at least one output row per sequence but by default only a batch's worth (the batch being
        // capped at the context size): a small context with many sequences would abort inside llama_decode
        p.n_outputs_max = (uint)Math.Max(Math.Min(p.n_ctx, p.n_batch), p.n_seq_max);
        p.n_threads = options.Threads;
        p.n_threads_batch = options.Threads;
        p.embeddings = (byte)(options.Embeddings ? 1 : 0);
        p.kv_unified = (byte)(options.UnifiedKvCache ? 1 : 0);
        if (options.F32KvCache) p.type_k = p.type_v = LlamaNative.GGML_TYPE_F32;
        p.no_perf = 1;
        if (options.FlashAttention is { } fa) p.flash_attn_type = fa ? LlamaNative.LLAMA_FLASH_ATTN_TYPE_ENABLED : LlamaNative.LLAMA_FLASH_ATTN_TYPE_DISABLED;

        _handle = SafeLlamaContextHandle.Create(model.Handle, p)
            ?? throw new NativeLibraryException($"llama.cpp could not create a context of {p.n_ctx} tokens (out of memory?)");
        if (options.ThreadPolling is { } poll)
        {
            _threadpool = SafeThreadpoolHandle.Create(options.Threads, (uint)poll);
            _handle.AttachThreadpool(_threadpool);
        }
        Model = model;
        Options = options;
        ContextSize = _handle.ContextSize;
        BatchSize = _handle.BatchSize;
        MaxSequences = _handle.MaxSequences;
        SequenceCapacity = _handle.SequenceCapacity;
        IsUnified = options.UnifiedKvCache;
        VocabularySize = model.Vocabulary.Count;
        _ledger = new KvCellLedger(MaxSequences);
        if (options.LoraAdapters.Count > 0) SetLoraAdapters(options.LoraAdapters);
    }

    /// <summary>Occupied KV cells, counted exactly (cells shared by forks once). After a stopped decode the cells of the
    /// part computed before the stop are not counted until their sequences are removed.</summary>
    public int UsedCells => _ledger.Used;

    internal KvCellLedger Ledger => _ledger;

    internal SafeLlamaContextHandle Handle => _handle;

    /// <summary>
    /// Asked by llama.cpp between the compute steps of a decode, on its worker threads; true stops the decode, which
    /// then throws <see cref="OperationCanceledException"/>. The cells of the batch computed before the stop stay in the
    /// cache: the owner removes the sequences it gives up. The callback is installed only while this is set, because
    /// llama.cpp asks it at every graph node (a quarter of a one-token decode's time): set it for long decodes only.
    /// </summary>
    public Func<bool>? AbortWhen
    {
        get => _handle.AbortCheck;
        set => _handle.AbortCheck = value;
    }

    /// <summary>Evaluates the batch. Returns false when the KV cache has no room for it (nothing changed).</summary>
    /// <exception cref="OperationCanceledException"><see cref="AbortWhen"/> stopped it.</exception>
    /// <exception cref="NativeLibraryException">llama.cpp reported an invalid batch or a fatal error.</exception>
    public bool TryDecode(TokenBatch batch)
    {
        if (batch.Count == 0) return true;
        _ledger.Check(batch.Native);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var rc = _handle.Decode(batch.Native);
        _decodeTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        DecodeCalls++;
        if (rc == LlamaNative.LLAMA_DECODE_NO_KV_SLOT) return false;
        if (rc == LlamaNative.LLAMA_DECODE_ABORTED) throw new OperationCanceledException("the decode was stopped (LlamaContext.AbortWhen)");
        if (rc != 0) throw new NativeLibraryException($"llama_decode failed with code {rc}");
        TokensDecoded += batch.Count;
        _ledger.Record(batch.Native);
        return true;
    }

    public void Decode(TokenBatch batch)
    {
        if (!TryDecode(batch)) throw new InvalidOperationException($"the KV cache ({ContextSize} cells) is full; use a larger context size");
    }

    /// <summary>Logits over the whole vocabulary for output <paramref name="batchIndex"/> of the last decode.
    /// The span points into llama.cpp's buffer and is valid until the next decode.</summary>
    public ReadOnlySpan<float> GetLogits(int batchIndex)
    {
        var logits = _handle.Logits(batchIndex, VocabularySize);
        if (logits.IsEmpty) throw new InvalidOperationException($"no logits for batch index {batchIndex}; request them when adding the token");
        return logits;
    }

    /// <summary>The embedding of output <paramref name="batchIndex"/> (needs <see cref="ContextOptions.Embeddings"/>).</summary>
    public ReadOnlySpan<float> GetEmbedding(int batchIndex)
    {
        var embedding = _handle.Embedding(batchIndex, Model.EmbeddingSize);
        if (embedding.IsEmpty) throw new InvalidOperationException("no embeddings: create the context with Embeddings = true");
        return embedding;
    }

    /// <summary>Whether the model pools embeddings per sequence (an embedding model's mean, CLS or last-token pooling).</summary>
    public bool PoolsEmbeddings => _handle.Pools;

    /// <summary>The pooled embedding of <paramref name="seq"/> after a decode that carried all of its tokens (needs <see cref="PoolsEmbeddings"/>).</summary>
    public ReadOnlySpan<float> GetSequenceEmbedding(int seq)
    {
        var embedding = _handle.SequenceEmbedding(seq, Model.EmbeddingSize);
        if (embedding.IsEmpty) throw new InvalidOperationException($"no pooled embedding for sequence {seq}: the model does not pool, or the sequence was not in the last decode");
        return embedding;
    }

    // ---- KV-cache operations: positions are [from, to), to = -1 means "to the end" ----

    /// <summary>Makes <paramref name="destination"/> share <paramref name="source"/>'s cells (a fork; no data is copied).</summary>
    public void CopySequence(int source, int destination, int from = -1, int to = -1)
    {
        _ledger.CheckCopy(source, destination, from, to);
        _handle.CopySequence(source, destination, from, to);
        _ledger.Copy(source, destination, from, to);
    }

    /// <summary>Drops a sequence's cells at positions [from, to): a rewind when to is -1.</summary>
    public void RemoveTokens(int sequence, int from = -1, int to = -1)
    {
        _ledger.CheckRemove(sequence, from, to);
        if (!_handle.RemoveTokens(sequence, from, to))
            throw new InvalidOperationException($"cannot remove positions [{from}, {to}) of sequence {sequence}");
        _ledger.Remove(sequence, from, to);
    }

    /// <summary>Highest position held for the sequence, or -1 if it is empty.</summary>
    public int PositionMax(int sequence) => _handle.PositionMax(sequence);

    /// <summary>Applies these adapters (each with its scale) from the next decode on; an empty list removes all.</summary>
    public void SetLoraAdapters(IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        var rc = _handle.SetLoraAdapters(adapters.Select(a => (a.Adapter.Handle, a.Scale)).ToList());
        if (rc != 0) throw new NativeLibraryException($"llama_set_adapters_lora failed with code {rc}");
    }

    public void ClearCache()
    {
        _handle.ClearMemory();
        _ledger.Clear();
    }

    public void Dispose()
    {
        _handle.Dispose();
        _threadpool?.Dispose(); // after the context that uses it
    }
}
