namespace SelfAlign.Native;

/// <summary>Owns a native <c>llama_batch</c> (made by <c>llama_batch_init</c>) and fills its arrays.</summary>
internal sealed unsafe class LlamaBatch : IDisposable
{
    private llama_batch _batch;
    private readonly int _maxSeqPerToken;

    public LlamaBatch(int capacity, int maxSequencesPerToken = 1)
    {
        Capacity = capacity;
        _maxSeqPerToken = maxSequencesPerToken;
        _batch = LlamaNative.llama_batch_init(capacity, 0, maxSequencesPerToken);
    }

    public int Capacity { get; }
    public int Count => _batch.n_tokens;
    public llama_batch Native => _batch;

    public void Clear() => _batch.n_tokens = 0;

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

    public void RequestLogits(int index) => _batch.logits[index] = 1;

    public int Position(int index) => _batch.pos[index];

    public ReadOnlySpan<int> Sequences(int index) => new(_batch.seq_id[index], _batch.n_seq_id[index]);

    public void Dispose()
    {
        if (_batch.token == null) return;
        LlamaNative.llama_batch_free(_batch);
        _batch = default;
    }
}
