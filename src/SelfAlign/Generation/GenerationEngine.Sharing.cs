namespace SelfAlign.Generation;

public sealed partial class GenerationEngine
{
    private readonly Queue<LoopWork> _work = new();
    private readonly List<EngineShare> _shares = [];
    /// <summary>Shared decodes that stepped every running request.</summary>
    private int _sharedSteps;

    /// <summary>Cells the engine's own requests may reserve: the context's, less what is lent.</summary>
    private int CellLimit => _ctx.ContextSize - _shares.Sum(s => s.Cells);

    /// <summary>Sequences the engine's own requests may use: the context's, less what is lent.</summary>
    private int SequenceLimit => _ctx.MaxSequences - _shares.Sum(s => s.Sequences.Count);

    /// <summary>Work run on the loop thread for a caller that waits for it.</summary>
    private sealed class LoopWork(Action action)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Run()
        {
            try
            {
                action();
                _done.SetResult();
            }
            catch (Exception e) { _done.SetException(e); }
        }

        public void Fail(Exception e) => _done.TrySetException(e);

        /// <summary>Blocks until the work ran, rethrowing what it threw.</summary>
        public void Wait() => _done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Lends <paramref name="sequences"/> KV sequences and <paramref name="cells"/> KV cells of the context to another
    /// decoder (RAIN; several may share one engine). The engine admits its own requests into the rest; a share's
    /// decodes carry the running requests' tokens in the room their batches leave.
    /// </summary>
    /// <exception cref="InvalidInputException">The context cannot spare that much.</exception>
    internal EngineShare Lend(int sequences, int cells)
    {
        if (!_ctx.IsUnified) throw new InvalidInputException("a share of the engine needs a unified KV cache (ContextOptions.UnifiedKvCache)");
        EngineShare? share = null;
        RunOnLoop(() =>
        {
            if (sequences < 1 || sequences > SequenceLimit || cells < 1 || cells > CellLimit)
                throw new InvalidInputException($"a share of {sequences} KV sequences and {cells} cells does not fit the engine's " +
                                                $"{SequenceLimit} sequences and {CellLimit} cells not yet lent; raise ContextOptions.MaxSequences or ContextSize");
            if (!MakeRoom(cells, sequences, keep: null))
                throw new InvalidInputException($"the engine's running requests hold the {sequences} sequences and {cells} cells a share needs; lend it before serving");
            var ids = new int[sequences];
            for (var i = 0; i < sequences; i++) ids[i] = _freeSequences.Pop();
            // the share's cells count for a ledger group of its own: one past its first sequence, unique among shares
            var group = ids[0] + 1;
            foreach (var id in ids) _ctx.Ledger.SetGroup(id, group);
            share = new EngineShare(this, _ctx, ids, cells, group);
            _shares.Add(share);
        });
        return share!;
    }

    /// <summary>Takes a share back (its sequences emptied); on the loop thread.</summary>
    internal void Return(EngineShare share)
    {
        if (!_shares.Remove(share)) return;
        foreach (var seq in share.Sequences)
        {
            _ctx.RemoveTokens(seq);
            _ctx.Ledger.SetGroup(seq, 0);
            _freeSequences.Push(seq);
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread between steps and waits for it; inline when already there.</summary>
    /// <exception cref="ObjectDisposedException">The engine is stopping.</exception>
    internal void RunOnLoop(Action action)
    {
        if (Thread.CurrentThread == _thread) { action(); return; }
        var work = new LoopWork(action);
        Enqueue(work);
        work.Wait();
    }

    /// <summary>Runs the queued loop work; true when one of its decodes stepped every running request.</summary>
    private bool RunLoopWork()
    {
        var before = _sharedSteps;
        while (_work.TryDequeue(out var work)) work.Run();
        return _sharedSteps != before;
    }

    /// <summary>
    /// Decodes a share's batch with the running requests' next tokens in the room it leaves, and steps them from the
    /// outputs. False when the cache had no room (nothing changed). On the loop thread.
    /// </summary>
    internal bool DecodeShared(TokenBatch batch)
    {
        var step = Fill(batch);
        bool decoded;
        try { decoded = _ctx.TryDecode(batch); }
        catch (Exception e)
        {
            Unfill(step);
            foreach (var slot in step.InBatch) slot.Fail(e);
            Finish(step, decoded: false);
            throw;
        }
        if (!decoded)
        {
            Unfill(step);
            return false;
        }
        if (step.StepsAll) _sharedSteps++;
        Finish(step, decoded: true);
        return true;
    }
}
