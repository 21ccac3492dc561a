using System.Diagnostics;

namespace SelfAlign.Generation;

/// <summary>
/// Part of a <see cref="GenerationEngine"/>'s context lent to another decoder (a RAIN search): KV sequences of its
/// own and a quota of cells, counted exactly. Everything that touches the context runs on the engine's loop thread
/// through <see cref="Invoke{T}"/>; each of its decodes also carries the engine's running requests, so both advance
/// in the same calls. Disposing gives the sequences back, emptied.
/// </summary>
internal sealed class EngineShare(GenerationEngine engine, LlamaContext context, int[] sequences, int cells, int group) : IDisposable
{
    private bool _disposed;

    /// <summary>The context; use it only inside <see cref="Invoke{T}"/>.</summary>
    public LlamaContext Context { get; } = context;
    public GenerationEngine Engine { get; } = engine;
    public IReadOnlyList<int> Sequences { get; } = sequences;
    /// <summary>Most KV cells the share may occupy.</summary>
    public int Cells { get; } = cells;
    /// <summary>KV cells the share's sequences occupy now.</summary>
    public int UsedCells => Context.Ledger.UsedBy(group);
    /// <summary>The share's decode calls, the tokens it put in them, and the time they took.</summary>
    public long DecodeCalls { get; private set; }
    public long TokensDecoded { get; private set; }
    public TimeSpan DecodeTime => Stopwatch.GetElapsedTime(0, _decodeTicks);
    private long _decodeTicks;

    /// <summary>Runs <paramref name="work"/> on the engine's loop thread and returns its result.</summary>
    public T Invoke<T>(Func<T> work)
    {
        T result = default!;
        Engine.RunOnLoop(() => result = work());
        return result;
    }

    public void Invoke(Action work) => Engine.RunOnLoop(work);

    /// <summary>Decodes the batch with the engine's running requests beside it; false when it would pass the cell quota or the
    /// cache is full (nothing changed). Inside <see cref="Invoke{T}"/> only.</summary>
    public bool TryDecode(TokenBatch batch)
    {
        if (batch.Count == 0) return true;
        var own = batch.Count;
        if (UsedCells + own > Cells) return false;
        var started = Stopwatch.GetTimestamp();
        if (!Engine.DecodeShared(batch)) return false;
        _decodeTicks += Stopwatch.GetTimestamp() - started;
        DecodeCalls++;
        TokensDecoded += own;
        return true;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try { Invoke(() => Engine.Return(this)); }
        catch (ObjectDisposedException) { } // the engine stopped first: its context went with it
    }
}
