using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using SelfAlign.Models;

namespace SelfAlign.Generation;

/// <summary>
/// The single engine loop that owns a <see cref="LlamaContext"/>: every request is scheduled, decoded
/// and updated from the output by one thread, one <c>llama_decode</c> per step for all running
/// sequences (continuous batching: a finished sequence's slot goes to the next waiting request).
/// Shared prompt prefixes are evaluated once and forked into each sequence through the KV cache.
/// All public methods are thread-safe.
/// </summary>
public sealed partial class GenerationEngine : ITextGenerator, ITextScorer
{
    private readonly LlamaContext _ctx;
    private readonly EngineOptions _options;
    private readonly Vocabulary _vocab;
    private readonly ConcurrentQueue<object> _incoming = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Thread _thread;
    private volatile bool _stopping;
    // Submit and Dispose take it, so a request is either refused or queued before the loop's last drain: never lost.
    private readonly Lock _lifecycle = new();
    private readonly Stack<int> _freeSequences = new();
    private readonly List<Slot> _active = [];
    private readonly Queue<Slot> _waiting = new();
    private readonly Queue<ScoringJob> _scoring = new();
    private readonly Dictionary<string, PrefixEntry> _prefixes = new(StringComparer.Ordinal);
    private readonly TokenBatch _batch;
    private readonly int _maxParallel;
    private int _cellsInUse;
    private long _tokensGenerated;
    private volatile EngineLoad _load = new(0, 0, 0);

    /// <summary>The options the engine was made with.</summary>
    public EngineOptions Options => _options;

    public GenerationEngine(LlamaModel model, EngineOptions? options = null)
    {
        _options = options ?? new EngineOptions();
        _ctx = new LlamaContext(model, _options.Context);
        _vocab = model.Vocabulary;
        _batch = new TokenBatch(_ctx.BatchSize);
        for (var s = _ctx.MaxSequences - 1; s >= 0; s--) _freeSequences.Push(s);
        _maxParallel = _options.MaxParallel > 0 ? Math.Min(_options.MaxParallel, _ctx.MaxSequences) : _ctx.MaxSequences;
        _thread = new Thread(Loop) { IsBackground = true, Name = "SelfAlign engine loop" };
        _thread.Start();
    }

    public LlamaModel Model => _ctx.Model;
    public Vocabulary Vocabulary => _vocab;
    public int ContextSize => _ctx.ContextSize;
    /// <summary>Decode calls and tokens evaluated since the engine started.</summary>
    public (long DecodeCalls, long TokensDecoded) Statistics => (_ctx.DecodeCalls, _ctx.TokensDecoded);

    /// <summary>What the engine is doing now (as of its latest step), for monitoring; safe to read from any thread.</summary>
    public EngineLoad Load
    {
        get
        {
            var load = _load; // one snapshot
            return load with { Waiting = load.Waiting + _incoming.Count };
        }
    }

    /// <summary>Completes one request.</summary>
    /// <exception cref="PromptTooLongException">the prompt plus MaxNewTokens does not fit the context.</exception>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default) =>
        Submit(request, null, cancellationToken).Completion.Task;

    /// <summary>Completes one request, yielding text as it becomes final (stop strings are never streamed).
    /// Leaving the enumeration early cancels the request.</summary>
    public async IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(
        GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var slot = Submit(request, channel.Writer, abandon.Token);
        try
        {
            await foreach (var update in channel.Reader.ReadAllAsync(CancellationToken.None))
            {
                // updates already made are not handed out once the caller has cancelled
                cancellationToken.ThrowIfCancellationRequested();
                yield return update;
            }
            await slot.Completion.Task;
        }
        finally
        {
            if (!slot.IsFinished) abandon.Cancel();
        }
    }

    /// <summary>Submits all requests at once and yields each result as it finishes, with its index.
    /// Leaving the enumeration early cancels the requests not yet finished.</summary>
    public async IAsyncEnumerable<(int Index, GenerationResult Result)> GenerateBatchAsync(
        IReadOnlyList<GenerationRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new Dictionary<Task<GenerationResult>, int>();
        try
        {
            for (var i = 0; i < requests.Count; i++) tasks[Submit(requests[i], null, abandon.Token).Completion.Task] = i;
            await foreach (var done in Task.WhenEach(tasks.Keys)) yield return (tasks[done], await done);
        }
        finally
        {
            if (tasks.Keys.Any(t => !t.IsCompleted)) abandon.Cancel();
        }
    }

    /// <summary>Log-probabilities of each continuation given its context, evaluated together in few decode calls.</summary>
    public Task<IReadOnlyList<ScoreResult>> ScoreAsync(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellationToken = default)
    {
        var job = new ScoringJob(requests.Select(PrepareScoring).ToList(), cancellationToken);
        Enqueue(job);
        return job.Completion.Task;
    }

