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
    /// context token and its continuation. Shared contexts are evaluated many at a time, packed into the same decodes.
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
        var longest = items.Select(i => i.Tokens.Length).DefaultIfEmpty().Max();
        for (var next = 0; next < groups.Count;)
        {
            // a wave: as many contexts as leave a sequence and the longest item's cells for the pairs
            var wave = new List<List<int>>();
            var cells = 0;
            while (next < groups.Count && wave.Count < _freeSequences.Count - 1 &&
                   (wave.Count == 0 || _cellsInUse + cells + items[groups[next][0]].ContextLength + longest <= _ctx.ContextSize))
            {
                cells += items[groups[next][0]].ContextLength - 1;
                wave.Add(groups[next++]);
            }
            ScoreSharingContexts(items, wave, logProbs);
        }
        ScorePacked(items, Enumerable.Range(0, items.Count).Where(i => !shared.Contains(i)).Select(i => (i, -1, 0)).ToList(), logProbs);
        return items.Select((item, i) => new ScoreResult(logProbs[i].Sum(), logProbs[i], item.Tokens[item.ContextLength..])).ToArray();
    }

    private static string ContextKey(ScoringItem item) => string.Join(',', item.Tokens.Take(item.ContextLength));

    /// <summary>Evaluates each group's context (but its last token) in a sequence of its own, packed together, then scores the
    /// groups' pairs from copies of them.</summary>
    private void ScoreSharingContexts(List<ScoringItem> items, List<List<int>> groups, double[][] logProbs)
    {
        var contexts = groups.Select(g => (Tokens: items[g[0]].Tokens, Length: items[g[0]].ContextLength - 1, Sequence: _freeSequences.Pop())).ToList();
        var cells = contexts.Sum(c => c.Length);
        _cellsInUse += cells;
        try
        {
            var done = new int[contexts.Count];
            while (done.Where((d, k) => d < contexts[k].Length).Any())
            {
                _batch.Clear();
                for (var k = 0; k < contexts.Count && _batch.Count < _batch.Capacity; k++)
                {
                    var n = Math.Min(_batch.Capacity - _batch.Count, contexts[k].Length - done[k]);
                    for (var i = 0; i < n; i++) _batch.Add(contexts[k].Tokens[done[k] + i], done[k] + i, contexts[k].Sequence, false);
                    done[k] += n;
                }
                _ctx.Decode(_batch);
            }
            ScorePacked(items, groups.SelectMany((g, k) => g.Select(i => (i, contexts[k].Sequence, contexts[k].Length))).ToList(), logProbs);
        }
        finally
        {
            foreach (var c in contexts)
            {
                _ctx.RemoveTokens(c.Sequence);
                _freeSequences.Push(c.Sequence);
            }
            _cellsInUse -= cells;
        }
    }

    /// <summary>Scores each item of <paramref name="work"/> in its own sequence from position <c>Start</c>, the cells before it
    /// copied from sequence <c>Source</c> (none when -1).</summary>
    private void ScorePacked(List<ScoringItem> items, List<(int Item, int Source, int Start)> work, double[][] logProbs)
    {
        var inFlight = new List<(int Item, int Sequence, int Offset, int Start)>();
        try
        {
            var next = 0;
            while (next < work.Count || inFlight.Count > 0)
            {
                while (next < work.Count && _freeSequences.Count > 0 &&
                       (!_ctx.IsUnified || _cellsInUse + items[work[next].Item].Tokens.Length - work[next].Start <= _ctx.ContextSize))
                {
                    var (item, source, start) = work[next++];
                    var sequence = _freeSequences.Pop();
                    if (source >= 0) _ctx.CopySequence(source, sequence, 0, start);
                    inFlight.Add((item, sequence, start, start));
                    _cellsInUse += items[item].Tokens.Length - start;
                }
                // RunScoringJobs made room for the longest item, and every item in flight gives its room back.
                if (inFlight.Count == 0) throw new InvalidOperationException("scoring has no free sequence or cells although room was made");

                _batch.Clear();
                var outputs = new List<(int Item, int Position, int Index)>();
                for (var f = 0; f < inFlight.Count; f++)
                {
                    var (item, seq, offset, start) = inFlight[f];
                    var tokens = items[item].Tokens;
                    var n = Math.Min(_batch.Capacity - _batch.Count, tokens.Length - offset);
                    for (var pos = offset; pos < offset + n; pos++)
                    {
                        var want = pos >= items[item].ContextLength - 1 && pos < tokens.Length - 1;
                        var index = _batch.Add(tokens[pos], pos, seq, want);
                        if (want) outputs.Add((item, pos, index));
                    }
                    inFlight[f] = (item, seq, offset + n, start);
                }
                _ctx.Decode(_batch);

                foreach (var (item, pos, index) in outputs)
                {
                    var logits = _ctx.GetLogits(index);
                    logProbs[item][pos + 1 - items[item].ContextLength] = logits[items[item].Tokens[pos + 1]] - LogSumExp(logits);
                }
                for (var f = inFlight.Count - 1; f >= 0; f--)
                {
                    var (item, seq, offset, start) = inFlight[f];
                    if (offset < items[item].Tokens.Length) continue;
                    ReleaseScoring(items[item], seq, start);
                    inFlight.RemoveAt(f);
                }
            }
        }
        finally
        {
            foreach (var (item, seq, _, start) in inFlight) ReleaseScoring(items[item], seq, start);
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
