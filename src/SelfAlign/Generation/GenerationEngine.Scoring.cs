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
    /// Packs many (context, continuation) pairs into each decode, one sequence per pair, chunking long ones; a pair's last
    /// token is never evaluated (nothing reads what follows it). A context that several pairs share (a question's
    /// candidates) is evaluated once in a sequence of its own, its last row giving every pair's first log-probability, and
    /// copied into the sequence of each pair that continues past one token: the unified cache shares those cells.
    /// Contexts and pairs flow through the decodes a few at a time: attention runs over every occupied cell, so holding
    /// all of a job's contexts at once would slow every decode.
    /// </summary>
    private ScoreResult[] Score(List<ScoringItem> items)
    {
        if (items.Count == 0) return [];
        var logProbs = items.Select(i => new double[i.Tokens.Length - i.ContextLength]).ToArray();
        // RunScoringJobs made room for the longest item in one sequence; sharing needs one more for the context
        var sharing = _options.PrefixSharing && _ctx.IsUnified && _freeSequences.Count >= 2;
        var waiting = new Queue<ScoringWork>();
        var grouped = new HashSet<int>();
        foreach (var g in Enumerable.Range(0, items.Count).GroupBy(i => ContextKey(items[i])))
        {
            if (!sharing || g.Count() < 2) continue;
            var list = g.ToList();
            waiting.Enqueue(new ScoringWork(items[list[0]].Tokens, End: items[list[0]].ContextLength) { Members = list });
            grouped.UnionWith(list);
        }
        for (var i = 0; i < items.Count; i++)
            if (!grouped.Contains(i)) waiting.Enqueue(new ScoringWork(items[i].Tokens, End: items[i].Tokens.Length - 1) { Item = i });
        ScoreStream(items, waiting, logProbs);
        return items.Select((item, i) => new ScoreResult(logProbs[i].Sum(), logProbs[i], item.Tokens[item.ContextLength..])).ToArray();
    }

    private static string ContextKey(ScoringItem item) => string.Join(',', item.Tokens.Take(item.ContextLength));

    /// <summary>Tokens to evaluate in one sequence: a shared context (<see cref="Members"/> set) or one pair (<see cref="Item"/> set).</summary>
    private sealed record ScoringWork(int[] Tokens, int End)
    {
        public int Item { get; init; } = -1;
        public List<int> Members { get; init; } = [];
        /// <summary>The shared context a pair continues (its cells are copied, not evaluated).</summary>
        public ScoringWork? Parent { get; init; }
        public int Start => Parent?.End ?? 0;
        public int Offset { get; set; }
        public int Sequence { get; set; } = -1;
        /// <summary>A context's pairs not yet finished; its sequence is released with the last.</summary>
        public int Remaining { get; set; }
    }

    /// <summary>
    /// Evaluates the queued work, admitting it in order while sequences and cells allow. A context admitted holds its
    /// sequence until its last pair is done; its pairs go ahead of new work, so the cells in use stay few. A context is
    /// admitted only while one sequence stays free and its longest pair would still fit, so its pairs can always start.
    /// </summary>
    private void ScoreStream(List<ScoringItem> items, Queue<ScoringWork> waiting, double[][] logProbs)
    {
        var ready = new Queue<ScoringWork>();
        var inFlight = new List<ScoringWork>();
        var resident = new List<ScoringWork>();
        var scoringCells = 0;
        // about one batch of cells keeps every decode nearly full while attention, which runs over every occupied cell, stays cheap
        var softCap = Math.Max(_batch.Capacity, items.Max(i => i.Tokens.Length));

        void Hold(ScoringWork w, int cells) { w.Sequence = _freeSequences.Pop(); _cellsInUse += cells; scoringCells += cells; }
        void Release(ScoringWork w, int cells) { _ctx.RemoveTokens(w.Sequence); _freeSequences.Push(w.Sequence); _cellsInUse -= cells; scoringCells -= cells; w.Sequence = -1; }
        bool Fits(int cells, bool fresh) => !_ctx.IsUnified ||
            (_cellsInUse + cells <= CellLimit && (!fresh || inFlight.Count == 0 || scoringCells + cells <= softCap));

        void Admit()
        {
            while (ready.Count > 0 && _freeSequences.Count > 0 && Fits(ready.Peek().End - ready.Peek().Start, fresh: false))
            {
                var pair = ready.Dequeue();
                Hold(pair, pair.End - pair.Start);
                _ctx.CopySequence(pair.Parent!.Sequence, pair.Sequence, 0, pair.Start);
                pair.Offset = pair.Start;
                inFlight.Add(pair);
            }
            while (ready.Count == 0 && waiting.Count > 0)
            {
                var next = waiting.Peek();
                var isContext = next.Members.Count > 0;
                var longestTail = isContext ? Math.Max(0, next.Members.Max(i => items[i].Tokens.Length) - 1 - next.End) : 0;
                if (_freeSequences.Count < (isContext ? 2 : 1) || !Fits(next.End + longestTail, fresh: true)) return;
                waiting.Dequeue();
                Hold(next, next.End);
                if (isContext) { next.Remaining = next.Members.Count; resident.Add(next); }
                inFlight.Add(next);
            }
        }

        try
        {
            while (waiting.Count > 0 || ready.Count > 0 || inFlight.Count > 0)
            {
                Admit();
                // RunScoringJobs made room for the longest item, and all work in flight gives its room back.
                if (inFlight.Count == 0) throw new InvalidOperationException("scoring has no free sequence or cells although room was made");

                _batch.Clear();
                var outputs = new List<(ScoringWork Work, int Position, int Index)>();
                foreach (var w in inFlight)
                {
                    var n = Math.Min(_batch.Capacity - _batch.Count, w.End - w.Offset);
                    for (var pos = w.Offset; pos < w.Offset + n; pos++)
                    {
                        var want = w.Item >= 0 ? pos >= items[w.Item].ContextLength - 1 : pos == w.End - 1;
                        var index = _batch.Add(w.Tokens[pos], pos, w.Sequence, want);
                        if (want) outputs.Add((w, pos, index));
                    }
                    w.Offset += n;
                }
                _ctx.Decode(_batch);

                foreach (var (w, pos, index) in outputs)
                {
                    var logits = _ctx.GetLogits(index);
                    var logZ = LogSumExp(logits);
                    foreach (var i in w.Item >= 0 ? [w.Item] : w.Members) logProbs[i][pos + 1 - items[i].ContextLength] = logits[items[i].Tokens[pos + 1]] - logZ;
                }
                foreach (var w in inFlight.Where(w => w.Offset == w.End).ToList())
                {
                    inFlight.Remove(w);
                    if (w.Item < 0)
                    {
                        foreach (var i in w.Members)
                            if (items[i].Tokens.Length - 1 > w.End) ready.Enqueue(new ScoringWork(items[i].Tokens, items[i].Tokens.Length - 1) { Item = i, Parent = w });
                            else w.Remaining--;
                        if (w.Remaining == 0) { Release(w, w.End); resident.Remove(w); }
                        continue;
                    }
                    Release(w, w.End - w.Start);
                    if (w.Parent is { } parent && --parent.Remaining == 0) { Release(parent, parent.End); resident.Remove(parent); }
                }
            }
        }
        finally
        {
            foreach (var w in inFlight.Where(w => w.Item >= 0)) Release(w, w.End - w.Start);
            foreach (var w in resident) Release(w, w.End);
        }
    }

    private double LogSumExp(ReadOnlySpan<float> logits) => LogitMath.LogSumExp(logits, Scratch(logits.Length));

    /// <summary>A loop-owned buffer of a logits row's length.</summary>
    private Span<float> Scratch(int length)
    {
        if (_scratch.Length != length) _scratch = new float[length];
        return _scratch;
    }
}
