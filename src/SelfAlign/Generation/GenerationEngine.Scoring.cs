namespace SelfAlign.Generation;

public sealed partial class GenerationEngine
{
    private sealed record ScoringItem(int[] Tokens, int ContextLength);

    private sealed class ScoringJob(List<ScoringItem> items, CancellationToken cancellation)
    {
        public List<ScoringItem> Items { get; } = items;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<IReadOnlyList<ScoreResult>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private float[] _scratch = [];

    /// <summary>Runs queued scoring jobs between generation steps, in the sequences and cells generation leaves free.
    /// A job waits while running requests hold what its longest item needs; then nothing can stall it halfway.</summary>
    private void RunScoringJobs()
    {
        while (_scoring.Count > 0)
        {
            var job = _scoring.Peek();
            if (job.Cancellation.IsCancellationRequested) { _scoring.Dequeue(); job.Completion.TrySetCanceled(job.Cancellation); continue; }
            var longest = job.Items.Count == 0 ? 0 : job.Items.Max(i => i.Tokens.Length);
            if (Unfit(longest, 1) is { } problem) { _scoring.Dequeue(); job.Completion.TrySetException(new InvalidInputException(problem)); continue; }
            if (!MakeRoom(longest, 1, keep: null)) return;
            _scoring.Dequeue();
            _ctx.AbortWhen = () => _stopping || job.Cancellation.IsCancellationRequested;
            try { job.Completion.TrySetResult(Score(job.Items)); }
            catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested) { job.Completion.TrySetCanceled(job.Cancellation); }
            catch (Exception e) { job.Completion.TrySetException(e); }
            finally { _ctx.AbortWhen = null; }
        }
    }

    /// <summary>Packs many (context, continuation) pairs into each decode, one sequence per pair, chunking long ones.</summary>
    private ScoreResult[] Score(List<ScoringItem> items)
    {
        var logProbs = items.Select(i => new double[i.Tokens.Length - i.ContextLength]).ToArray();
        var inFlight = new List<(int Item, int Sequence, int Offset)>();
        try
        {
            var next = 0;
            while (next < items.Count || inFlight.Count > 0)
            {
                while (next < items.Count && _freeSequences.Count > 0 && (!_ctx.IsUnified || _cellsInUse + items[next].Tokens.Length <= _ctx.ContextSize))
                {
                    inFlight.Add((next, _freeSequences.Pop(), 0));
                    _cellsInUse += items[next++].Tokens.Length;
                }
                // RunScoringJobs made room for the longest item, and every item in flight gives its room back.
                if (inFlight.Count == 0) throw new InvalidOperationException("scoring has no free sequence or cells although room was made");

                _batch.Clear();
                var outputs = new List<(int Item, int Position, int Index)>();
                for (var f = 0; f < inFlight.Count; f++)
                {
                    var (item, seq, offset) = inFlight[f];
                    var tokens = items[item].Tokens;
                    var n = Math.Min(_batch.Capacity - _batch.Count, tokens.Length - offset);
                    for (var pos = offset; pos < offset + n; pos++)
                    {
                        var want = pos >= items[item].ContextLength - 1 && pos < tokens.Length - 1;
                        var index = _batch.Add(tokens[pos], pos, seq, want);
                        if (want) outputs.Add((item, pos, index));
                    }
                    inFlight[f] = (item, seq, offset + n);
                }
                _ctx.Decode(_batch);

                foreach (var (item, pos, index) in outputs)
                {
                    var logits = _ctx.GetLogits(index);
                    logProbs[item][pos + 1 - items[item].ContextLength] = logits[items[item].Tokens[pos + 1]] - LogSumExp(logits);
                }
                for (var f = inFlight.Count - 1; f >= 0; f--)
                {
                    var (item, seq, offset) = inFlight[f];
                    if (offset < items[item].Tokens.Length) continue;
                    ReleaseScoring(items[item], seq);
                    inFlight.RemoveAt(f);
                }
            }
        }
        finally
        {
            foreach (var (item, seq, _) in inFlight) ReleaseScoring(items[item], seq);
        }
        return items.Select((item, i) => new ScoreResult(logProbs[i].Sum(), logProbs[i], item.Tokens[item.ContextLength..])).ToArray();
    }

    private void ReleaseScoring(ScoringItem item, int sequence)
    {
        _ctx.RemoveTokens(sequence);
        _freeSequences.Push(sequence);
        _cellsInUse -= item.Tokens.Length;
    }

    private double LogSumExp(ReadOnlySpan<float> logits)
    {
        if (_scratch.Length != logits.Length) _scratch = new float[logits.Length];
        return LogitMath.LogSumExp(logits, _scratch);
    }
}
