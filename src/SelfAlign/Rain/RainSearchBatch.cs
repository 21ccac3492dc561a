using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace SelfAlign.Rain;

/// <summary>
/// One prompt's work in a <see cref="RainSearchBatch"/>: the prompt to begin, what to run on its session (a search,
/// or a single judgement when screening), whom to tell how it ended (result or error, and wall seconds), and what
/// cancels it before it begins.
/// </summary>
internal sealed record RainBatchJob(int[] Prompt, string Request, RainOptions Options, Func<IRainModel, object> Work, Action<object?, Exception?, double> Done,
    CancellationToken Cancellation = default);

/// <summary>
/// RAIN for many prompts at once on one <see cref="LlamaRainModel"/>. Each prompt's work runs unchanged on a worker
/// thread of its own; its model calls wait until every running prompt waits on one, and the calling thread then has
/// the engine's loop thread decode them together (all new prompts in one plan, all extension work in one set of decode
/// calls, all judging in another). Only that one thread decodes: llama.cpp's CPU threads are kept per calling thread,
/// and a second set spinning beside the first slows both. A search's choices depend only on its seed, so each prompt gets the answer it
/// gets alone (exactly so with flash attention off, whose sums do not depend on what shares a call).
/// </summary>
internal sealed class RainSearchBatch(LlamaRainModel model)
{
    private readonly object _lock = new();
    private readonly object _report = new();
    private readonly List<Call> _waiting = [];
    /// <summary>Prompts begun and not finished (each either working or waiting on a call).</summary>
    private int _running;
    /// <summary>Worker threads still alive.</summary>
    private int _live;
    /// <summary>Set when the batch stops at an error: workers take no new prompts.</summary>
    private int _failed;
    /// <summary>A decode failed: the model is reset once no prompt is open.</summary>
    private bool _dirty;

    private sealed class Call
    {
        public LlamaRainModel.Session? Session { get; init; }
        public RainBatchJob? Begin { get; init; }
        public IReadOnlyList<RainExtendRequest>? Requests { get; init; }
        public IReadOnlyList<int[]>? Answers { get; init; }
        public object? Result { get; set; }
        public Exception? Error { get; set; }
        public bool Done { get; set; }
    }

    /// <summary>
    /// Runs jobs from <paramref name="take"/> (null: no more) on <paramref name="workers"/> threads until it has none
    /// left; each job's <see cref="RainBatchJob.Done"/> is told as it ends, one at a time. With
    /// <paramref name="stopAtFirstError"/> the first failure stops the batch and is thrown here; without, a failure is
    /// the failed job's alone and the others go on (a server's requests).
    /// </summary>
    public void Run(Func<RainBatchJob?> take, int workers, bool stopAtFirstError)
    {
        var errors = new List<Exception>();
        _live = workers;
        var threads = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
        {
            while (Volatile.Read(ref _failed) == 0 && take() is { } job)
            {
                var clock = Stopwatch.StartNew();
                LlamaRainModel.Session? session = null;
                lock (_lock) _running++;
                try
                {
                    job.Cancellation.ThrowIfCancellationRequested();
                    session = (LlamaRainModel.Session)Submit(new Call { Begin = job });
                    var result = job.Work(session);
                    lock (_report) job.Done(result, null, clock.Elapsed.TotalSeconds);
                }
                catch (Exception e)
                {
                    lock (_report) job.Done(null, e, clock.Elapsed.TotalSeconds);
                    if (stopAtFirstError)
                    {
                        lock (errors) errors.Add(e);
                        Interlocked.Exchange(ref _failed, 1);
                    }
                }
                finally
                {
                    lock (_lock)
                    {
                        if (session is not null) model.End(session);
                        _running--;
                        if (_running == 0 && _dirty)
                        {
                            model.Reset();
                            _dirty = false;
                        }
                        Monitor.PulseAll(_lock);
                    }
                }
            }
            lock (_lock)
            {
                _live--;
                Monitor.PulseAll(_lock);
            }
        }) { IsBackground = true, Name = "rain-search" }).ToList();
        foreach (var t in threads) t.Start();
        lock (_lock)
        {
            while (_live > 0)
            {
                if (_waiting.Count > 0 && _waiting.Count == _running) DecodeWaiting();
                else Monitor.Wait(_lock);
            }
        }
        foreach (var t in threads) t.Join();
        if (errors.Count > 0) ExceptionDispatchInfo.Throw(errors.FirstOrDefault(e => e is OperationCanceledException) ?? errors[0]);
    }

    public IReadOnlyList<RainExtension> Extend(LlamaRainModel.Session session, IReadOnlyList<RainExtendRequest> requests) =>
        (IReadOnlyList<RainExtension>)Submit(new Call { Session = session, Requests = requests });

    public IReadOnlyList<RainJudgement> Judge(LlamaRainModel.Session session, IReadOnlyList<int[]> answers) =>
        (IReadOnlyList<RainJudgement>)Submit(new Call { Session = session, Answers = answers });

    /// <summary>Releases what the prompt no longer needs (no decoding, so without waiting for the other prompts; the model does it on the engine's loop thread).</summary>
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
    private static void Together<TItem, TResult>(List<Call> calls, Func<Call, IReadOnlyList<TItem>> items, Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> decode)
    {
        if (calls.Count == 0) return;
        var perCall = calls.Select(items).ToList();
        var results = decode(perCall.SelectMany(x => x).ToList());
        var k = 0;
        for (var i = 0; i < calls.Count; i++)
        {
            calls[i].Result = results.Skip(k).Take(perCall[i].Count).ToList();
            k += perCall[i].Count;
        }
    }

    /// <summary>Decodes every waiting call's work together, on the engine's loop thread, and wakes their prompts; runs under the lock.</summary>
    private void DecodeWaiting()
    {
        var calls = _waiting.ToList();
        _waiting.Clear();
        try
        {
            model.Share.Invoke(() => DecodeTogether(calls));
        }
        catch (Exception e)
        {
            _dirty = true;
            foreach (var c in calls) c.Error = e;
        }
        foreach (var c in calls) c.Done = true;
        Monitor.PulseAll(_lock);
    }

    /// <summary>All new prompts in one plan, all extension work in one set of decode calls, all judging in another.</summary>
    private void DecodeTogether(List<Call> calls)
    {
        var begins = calls.Where(c => c.Begin is not null).ToList();
        var sessions = model.Begin(begins.Select(c => (c.Begin!.Prompt, c.Begin.Request, c.Begin.Options)).ToList(), this);
        for (var i = 0; i < begins.Count; i++) begins[i].Result = sessions[i];
        Together(calls.Where(c => c.Requests is not null).ToList(), c => c.Requests!.Select(r => (c.Session!, r)).ToList(), model.Extend);
        Together(calls.Where(c => c.Answers is not null).ToList(), c => c.Answers!.Select(a => (c.Session!, a)).ToList(), model.Judge);
    }
}