    /// <summary>The prompt's token ids as the engine will evaluate them.</summary>
    public (int[] Prefix, int[] Suffix) TokenizePrompt(GenerationRequest r)
    {
        if (r.SharedPrefix is null) return ([], _vocab.Tokenize(r.Prompt, r.AddSpecialTokens, r.ParseSpecialTokens));
        return (_vocab.Tokenize(r.SharedPrefix, r.AddSpecialTokens, r.ParseSpecialTokens),
                _vocab.Tokenize(r.Prompt, addSpecial: false, r.ParseSpecialTokens));
    }

    private Slot Submit(GenerationRequest request, ChannelWriter<GenerationUpdate>? stream, CancellationToken ct)
    {
        request.Validate();
        foreach (var token in request.Sampling.LogitBias.Keys.Concat(request.Sampling.BannedTokens))
            if ((uint)token >= (uint)_vocab.Count)
                throw new InvalidInputException($"token id {token} in the logit bias or banned tokens is not in the vocabulary (ids 0..{_vocab.Count - 1})");
        var (prefix, suffix) = TokenizePrompt(request);
        var total = prefix.Length + suffix.Length;
        if (total == 0) throw new InvalidInputException("the prompt is empty and the model adds no BOS token");
        if (total + request.MaxNewTokens > _ctx.SequenceCapacity) throw new PromptTooLongException(total, request.MaxNewTokens, _ctx.SequenceCapacity);
        var slot = new Slot(request, prefix, suffix, stream, _vocab, ct);
        Enqueue(slot);
        return slot;
    }

    private ScoringItem PrepareScoring(ScoringRequest r)
    {
        var context = _vocab.Tokenize(r.Context);
        var whole = _vocab.Tokenize(r.Context + r.Continuation);
        // Score the continuation's tokens as the whole text tokenises, when the context's tokens are its prefix.
        var continuation = whole.AsSpan().StartsWith(context) && whole.Length > context.Length
            ? whole[context.Length..]
            : _vocab.Tokenize(r.Continuation, addSpecial: false);
        if (context.Length == 0) throw new InvalidInputException("scoring needs a non-empty context");
        if (continuation.Length == 0) throw new InvalidInputException("scoring needs a non-empty continuation");
        var tokens = context.Concat(continuation).ToArray();
        if (tokens.Length > _ctx.SequenceCapacity) throw new PromptTooLongException(tokens.Length, 0, _ctx.SequenceCapacity);
        return new ScoringItem(tokens, context.Length);
    }

