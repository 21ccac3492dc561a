using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// A reusable native <c>llama_batch</c>: tokens with positions, sequence ids and which ones need logits.
/// Output index i (for <see cref="LlamaContext.GetLogits"/>) is the token's index in the batch.
/// </summary>
public sealed unsafe class TokenBatch : IDisposable
{
    private llama_batch _batch;
    private readonly int _maxSeqPerToken;

    public TokenBatch(int capacity, int maxSequencesPerToken = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        LlamaRuntime.EnsureInitialized();
        Capacity = capacity;
        _maxSeqPerToken = maxSequencesPerToken;
        _batch = LlamaNative.llama_batch_init(capacity, 0, maxSequencesPerToken);
    }

    public int Capacity { get; }
    public int Count => _batch.n_tokens;
    internal llama_batch Native => _batch;

    public void Clear() => _batch.n_tokens = 0;

    /// <summary>Adds a token; returns its index in the batch.</summary>
    public int Add(int token, int position, int sequence, bool wantLogits)
    {
        if (_batch.n_tokens >= Capacity) throw new InvalidOperationException($"batch is full ({Capacity} tokens)");
        var i = _batch.n_tokens++;
        _batch.token[i] = token;
        _batch.pos[i] = position;
        _batch.n_seq_id[i] = 1;
        _batch.seq_id[i][0] = sequence;
        _batch.logits[i] = (sbyte)(wantLogits ? 1 : 0);
        return i;
    }

    /// <summary>Adds a token that belongs to several sequences at once (e.g. text every fork of a sequence shares).</summary>
    public int Add(int token, int position, ReadOnlySpan<int> sequences, bool wantLogits)
    {
        if (_batch.n_tokens >= Capacity) throw new InvalidOperationException($"batch is full ({Capacity} tokens)");
        if (sequences.Length is 0 || sequences.Length > _maxSeqPerToken)
            throw new ArgumentOutOfRangeException(nameof(sequences), $"a token belongs to 1..{_maxSeqPerToken} sequences in this batch");
        var i = _batch.n_tokens++;
        _batch.token[i] = token;
        _batch.pos[i] = position;
        _batch.n_seq_id[i] = sequences.Length;
        for (var k = 0; k < sequences.Length; k++) _batch.seq_id[i][k] = sequences[k];
        _batch.logits[i] = (sbyte)(wantLogits ? 1 : 0);
        return i;
    }

    /// <summary>Asks for logits of the token at <paramref name="index"/> (e.g. the last prompt token).</summary>
    public void RequestLogits(int index) => _batch.logits[index] = 1;

    public void Dispose()
    {
        if (_batch.token == null) return;
        LlamaNative.llama_batch_free(_batch);
        _batch = default;
    }
}
