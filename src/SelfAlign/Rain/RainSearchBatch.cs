using System.Runtime.ExceptionServices;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN for many prompts at once on one <see cref="LlamaRainModel"/>. Each prompt's search runs unchanged on a
/// thread of its own; its model calls wait until every running search waits on one, and are then decoded together
/// (all extension work in one set of decode calls, all judging in another). A search's choices depend only on its
/// seed, so each prompt gets the answer it gets alone (exactly so with flash attention off, whose sums do not
/// depend on what shares a call).
/// </summary>
internal sealed class RainSearchBatch(LlamaRainModel model)
{
    private readonly object _lock = new();
    private readonly object _report = new();
    private readonly List<Call> _waiting = [];
    private int _running;
    /// <summary>Set when a search fails: the other slots take no new prompts.</summary>
    private int _failed;

    private sealed class Call(LlamaRainModel.Session session, IReadOnlyList<RainExtendRequest>? requests, IReadOnlyList<int[]>? answers)
    {
        public LlamaRainModel.Session Session { get; } = session;
        public IReadOnlyList<RainExtendRequest>? Requests { get; } = requests;
        public IReadOnlyList<int[]>? Answers { get; } = answers;
        public object? Result { get; set; }
        public Exception? Error { get; set; }
        public bool Done { get; set; }
    }

    /// <summary>
    /// Searches every prompt, <paramref name="atOnce"/> at a time (a finished search's slot takes the next prompt),
    /// and tells <paramref name="done"/> each prompt's index, result and wall seconds as it finishes (one at a time).
    /// </summary>
    public void Run(IReadOnlyList<(int[] Prompt, string Request, RainOptions Options)> prompts, int atOnce,
        Action<int, RainSearchResult, double> done, CancellationToken cancellationToken)
    {
        var next = -1;
        var errors = new List<Exception>();
        var workers = Enumerable.Range(0, Math.Min(atOnce, prompts.Count)).Select(_ => new Thread(() =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < prompts.Count && Volatile.Read(ref _failed) == 0;)
            {
                var (prompt, request, options) = prompts[i];
                var clock = System.Diagnostics.Stopwatch.StartNew();
                LlamaRainModel.Session? session = null;
                lock (_lock) _running++;
                try
                {
                    lock (_lock) session = model.Begin(prompt, request, this);
                    var result = new RainSearch(session, options).Run(cancellationToken);
                    lock (_report) done(i, result, clock.Elapsed.TotalSeconds);
                }
                catch (Exception e)
                {
                    lock (errors) errors.Add(e);
                    Interlocked.Exchange(ref _failed, 1);
                }
                finally
                {
                    lock (_lock)
                    {
                        if (session is not null) model.End(session);
                        _running--;
                        if (_running > 0 && _waiting.Count == _running) DecodeWaiting();
                    }
                }
            }
        })).ToList();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        if (errors.Count > 0) ExceptionDispatchInfo.Throw(errors.FirstOrDefault(e => e is OperationCanceledException) ?? errors[0]);
    }

    public IReadOnlyList<RainExtension> Extend(LlamaRainModel.Session session, IReadOnlyList<RainExtendRequest> requests) =>
        (IReadOnlyList<RainExtension>)Submit(new Call(session, requests, null));

    public IReadOnlyList<RainJudgement> Judge(LlamaRainModel.Session session, IReadOnlyList<int[]> answers) =>
        (IReadOnlyList<RainJudgement>)Submit(new Call(session, null, answers));

    public void Committed(LlamaRainModel.Session session, int[] path)
    {
        lock (_lock) model.Committed(session, path);
    }

    private object Submit(Call call)
    {
        lock (_lock)
        {
            _waiting.Add(call);
            if (_waiting.Count == _running) DecodeWaiting();
            while (!call.Done) Monitor.Wait(_lock);
        }
        if (call.Error is { } e) ExceptionDispatchInfo.Throw(e);
        return call.Result!;
    }

    /// <summary>Decodes every waiting call's work together and wakes their searches; runs under the lock.</summary>
    private void DecodeWaiting()
    {
        var calls = _waiting.ToList();
        _waiting.Clear();
        try
        {
            var extending = calls.Where(c => c.Requests is not null).ToList();
            if (extending.Count > 0)
            {
                var results = model.Extend(extending.SelectMany(c => c.Requests!.Select(r => (c.Session, r))).ToList());
                var k = 0;
                foreach (var c in extending) { c.Result = results.Skip(k).Take(c.Requests!.Count).ToList(); k += c.Requests!.Count; }
            }
            var judging = calls.Where(c => c.Answers is not null).ToList();
            if (judging.Count > 0)
            {
                var results = model.Judge(judging.SelectMany(c => c.Answers!.Select(a => (c.Session, a))).ToList());
                var k = 0;
                foreach (var c in judging) { c.Result = results.Skip(k).Take(c.Answers!.Count).ToList(); k += c.Answers!.Count; }
            }
        }
        catch (Exception e)
        {
            foreach (var c in calls) c.Error = e;
        }
        foreach (var c in calls) c.Done = true;
        Monitor.PulseAll(_lock);
    }
}