    private void Enqueue(object job)
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            _incoming.Enqueue(job);
            _signal.Release();
        }
    }

    public void Dispose()
    {
        lock (_lifecycle)
        {
            if (_stopping) return;
            _stopping = true;
            _signal.Release();
        }
        _thread.Join();
        _batch.Dispose();
        _ctx.Dispose();
        _signal.Dispose();
    }

    // ------------------------------------------------------------------ the loop

    private void Loop()
    {
        while (!_stopping)
        {
            while (_incoming.TryDequeue(out var job))
            {
                if (job is Slot s) _waiting.Enqueue(s);
                else if (job is LoopWork w) _work.Enqueue(w);
                else _scoring.Enqueue((ScoringJob)job);
            }
            if (_active.Count == 0 && _waiting.Count == 0 && _scoring.Count == 0 && _work.Count == 0)
            {
                _signal.Wait();
                continue;
            }
            try
            {
                RunScoringJobs();
                Admit();
                // a share's decodes carry the running requests' tokens; they step on their own unless one of those stepped them all
                if (!RunLoopWork() && _active.Count > 0) Step();
            }
            catch (Exception e)
            {
                FailAll(e);
            }
            _load = new EngineLoad(_active.Count, _waiting.Count + _scoring.Count, _tokensGenerated);
        }
        FailAll(new ObjectDisposedException(nameof(GenerationEngine)));
    }

    /// <summary>Moves waiting requests into free sequences while the KV cache has room for them (FIFO).</summary>
    private void Admit()
    {
        while (_waiting.Count > 0 && _active.Count < _maxParallel)
        {
            var slot = _waiting.Peek();
            if (slot.Cancellation.IsCancellationRequested) { _waiting.Dequeue(); slot.Cancel(); continue; }

            // llama.cpp copies a sequence's cells into another only within one shared cache (across per-sequence caches it aborts)
            var share = _options.PrefixSharing && _ctx.IsUnified && slot.PrefixTokens.Length > 0 && !slot.Request.PromptLogProbabilities;
            PrefixEntry? prefix = null;
            if (share) _prefixes.TryGetValue(slot.Request.SharedPrefix!, out prefix);
            // A forked request holds only its suffix (or the re-fed last prefix token when the suffix is empty).
            var ownCells = (share ? Math.Max(1, slot.SuffixTokens.Length) : slot.PrefixTokens.Length + slot.SuffixTokens.Length) + slot.Request.MaxNewTokens;
            var newCells = ownCells + (share && prefix is null ? slot.PrefixTokens.Length : 0);
            var idsNeeded = share && prefix is null ? 2 : 1;
            if (Unfit(newCells, idsNeeded) is { } problem) { _waiting.Dequeue(); slot.Fail(new InvalidInputException(problem)); continue; }
            if (!MakeRoom(newCells, idsNeeded, keep: prefix)) return;

            _waiting.Dequeue();
            slot.Sequence = _freeSequences.Pop(); // before the prefix takes its own: the ids, and so the decode layout, stay as runs had them
            if (share && prefix is null)
            {
                prefix = EvaluatePrefix(slot);
                if (prefix is null) { _freeSequences.Push(slot.Sequence); slot.Cancel(); continue; }
            }
            slot.ReservedCells = ownCells;
            _cellsInUse += ownCells;
            if (share)
            {
                prefix!.References++;
                prefix.LastUsed = Stopwatch.GetTimestamp();
                slot.Prefix = prefix;
                slot.StartFromPrefix(_ctx, prefix);
            }
            else slot.StartFromScratch();
            _active.Add(slot);
        }
    }

    /// <summary>Why a request could never be admitted, even into an empty engine; null when it can be.</summary>
    private string? Unfit(int cells, int sequenceIds)
    {
        if (sequenceIds > SequenceLimit)
            return $"a request with a shared prefix needs {sequenceIds} KV sequences but the engine has {SequenceLimit}; " +
                   "raise ContextOptions.MaxSequences or turn EngineOptions.PrefixSharing off";
        if (_ctx.IsUnified && cells > CellLimit)
            return $"a request needs {cells} KV cells but the engine has {CellLimit}; raise ContextOptions.ContextSize";
        return null;
    }

    /// <summary>Frees unused cached prefixes (least recently used first) until the request fits; false while running
    /// requests hold what it needs.</summary>
    private bool MakeRoom(int cells, int sequenceIds, PrefixEntry? keep)
    {
        // With per-sequence caches every sequence has its own cells, so only sequence ids are scarce.
        while ((_ctx.IsUnified && _cellsInUse + cells > CellLimit) || _freeSequences.Count < sequenceIds)
        {
            var victim = _prefixes.Values.Where(p => p.References == 0 && p != keep).MinBy(p => p.LastUsed);
            if (victim is null) return false;
            _prefixes.Remove(victim.Text);
            _ctx.RemoveTokens(victim.Sequence);
            _freeSequences.Push(victim.Sequence);
            _cellsInUse -= victim.Tokens.Length;
        }
        return true;
    }

    /// <summary>Evaluates the slot's shared prefix into a sequence of its own; null when the slot was cancelled (or
    /// the engine disposed) meanwhile, with nothing of it kept.</summary>
    private PrefixEntry? EvaluatePrefix(Slot slot)
    {
        var (text, tokens) = (slot.Request.SharedPrefix!, slot.PrefixTokens);
        var entry = new PrefixEntry(text, tokens, _freeSequences.Pop());
        _cellsInUse += tokens.Length;
        try
        {
            _ctx.AbortWhen = () => _stopping || slot.Cancellation.IsCancellationRequested;
            for (var start = 0; start < tokens.Length; start += _batch.Capacity)
            {
                slot.Cancellation.ThrowIfCancellationRequested();
                _batch.Clear();
                var end = Math.Min(tokens.Length, start + _batch.Capacity);
                for (var i = start; i < end; i++) _batch.Add(tokens[i], i, entry.Sequence, wantLogits: false);
                _ctx.Decode(_batch);
            }
        }
        catch (OperationCanceledException)
        {
            _ctx.RemoveTokens(entry.Sequence);
            _freeSequences.Push(entry.Sequence);
            _cellsInUse -= tokens.Length;
            return null;
        }
        finally { _ctx.AbortWhen = null; }
        _prefixes[text] = entry;
        return entry;
    }

    /// <summary>One decode for every running sequence: one token each while generating, prompt chunks in the room left.</summary>
    private void Step()
    {
        _batch.Clear();
        var step = Fill(_batch);
        // A batch carrying prompt chunks is stopped as soon as every request in it is cancelled (their cells go below);
        // one-token steps are short, and cancellation is checked between them.
        var decoded = true;
        if (_batch.Count > step.InBatch.Count) _ctx.AbortWhen = () => _stopping || step.InBatch.TrueForAll(s => s.Cancellation.IsCancellationRequested);
        try { _ctx.Decode(_batch); }
        catch (OperationCanceledException) { decoded = false; }
        finally { _ctx.AbortWhen = null; }
        Finish(step, decoded);
    }

    /// <summary>What one step put in a batch: the requests in it, the tokens each fed, and the outputs to read.</summary>
    private sealed record StepPlan(List<Slot> InBatch, List<(Slot Slot, int Count)> Fed, List<(Slot Slot, int Index, int Next)> Outputs)
    {
        /// <summary>Every running request got a token in: the batch stepped them all.</summary>
        public bool StepsAll => Fed.Count == InBatch.Count;
    }

    /// <summary>Adds every running request's next tokens to <paramref name="batch"/> in the room it has left.</summary>
    private StepPlan Fill(TokenBatch batch)
    {
        // Next is the prompt token whose log-probability the output gives, or -1 when the output is sampled from.
        var step = new StepPlan([], [], []);
        foreach (var slot in _active.OrderBy(s => s.Pending.Length))
        {
            if (slot.Cancellation.IsCancellationRequested) continue;
            step.InBatch.Add(slot);
            var room = batch.Capacity - batch.Count;
            var n = Math.Min(room, slot.Pending.Length - slot.PendingOffset);
            if (n <= 0) continue;
            step.Fed.Add((slot, n));
            var scoresPrompt = slot.ScoresPrompt;
            for (var k = 0; k < n; k++)
            {
                var j = slot.PendingOffset++;
                var isLast = j + 1 == slot.Pending.Length;
                var index = batch.Add(slot.Pending[j], slot.Position++, slot.Sequence, isLast || scoresPrompt);
                if (isLast || scoresPrompt) step.Outputs.Add((slot, index, isLast ? -1 : slot.Pending[j + 1]));
            }
        }
        return step;
    }

    /// <summary>Takes back what <see cref="Fill"/> added: the batch was not decoded.</summary>
    private static void Unfill(StepPlan step)
    {
        foreach (var (slot, n) in step.Fed)
        {
            slot.PendingOffset -= n;
            slot.Position -= n;
        }
    }

    /// <summary>Samples from the step's outputs once decoded, and releases the requests that finished or were cancelled.</summary>
    private void Finish(StepPlan step, bool decoded)
    {
        // A request whose sampling fails (a bad logit bias, say) fails alone; the others go on.
        if (decoded)
            foreach (var (slot, index, next) in step.Outputs)
            {
                try
                {
                    var logits = _ctx.GetLogits(index);
                    var top = slot.Request.LogProbabilities ?? 0;
                    if (next >= 0) { slot.AcceptPromptToken(LogitMath.LogProbability(logits, next, top, Scratch(logits.Length))); continue; }
                    if (slot.Request.MaxNewTokens == 0) { slot.FinishPrompt(); continue; }
                    var token = slot.Sampler.Sample(logits, slot.Generated);
                    slot.Accept(token, slot.LogProbabilities is null ? null : LogitMath.LogProbability(logits, token, top, Scratch(logits.Length)));
                    _tokensGenerated++;
                }
                catch (Exception e) { slot.Fail(e); }
            }

        for (var i = _active.Count - 1; i >= 0; i--)
        {
            var slot = _active[i];
            if (slot.Cancellation.IsCancellationRequested && !slot.IsFinished) slot.Cancel();
            if (!slot.IsFinished) continue;
            _active.RemoveAt(i);
            Release(slot);
        }
    }

    private void Release(Slot slot)
    {
        _ctx.RemoveTokens(slot.Sequence);
        _freeSequences.Push(slot.Sequence);
        _cellsInUse -= slot.ReservedCells;
        if (slot.Prefix is { } p) p.References--;
    }

    private void FailAll(Exception e)
    {
        foreach (var slot in _active) { slot.Fail(e); Release(slot); }
        _active.Clear();
        while (_waiting.TryDequeue(out var w)) w.Fail(e);
        while (_scoring.TryDequeue(out var j)) j.Completion.TrySetException(e);
        while (_work.TryDequeue(out var w)) w.Fail(e);
        while (_incoming.TryDequeue(out var job))
        {
            if (job is Slot s) s.Fail(e);
            else if (job is LoopWork lw) lw.Fail(e);
            else ((ScoringJob)job).Completion.TrySetException(e);
        }
    }

    /// <summary>A snapshot of the engine's work: requests decoding, requests waiting for a sequence, tokens generated so far.</summary>
    public sealed record EngineLoad(int Running, int Waiting, long TokensGenerated);

    /// <summary>A cached, evaluated shared prefix living in its own KV sequence.</summary>
    private sealed class PrefixEntry(string text, int[] tokens, int sequence)
    {
        public string Text { get; } = text;
        public int[] Tokens { get; } = tokens;
        public int Sequence { get; } = sequence;
        public int References { get; set; }
        public long LastUsed { get; set; }
    }
}
