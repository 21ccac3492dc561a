using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// A reusable batch of tokens for one decode: tokens with positions, sequence ids and which ones need logits.
/// Output index i (for <see cref="LlamaContext.GetLogits"/>) is the token's index in the batch.
/// </summary>
public sealed class TokenBatch : IDisposable
{
    private readonly LlamaBatch _batch;

    public TokenBatch(int capacity, int maxSequencesPerToken = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequencesPerToken, 1);
        LlamaRuntime.EnsureInitialized();
        _batch = new LlamaBatch(capacity, maxSequencesPerToken);
    }

    public int Capacity => _batch.Capacity;
    public int Count => _batch.Count;
    internal LlamaBatch Native => _batch;

    public void Clear() => _batch.Clear();

    /// <summary>Adds a token; returns its index in the batch.</summary>
    public int Add(int token, int position, int sequence, bool wantLogits) => _batch.Add(token, position, sequence, wantLogits);

    /// <summary>Adds a token that belongs to several sequences at once (e.g. text every fork of a sequence shares).</summary>
    public int Add(int token, int position, ReadOnlySpan<int> sequences, bool wantLogits) => _batch.Add(token, position, sequences, wantLogits);

    /// <summary>Asks for logits of the token at <paramref name="index"/> (e.g. the last prompt token).</summary>
    public void RequestLogits(int index) => _batch.RequestLogits(index);

    public void Dispose() => _batch.Dispose();
}
