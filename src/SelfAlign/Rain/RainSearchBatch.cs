using System.Runtime.ExceptionServices;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN for many prompts at once on one <see cref="LlamaRainModel"/>. Each prompt's search runs unchanged on a
/// thread of its own; its model calls wait until every running search waits on one, and the calling thread then
/// decodes them together (all extension work in one set of decode calls, all judging in another). Only that one
/// thread decodes: llama.cpp's CPU threads are kept per calling thread, and a second set spinning beside the first
/// slows both. A search's choices depend only on its seed, so each prompt gets the answer it gets alone (exactly so
/// with flash attention off, whose sums do not depend on what shares a call).
/// </summary>
internal sealed class RainSearchBatch(LlamaRainModel model)
{
    private readonly object _lock = new();
    private readonly object _report = new();
    private readonly List<Call> _waiting = [];
    /// <summary>Searches started and not finished (each either working or waiting on a call).</summary>
    private int _running;
    /// <summary>Search threads still alive.</summary>
    private int _live;
    /// <summary>Set when a search fails: the other threads take no new prompts.</summary>
    private int _failed;

    private sealed class Call
    {
        public LlamaRainModel.Session? Session { get; init; }
        public (int[] Prompt, string Request)? Begin { get; init; }
        public IReadOnlyList<RainExtendRequest>? Requests { get; init; }
        public IReadOnlyList<int[]>? Answers { get; init; }
        public object? Result { get; set; }
        public Exception? Error { get; set; }
        public bool Done { get; set; }
    }

    /// <summary>
    /// Searches every prompt, <paramref name="atOnce"/> at a time (a finished search's thread takes the next prompt),
    /// and tells <paramref name="done"/> each prompt's index, result and wall seconds as it finishes (one at a time).
    /// </summary>
    public void Run(IReadOnlyList<(int[] Prompt, string Request, RainOptions Options)> prompts, int atOnce,
        Action<int, RainSearchResult, double> done, CancellationToken cancellationToken)
    {
        var next = -1;
        var errors = new List<Exception>();
        var threads = Math.Min(atOnce, prompts.Count);
        _live = threads;
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            for (int i; Volatile.Read(ref _failed) == 0 && (i = Interlocked.Increment(ref next)) < prompts.Count;)
            {
                var (prompt, request, options) = prompts[i];
                var clock = System.Diagnostics.Stopwatch.StartNew();
                LlamaRainModel.Session? session = null;
                lock (_lock) _running++;
                try
                {
                    session = (LlamaRainModel.Session)Submit(new Call { Begin = (prompt, request) });
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
                        Monitor.PulseAll(_lock);
                    }
                }
            }
            lock (_lock)
            {
                _live--;
                Monitor.PulseAll(_lock);
            }
        })).ToList();
        foreach (var w in workers) w.Start();
        lock (_lock)
        {
            while (_live > 0)
            {
                if (_waiting.Count > 0 && _waiting.Count == _running) DecodeWaiting();
                else Monitor.Wait(_lock);
            }
        }
        foreach (var w in workers) w.Join();
        if (errors.Count > 0) ExceptionDispatchInfo.Throw(errors.FirstOrDefault(e => e is OperationCanceledException) ?? errors[0]);
    }

    public IReadOnlyList<RainExtension> Extend(LlamaRainModel.Session session, IReadOnlyList<RainExtendRequest> requests) =>
        (IReadOnlyList<RainExtension>)Submit(new Call { Session = session, Requests = requests });

    public IReadOnlyList<RainJudgement> Judge(LlamaRainModel.Session session, IReadOnlyList<int[]> answers) =>
        (IReadOnlyList<RainJudgement>)Submit(new Call { Session = session, Answers = answers });

    /// <summary>Releases what the prompt no longer needs (no decoding, so from the search's own thread).</summary>
    public void Committed(LlamaRainModel.Session session, int[] path)
    {
        lock (_lock) model.Committed(session, path);
    }

    private object Submit(Call call)
    {
        lock (_lock)
        {
            _waiting.Add(call);
            Monitor.PulseAll(_lock);
            while (!call.Done) Monitor.Wait(_lock);
        }
        if (call.Error is { } e) ExceptionDispatchInfo.Throw(e);
        return call.Result!;
    }

    /// <summary>Sends every call's items to <paramref name="decode"/> as one list and hands each call its share of the results.</summary>
    private static void Together<TItem, TResult>(List<Call> calls, Func<Call, IReadOnlyList<TItem>> items,
        Func<IReadOnlyList<(LlamaRainModel.Session, TItem)>, IReadOnlyList<TResult>> decode)
    {
        if (calls.Count == 0) return;
        var results = decode(calls.SelectMany(c => items(c).Select(x => (c.Session!, x))).ToList());
        var k = 0;
        foreach (var c in calls)
        {
            var n = items(c).Count;
            c.Result = results.Skip(k).Take(n).ToList();
            k += n;
        }
    }

    /// <summary>Decodes every waiting call's work together and wakes their searches; runs on the calling thread, under the lock.</summary>
    private void DecodeWaiting()
    {
        var calls = _waiting.ToList();
        _waiting.Clear();
        try
        {
            foreach (var c in calls.Where(c => c.Begin is not null)) c.Result = model.Begin(c.Begin!.Value.Prompt, c.Begin.Value.Request, this);
            Together(calls.Where(c => c.Requests is not null).ToList(), c => c.Requests!, model.Extend);
            Together(calls.Where(c => c.Answers is not null).ToList(), c => c.Answers!, model.Judge);
        }
        catch (Exception e)
        {
            foreach (var c in calls) c.Error = e;
        }
        foreach (var c in calls) c.Done = true;
        Monitor.PulseAll(_lock);
    }
}
