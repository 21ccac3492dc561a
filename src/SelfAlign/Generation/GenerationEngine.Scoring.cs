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

    /// <summary>
    /// Packs many (context, continuation) pairs into each decode, one sequence per pair, chunking long ones. A context that
    /// several pairs share (a question's candidates) is evaluated once, all but its last token, in a sequence of its own,
    /// and copied into each pair's sequence: the unified cache shares those cells, so each pair evaluates only its last
    /// context token and its continuation.
    /// </summary>
    private ScoreResult[] Score(List<ScoringItem> items)
    {
        var logProbs = items.Select(i => new double[i.Tokens.Length - i.ContextLength]).ToArray();
        // RunScoringJobs made room for the longest item in one sequence; sharing needs one more for the context
        var groups = _options.PrefixSharing && _ctx.IsUnified && _freeSequences.Count >= 2
            ? Enumerable.Range(0, items.Count).GroupBy(i => ContextKey(items[i])).Where(g => g.Count() > 1 && items[g.First()].ContextLength > 1)
                .Select(g => g.ToList()).ToList()
            : [];
        var shared = groups.SelectMany(g => g).ToHashSet();
        foreach (var group in groups) ScoreSharingContext(items, group, logProbs);
        ScorePacked(items, Enumerable.Range(0, items.Count).Where(i => !shared.Contains(i)).ToList(), logProbs, source: -1, start: 0);
        return items.Select((item, i) => new ScoreResult(logProbs[i].Sum(), logProbs[i], item.Tokens[item.ContextLength..])).ToArray();
    }

    private static string ContextKey(ScoringItem item) => string.Join(',', item.Tokens.Take(item.ContextLength));

    private void ScoreSharingContext(List<ScoringItem> items, List<int> group, double[][] logProbs)
    {
        var tokens = items[group[0]].Tokens;
        var length = items[group[0]].ContextLength - 1;
        var sequence = _freeSequences.Pop();
        _cellsInUse += length;
        try
        {
            for (var pos = 0; pos < length;)
            {
                _batch.Clear();
                var n = Math.Min(_batch.Capacity, length - pos);
                for (var k = 0; k < n; k++) _batch.Add(tokens[pos + k], pos + k, sequence, false);
                _ctx.Decode(_batch);
                pos += n;
            }
            ScorePacked(items, group, logProbs, sequence, length);
        }
        finally
        {
            _ctx.RemoveTokens(sequence);
            _freeSequences.Push(sequence);
            _cellsInUse -= length;
        }
    }

    /// <summary>Scores the items <paramref name="indices"/>, each in its own sequence from position <paramref name="start"/>,
    /// the cells before it copied from sequence <paramref name="source"/> (none when -1).</summary>
    private void ScorePacked(List<ScoringItem> items, List<int> indices, double[][] logProbs, int source, int start)
    {
        var inFlight = new List<(int Item, int Sequence, int Offset)>();
        try
        {
            var next = 0;
            while (next < indices.Count || inFlight.Count > 0)
            {
                while (next < indices.Count && _freeSequences.Count > 0 &&
                       (!_ctx.IsUnified || _cellsInUse + items[indices[next]].Tokens.Length - start <= _ctx.ContextSize))
                {
                    var sequence = _freeSequences.Pop();
                    if (source >= 0) _ctx.CopySequence(source, sequence, 0, start);
                    inFlight.Add((indices[next], sequence, start));
                    _cellsInUse += items[indices[next++]].Tokens.Length - start;
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
                    ReleaseScoring(items[item], seq, start);
                    inFlight.RemoveAt(f);
                }
            }
        }
        finally
        {
            foreach (var (item, seq, _) in inFlight) ReleaseScoring(items[item], seq, start);
        }
    }

    private void ReleaseScoring(ScoringItem item, int sequence, int start)
    {
        _ctx.RemoveTokens(sequence);
        _freeSequences.Push(sequence);
        _cellsInUse -= item.Tokens.Length - start;
    }

    private double LogSumExp(ReadOnlySpan<float> logits) => LogitMath.LogSumExp(logits, Scratch(logits.Length));

    /// <summary>A loop-owned buffer of a logits row's length.</summary>
    private Span<float> Scratch(int length)
    {
        if (_scratch.Length != length) _scratch = new float[length];
        return _scratch;
    }
}
