using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_context*</c> (and reaches its KV memory); keeps its model alive.</summary>
internal sealed unsafe partial class SafeLlamaContextHandle : SafeModelDependentHandle
{
    private readonly nint _memory;
    private GCHandle _self; // lets the abort callback find this handle
    private Func<bool>? _abortWhen;

    private SafeLlamaContextHandle(nint handle, SafeLlamaModelHandle model) : base(handle, model)
    {
        _memory = LlamaNative.llama_get_memory(this);
        _self = GCHandle.Alloc(this, GCHandleType.Weak);
    }

    public static llama_context_params DefaultParameters() => LlamaNative.llama_context_default_params();

    /// <summary>A context for <paramref name="model"/>; null when llama.cpp cannot make one (out of memory, say).</summary>
    public static SafeLlamaContextHandle? Create(SafeLlamaModelHandle model, llama_context_params p)
    {
        var ctx = LlamaNative.llama_init_from_model(model, p);
        return ctx == 0 ? null : new SafeLlamaContextHandle(ctx, model);
    }

    public int ContextSize => (int)LlamaNative.llama_n_ctx(this);
    public int BatchSize => (int)LlamaNative.llama_n_batch(this);
    public int MaxSequences => (int)LlamaNative.llama_n_seq_max(this);
    public int SequenceCapacity => (int)LlamaNative.llama_n_ctx_seq(this);

    public void AttachThreadpool(SafeThreadpoolHandle pool) => LlamaNative.llama_attach_threadpool(this, pool, pool);

    /// <summary>llama_decode's return code: 0, <see cref="LlamaNative.LLAMA_DECODE_NO_KV_SLOT"/>, <see cref="LlamaNative.LLAMA_DECODE_ABORTED"/> or an error.</summary>
    public int Decode(LlamaBatch batch) => LlamaNative.llama_decode(this, batch.Native);

    /// <summary><paramref name="count"/> logits of output <paramref name="index"/> of the last decode, in llama.cpp's buffer; empty when it has none.</summary>
    public ReadOnlySpan<float> Logits(int index, int count)
    {
        var p = LlamaNative.llama_get_logits_ith(this, index);
        return p == null ? default : new ReadOnlySpan<float>(p, count);
    }

    /// <summary>The embedding of output <paramref name="index"/> of the last decode; empty when it has none.</summary>
    public ReadOnlySpan<float> Embedding(int index, int count)
    {
        var p = LlamaNative.llama_get_embeddings_ith(this, index);
        return p == null ? default : new ReadOnlySpan<float>(p, count);
    }

    /// <summary>The pooled embedding of sequence <paramref name="seq"/> of the last decode; empty when the context does not pool.</summary>
    public ReadOnlySpan<float> SequenceEmbedding(int seq, int count)
    {
        var p = LlamaNative.llama_get_embeddings_seq(this, seq);
        return p == null ? default : new ReadOnlySpan<float>(p, count);
    }

    /// <summary>Whether embeddings are pooled per sequence (the model's pooling type is not "none").</summary>
    public bool Pools => LlamaNative.llama_pooling_type(this) != LlamaNative.LLAMA_POOLING_TYPE_NONE;

    /// <summary>
    /// While set, llama.cpp's abort callback asks it (null removes the callback): llama.cpp asks at every graph node, on its
    /// worker threads.
    /// </summary>
    public Func<bool>? AbortCheck
    {
        get => _abortWhen;
        set
        {
            if ((_abortWhen is null) != (value is null))
                LlamaNative.llama_set_abort_callback(this, value is null ? null : &Abort, value is null ? 0 : GCHandle.ToIntPtr(_self));
            _abortWhen = value;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte Abort(nint self)
    {
        // No exception may cross into llama.cpp: a failing check lets the decode finish.
        try { return GCHandle.FromIntPtr(self).Target is SafeLlamaContextHandle { _abortWhen: { } abort } && abort() ? (byte)1 : (byte)0; }
        catch { return 0; }
    }

    // ---- KV memory: positions are [from, to), to = -1 means "to the end" ----

    public void CopySequence(int source, int destination, int from, int to) => LlamaNative.llama_memory_seq_cp(_memory, source, destination, from, to);
    public bool RemoveTokens(int sequence, int from, int to) => LlamaNative.llama_memory_seq_rm(_memory, sequence, from, to);
    public int PositionMax(int sequence) => LlamaNative.llama_memory_seq_pos_max(_memory, sequence);
    public void ClearMemory()
    {
        // encoder-only models (BERT embedders) have no KV memory, and llama.cpp does not check for it
        if (_memory != 0) LlamaNative.llama_memory_clear(_memory, true);
    }

    /// <summary>Applies these adapters with their scales from the next decode on; returns llama.cpp's code (0 = done).</summary>
    public int SetLoraAdapters(IReadOnlyList<(SafeLoraAdapterHandle Adapter, float Scale)> adapters)
    {
        var handles = new nint[adapters.Count];
        var scales = new float[adapters.Count];
        var added = new bool[adapters.Count];
        try
        {
            for (var i = 0; i < adapters.Count; i++)
            {
                adapters[i].Adapter.DangerousAddRef(ref added[i]);
                handles[i] = adapters[i].Adapter.DangerousGetHandle();
                scales[i] = adapters[i].Scale;
            }
            fixed (nint* h = handles)
            fixed (float* s = scales)
                return LlamaNative.llama_set_adapters_lora(this, h, (nuint)handles.Length, s);
        }
        finally
        {
            for (var i = 0; i < adapters.Count; i++)
                if (added[i]) adapters[i].Adapter.DangerousRelease();
        }
    }

    protected override void Free(nint nativeHandle)
    {
        LlamaNative.llama_free(nativeHandle);
        if (_self.IsAllocated) _self.Free();
        if (_optimizer.IsAllocated) _optimizer.Free();
    }
}
