using System.Collections.Concurrent;

namespace SelfAlign.Rain;

/// <summary>
/// Searches prompts as they arrive (a server's RAIN requests) on one <see cref="RainDecoder"/>: up to
/// <see cref="PromptsAtOnce"/> searches advance together with their work in shared decode calls, and a finished
/// search's place goes to the next waiting prompt. While it lives the decoder searches only through it.
/// Disposing stops it: running and waiting searches end with <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class RainScheduler : IDisposable
{
    private readonly RainDecoder _decoder;
    private readonly BlockingCollection<RainBatchJob> _queue = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _loop;
    private int _disposed;
    private int _searching;

    /// <summary>Starts serving <paramref name="decoder"/>'s context; each search runs under the decoder's options unless a request overrides them.</summary>
    /// <exception cref="InvalidOperationException">The decoder already has a scheduler.</exception>
    public RainScheduler(RainDecoder decoder)
    {
        decoder.Attach(this);
        _decoder = decoder;
        PromptsAtOnce = decoder.PromptsAtOnce();
        var model = decoder.RainModel;
        // the loop thread is the one thread that decodes; the searches run on workers of their own
        _loop = new Thread(() => new RainSearchBatch(model).Run(Take, PromptsAtOnce, stopAtFirstError: false)) { IsBackground = true, Name = "rain-scheduler" };
        _loop.Start();
    }

    /// <summary>How many searches run at once: as many as the context's KV sequences hold with the decoder's options.</summary>
    public int PromptsAtOnce { get; }

    /// <summary>Prompts submitted and not yet begun.</summary>
    public int Waiting => Volatile.Read(ref _disposed) != 0 ? 0 : _queue.Count;

    /// <summary>Searches begun and not finished.</summary>
    public int Searching => Volatile.Read(ref _searching);

    /// <summary>
    /// Answers <paramref name="prompt"/> with RAIN once a place is free (see <see cref="RainDecoder.Generate"/>); cancelling
    /// <paramref name="cancellationToken"/> ends this search alone. A result's statistics are its search's; decode
    /// figures belong to the shared calls and are not split per prompt.
    /// </summary>
    /// <exception cref="PromptTooLongException">The prompt and the judge prompt with a full answer do not fit the context.</exception>
    /// <exception cref="InvalidInputException"><paramref name="overrides"/> change what the context was built for, or need more KV sequences per prompt than the decoder's options.</exception>
    public Task<RainResult> GenerateAsync(string prompt, string? userRequest = null, RainOptions? overrides = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var options = _decoder.Accept(overrides).ForManyAtOnce();
        if (_decoder.PromptsAtOnce(options) < PromptsAtOnce)
            throw new InvalidInputException($"this scheduler runs {PromptsAtOnce} searches at once, sized for {_decoder.Options.ForManyAtOnce().Leaves} leaves per round " +
                                            $"and {_decoder.Options.Rollouts} rollouts; a request may not ask for more");
        var done = new TaskCompletionSource<RainResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        RainBatchJob job;
        try
        {
            job = _decoder.SearchJob(prompt, userRequest, options, (answer, error) =>
            {
                Interlocked.Decrement(ref _searching);
                cancel.Dispose();
                if (answer is not null) done.TrySetResult(answer);
                else if (error is OperationCanceledException || _stop.IsCancellationRequested) done.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : _stop.Token);
                else done.TrySetException(error!);
            }, cancel.Token);
        }
        catch
        {
            cancel.Dispose(); // the prompt did not fit: nothing was queued
            throw;
        }
        try { _queue.Add(job, _stop.Token); }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
            cancel.Dispose();
            throw new ObjectDisposedException(nameof(RainScheduler));
        }
        return done.Task;
    }

    private RainBatchJob? Take()
    {
        try
        {
            var job = _queue.Take(_stop.Token);
            Interlocked.Increment(ref _searching);
            return job;
        }
        catch (OperationCanceledException) { return null; }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _queue.CompleteAdding();
        _loop.Join();
        while (_queue.TryTake(out var left))
        {
            Interlocked.Increment(ref _searching); // its Done counts it out
            left.Done(null, new OperationCanceledException(_stop.Token), 0);
        }
        _decoder.RainModel.Reset();
        _decoder.Attach(null);
        _queue.Dispose();
        _stop.Dispose();
    }
}
