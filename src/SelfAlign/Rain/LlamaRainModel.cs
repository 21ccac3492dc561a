using SelfAlign.Data;
using System.Numerics.Tensors;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN's model on llama.cpp. Tree paths live as KV-cache sequences: a path is forked (seq_cp, no copy) from the
/// longest cached prefix and only its new tokens are decoded; rollouts, simulations and both judge orders of a
/// whole round go through shared decode calls. The judge's fixed prompt is decoded once per decoder, the
/// conversation header once per prompt, and the judged answer is appended to the longest cached judged prefix.
/// With <see cref="RainOptions.UseCache"/> off every request is decoded on its own and every next token
/// recomputes its whole context, as the reference does, and the search chooses the same tokens.
/// </summary>
internal sealed class LlamaRainModel : IRainModel, IDisposable
{
    private readonly LlamaContext _ctx;
    private readonly LlamaContext? _embedder;
    private readonly Vocabulary _vocab;
    private RainOptions _o;
    private readonly TokenBatch _batch;
    private readonly Stack<int> _free = new();
    private readonly int[] _judgePrefix;
    private readonly int[][] _suffixes;
    /// <summary>How many leading suffix tokens every order has in common.</summary>
    private readonly int _sharedSuffix;
    private readonly (int Good, int Bad)[] _labels;
    private readonly float[] _probabilities;
    private readonly PrefixCache _generation = new();
    private readonly PrefixCache _judge = new();
    private readonly PrefixCache _judgeFixed = new();
    private int[] _judgeHeader = [];
    private long _clock;

    public long ReusedTokens { get; private set; }

    public LlamaRainModel(LlamaModel model, RainJudge judge, RainOptions options, IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        CheckSequences(options, judge.Orders.Count);
        _o = options;
        _vocab = model.Vocabulary;
        _labels = judge.LabelTokens(_vocab).ToArray();
        _ctx = new LlamaContext(model, new ContextOptions
        {
            ContextSize = options.ContextSize, MaxSequences = Sequences, Threads = options.Threads, BatchSize = 512,
            Embeddings = options.Similarity == RainSimilarity.Model, LoraAdapters = adapters,
        });
        if (options.Similarity == RainSimilarity.EmbeddingModel)
        {
            var embedding = LlamaModel.Load(options.EmbeddingModelPath!);
            _embedder = new LlamaContext(embedding, new ContextOptions { ContextSize = 2048, MaxSequences = 1, Embeddings = true, Threads = options.Threads });
        }
        _batch = new TokenBatch(_ctx.BatchSize, maxSequencesPerToken: 1 + judge.Orders.Count);
        _probabilities = new float[_ctx.VocabularySize];
        _judgePrefix = _vocab.Tokenize(judge.Prefix, addSpecial: true, parseSpecial: true);
        // the suffix follows answer text, never the start of a text
        _suffixes = judge.Orders.Select(o => _vocab.TokenizeContinuation("x", o.Suffix)).ToArray();
        _sharedSuffix = Enumerable.Range(0, _suffixes.Min(x => x.Length) - 1).TakeWhile(i => _suffixes.All(x => x[i] == _suffixes[0][i])).Count();
        Judgement = judge;
        Reset();
        MaterializeJudgeFixed();
    }

    private void MaterializeJudgeFixed()
    {
        if (_o.UseCache) _judgeFixed.SetRoot(Materialize(_judgePrefix, [], null, needOutput: false), _judgePrefix);
    }

    /// <summary>Empties the KV cache and every cached path (the judge's fixed part is decoded again by the next
    /// <see cref="Begin"/>): after a stopped decode, whose cells and sequences no cache entry accounts for.</summary>
    public void Reset()
    {
        _ctx.ClearCache();
        _generation.Forget();
        _judge.Forget();
        _judgeFixed.Forget();
        _free.Clear();
        for (var s = _ctx.MaxSequences - 1; s >= 0; s--) _free.Push(s);
    }

    /// <summary>Searches from now on with <paramref name="options"/>: the constants and limits may change between prompts;
    /// what the context was built for (cache use, similarity source, context size, threads) may not.</summary>
    public void Use(RainOptions options)
    {
        string? changed = options.UseCache != _o.UseCache ? "use-cache"
            : options.Similarity != _o.Similarity || options.EmbeddingModelPath != _o.EmbeddingModelPath ? "similarity"
            : options.ContextSize != _o.ContextSize ? "context size"
            : options.Threads != _o.Threads ? "threads" : null;
        if (changed != null) throw new InvalidInputException($"RAIN's {changed} is fixed when the decoder is made; make another decoder to change it");
        CheckSequences(options, _suffixes.Length);
        _o = options;
    }

    /// <summary>
    /// Refuses settings whose round could need more KV sequences than the context holds, before any search: per leaf a
    /// base, its rollouts and a simulation, and one judge sequence plus one per option order; beside them the prompt's,
    /// the judge header's and the judge prefix's.
    /// </summary>
    private static void CheckSequences(RainOptions o, int orders)
    {
        var needed = 3 + o.LeavesPerRound * (o.Rollouts + orders + 3);
        if (needed > Sequences)
            throw new InvalidInputException($"RAIN with {o.LeavesPerRound} leaves per round and {o.Rollouts} rollouts may need {needed} KV sequences in a round " +
                                            $"(leaves x (rollouts + judge orders + 3) + 3); its context holds {Sequences}: lower the leaves per round or the rollouts");
    }

    private const int Sequences = 256;

    public RainJudge Judgement { get; }
    public LlamaContext Context => _ctx;
    public int JudgeSuffixLength => _suffixes.Max(s => s.Length);

    /// <summary>Starts a new prompt: drops every cached path of the previous one and decodes the prompt and the judge header.</summary>
    public void Begin(int[] prompt, string userRequest)
    {
        _generation.Clear(this);
        _judge.Clear(this);
        _judgeHeader = [.. _judgePrefix, .. Judgement.ConversationTokens(_vocab, userRequest)];
        _generation.RootTokens = prompt;
        _judge.RootTokens = _judgeHeader;
        if (!_o.UseCache) return;
        // The judge's instruction and examples are decoded once per decoder, and again after a Reset.
        if (_judgeFixed.Root is null) MaterializeJudgeFixed();
        _generation.SetRoot(Materialize(prompt, [], null, needOutput: false), prompt);
        var seq = Alloc();
        _ctx.CopySequence(_judgeFixed.Root!.Seq, seq);
        ReusedTokens += _judgePrefix.Length;
        var plan = new List<Item>();
        for (var i = _judgePrefix.Length; i < _judgeHeader.Length; i++) plan.Add(new Item(_judgeHeader[i], i, [seq], null));
        Run(plan);
        _judge.SetRoot(seq, _judgeHeader);
    }

    /// <summary>An answer's tokens as the model would write them after the judge's conversation header (special-token
    /// names in a screened answer stay text).</summary>
    public int[] AnswerTokens(string userRequest, string answer) =>
        _vocab.TokenizeContinuation(Judgement.Header(userRequest), answer, parseSpecial: false);

    public string Text(ReadOnlySpan<int> tokens) => _vocab.Detokenize(tokens);
    public bool IsEndOfGeneration(int token) => _vocab.IsEndOfGeneration(token);

    // ---------------- extension: top tokens, rollouts, simulations ----------------

    private sealed class Branch(RainExtendRequest request, int seq, Random random)
    {
        public RainExtendRequest Request { get; } = request;
        public int Seq { get; } = seq;
        public Random Random { get; } = random;
        public List<int> Tokens { get; } = [];
        public double Probability { get; set; } = 1;
        public bool Greedy { get; init; }
        public bool Done { get; set; }
    }

    public IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests)
    {
        if (_o.UseCache) return ExtendBatch(requests);
        // without the cache, every rollout recomputes its whole context on its own, as the reference does
        return requests.Select(r => new RainExtension(r.Kind == RainExtendKind.Rollouts
            ? Enumerable.Range(0, r.Count).SelectMany(b => ExtendBatch([r], onlyBranch: b)[0].Sequences).ToList()
            : ExtendBatch([r])[0].Sequences)).ToList();
    }

    private List<RainExtension> ExtendBatch(IReadOnlyList<RainExtendRequest> requests, int onlyBranch = -1)
    {
        var results = new List<(int[] Tokens, double Probability)>[requests.Count];
        var branches = new List<(int Request, Branch Branch)>();
        var bases = new Dictionary<string, int>();
        var basePlan = new List<Item>();
        var baseStarts = new List<(int[] Path, int Seq, List<int> Requests)>();

        // step 0: one base sequence per distinct path, with logits at its end
        for (var r = 0; r < requests.Count; r++)
        {
            var key = RainSearch.Key(requests[r].Path);
            if (!bases.TryGetValue(key, out var b))
            {
                b = baseStarts.Count;
                bases[key] = b;
                baseStarts.Add((requests[r].Path, -1, []));
            }
            baseStarts[b].Requests.Add(r);
        }
        for (var b = 0; b < baseStarts.Count; b++)
        {
            var (path, _, owners) = baseStarts[b];
            var seq = MaterializeInto(_generation, path, basePlan, needOutput: true, onOutput: index =>
            {
                Softmax(_ctx.GetLogits(index), _o.Temperature);
                foreach (var r in owners) StartBranches(requests[r], r, results, branches, onlyBranch);
            });
            baseStarts[b] = (path, seq, owners);
        }
        // every branch of a base starts as a fork of it, made after the base is decoded
        Run(basePlan, afterOutputs: () =>
        {
            foreach (var (_, branch) in branches)
                _ctx.CopySequence(baseStarts[bases[RainSearch.Key(branch.Request.Path)]].Seq, branch.Seq);
        });

        // steps 1..: each active branch decodes its last token and picks the next
        while (branches.Any(b => !b.Branch.Done))
        {
            var plan = new List<Item>();
            foreach (var (_, branch) in branches.Where(b => !b.Branch.Done))
            {
                var position = _generation.RootTokens.Length + branch.Request.Path.Length + branch.Tokens.Count - 1;
                if (_o.UseCache)
                {
                    plan.Add(new Item(branch.Tokens[^1], position, [branch.Seq], index => Continue(branch, _ctx.GetLogits(index))));
                    continue;
                }
                // without the cache every next token recomputes its whole context (the reference's use_cache=False)
                _ctx.RemoveTokens(branch.Seq);
                var tokens = (int[])[.. _generation.RootTokens, .. branch.Request.Path, .. branch.Tokens];
                for (var i = 0; i < tokens.Length; i++)
                    plan.Add(new Item(tokens[i], i, [branch.Seq], i == tokens.Length - 1 ? index => Continue(branch, _ctx.GetLogits(index)) : null));
            }
            Run(plan);
        }

        foreach (var (r, branch) in branches)
        {
            results[r].Add((branch.Tokens.ToArray(), branch.Probability));
            if (branch.Request.Kind == RainExtendKind.Rollouts && _o.UseCache)
                _generation.Add(this, [.. branch.Request.Path, .. branch.Tokens], branch.Seq, decoded: branch.Request.Path.Length + branch.Tokens.Count - 1);
            else Release(branch.Seq);
        }
        foreach (var (path, seq, _) in baseStarts)
            if (_o.UseCache) _generation.Add(this, path, seq, decoded: path.Length);
            else Release(seq);
        return results.Select(r => new RainExtension(r)).ToList();
    }

    private void StartBranches(RainExtendRequest request, int r, List<(int[] Tokens, double Probability)>[] results, List<(int, Branch)> branches, int onlyBranch)
    {
        results[r] = [];
        var p = _probabilities;
        if (request.Kind == RainExtendKind.TopTokens)
        {
            foreach (var t in TokenSampler.TopIndices(p, request.Count)) results[r].Add(([t], p[t]));
            return;
        }
        var count = request.Kind == RainExtendKind.Simulation ? 1 : request.Count;
        for (var i = 0; i < count; i++)
        {
            if (onlyBranch >= 0 && i != onlyBranch) continue;
            // each branch has its own stream, so the tokens do not depend on the order branches are decoded in
            var seed = request.Seed + (ulong)i * 0x9E3779B97F4A7C15UL;
            var branch = new Branch(request, Alloc(), Seeds.Random(seed)) { Greedy = request.Kind == RainExtendKind.Rollouts && i == 0 };
            var token = Pick(branch, p);
            Accept(branch, token, p[token]);
            branches.Add((r, branch));
        }
    }

    private void Continue(Branch branch, ReadOnlySpan<float> logits)
    {
        Softmax(logits, _o.Temperature);
        var token = Pick(branch, _probabilities);
        Accept(branch, token, _probabilities[token]);
    }

    private int Pick(Branch branch, float[] p) =>
        branch.Greedy ? TensorPrimitives.IndexOfMax(p)
        : branch.Request.Kind == RainExtendKind.Simulation ? Draw(p, null, branch.Random)
        : Draw(p, TokenSampler.TopIndices(p, _o.RolloutTopK), branch.Random);

    /// <summary>Appends the token and decides whether the branch is finished.</summary>
    private void Accept(Branch branch, int token, float probability)
    {
        branch.Tokens.Add(token);
        branch.Probability *= probability;
        var full = branch.Tokens.Count >= branch.Request.Length;
        if (_vocab.IsEndOfGeneration(token) || full) { branch.Done = true; return; }
        if (branch.Request.Kind != RainExtendKind.Simulation) return;
        var text = Text([.. branch.Request.Path, .. branch.Tokens]);
        if (RainText.EndsAtBoundary(text) || _o.FindStop(text) >= 0) branch.Done = true;
    }

    private static int Draw(float[] p, int[]? candidates, Random random)
    {
        if (candidates is null)
        {
            var u = random.NextDouble();
            for (var i = 0; i < p.Length; i++) if ((u -= p[i]) <= 0) return i;
            return TensorPrimitives.IndexOfMax(p);
        }
        var total = 0.0;
        foreach (var c in candidates) total += p[c];
        var draw = random.NextDouble() * total;
        foreach (var c in candidates) if ((draw -= p[c]) <= 0) return c;
        return candidates[^1];
    }

    private void Softmax(ReadOnlySpan<float> logits, float temperature) => LogitMath.Softmax(logits, temperature, _probabilities);

    // ---------------- self-evaluation ----------------

    public IReadOnlyList<RainJudgement> Judge(IReadOnlyList<int[]> answers)
    {
        if (!_o.UseCache) return answers.Select(JudgeAlone).ToList();
        var orders = _suffixes.Length;
        var good = answers.Select(_ => new double[orders]).ToArray();
        var bad = answers.Select(_ => new double[orders]).ToArray();
        var embeddings = new float[]?[answers.Count];
        var plan = new List<Item>();
        var forks = new List<int>();
        var judged = new List<(int[] Answer, int Seq)>();
        for (var a = 0; a < answers.Count; a++)
        {
            var answer = answers[a];
            var index = a;
            var entry = _judge.Longest(answer, ++_clock);
            var needEmbedding = _o.Similarity == RainSimilarity.Model;
            var root = _judgeHeader.Length;
            var keep = Math.Min(entry.Decoded, answer.Length - (needEmbedding ? 1 : 0));
            if (keep < 0) keep = 0;
            var seqs = new int[1 + orders];
            for (var s = 0; s < seqs.Length; s++)
            {
                seqs[s] = Alloc();
                _ctx.CopySequence(entry.Seq, seqs[s]);
                _ctx.RemoveTokens(seqs[s], root + keep);
            }
            ReusedTokens += keep;
            for (var i = keep; i < answer.Length; i++)
            {
                Action<int>? onOutput = needEmbedding && i == answer.Length - 1 ? k => embeddings[index] = _ctx.GetEmbedding(k).ToArray() : null;
                plan.Add(new Item(answer[i], root + i, seqs, onOutput));
            }
            // the orders' suffixes share their first tokens ("Question: ..."): decoded once for every order's fork
            var orderSeqs = seqs[1..];
            forks.AddRange(orderSeqs);
            for (var i = 0; i < _sharedSuffix; i++) plan.Add(new Item(_suffixes[0][i], root + answer.Length + i, orderSeqs, null));
            for (var o = 0; o < orders; o++)
            {
                var order = o;
                var seq = seqs[1 + o];
                for (var i = _sharedSuffix; i < _suffixes[o].Length; i++)
                {
                    var last = i == _suffixes[o].Length - 1;
                    plan.Add(new Item(_suffixes[o][i], root + answer.Length + i, [seq], last ? k =>
                    {
                        var logits = _ctx.GetLogits(k);
                        good[index][order] = logits[_labels[order].Good];
                        bad[index][order] = logits[_labels[order].Bad];
                    } : null));
                }
            }
            judged.Add((answer, seqs[0]));
        }
        Run(plan);
        foreach (var seq in forks) Release(seq);
        foreach (var (answer, seq) in judged) _judge.Add(this, answer, seq, decoded: answer.Length);
        if (_embedder is not null) for (var a = 0; a < answers.Count; a++) embeddings[a] = EmbedSeparately(answers[a]);
        return answers.Select((_, a) => new RainJudgement(good[a], bad[a], embeddings[a])).ToList();
    }

    /// <summary>The reference's way: every option order is a full forward pass over the judge prompt and the answer.</summary>
    private RainJudgement JudgeAlone(int[] answer)
    {
        var orders = _suffixes.Length;
        var good = new double[orders];
        var bad = new double[orders];
        float[]? embedding = null;
        for (var o = 0; o < orders; o++)
        {
            var order = o;
            var seq = Alloc();
            var tokens = (int[])[.. _judgeHeader, .. answer, .. _suffixes[o]];
            var plan = new List<Item>();
            for (var i = 0; i < tokens.Length; i++)
            {
                Action<int>? onOutput = null;
                if (i == tokens.Length - 1) onOutput = k => { var logits = _ctx.GetLogits(k); good[order] = logits[_labels[order].Good]; bad[order] = logits[_labels[order].Bad]; };
                else if (o == 0 && _o.Similarity == RainSimilarity.Model && i == _judgeHeader.Length + answer.Length - 1)
                    onOutput = k => embedding = _ctx.GetEmbedding(k).ToArray();
                plan.Add(new Item(tokens[i], i, [seq], onOutput));
            }
            Run(plan);
            Release(seq);
        }
        if (_embedder is not null) embedding = EmbedSeparately(answer);
        return new RainJudgement(good, bad, embedding);
    }

    /// <summary>Mean of a separate embedding model's per-token vectors over the answer text.</summary>
    private float[] EmbedSeparately(int[] answer)
    {
        var tokens = _embedder!.Model.Vocabulary.Tokenize(Text(answer), addSpecial: true);
        if (tokens.Length > _embedder.BatchSize) tokens = tokens[^_embedder.BatchSize..];
        _embedder.ClearCache();
        using var batch = new TokenBatch(Math.Max(1, tokens.Length));
        for (var i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, 0, true);
        _embedder.Decode(batch);
        var mean = new float[_embedder.Model.EmbeddingSize];
        for (var i = 0; i < tokens.Length; i++) TensorPrimitives.Add(mean, _embedder.GetEmbedding(i), mean);
        TensorPrimitives.Divide(mean, Math.Max(1, tokens.Length), mean);
        return mean;
    }

    // ---------------- vanilla baseline ----------------

    /// <summary>Plain sampling of one answer at the search's temperature, decoded from an empty cache, for comparison.</summary>
    public int[] Vanilla(int[] prompt, ulong seed)
    {
        var seq = Alloc();
        var random = Seeds.Random(seed);
        var answer = new List<int>();
        var plan = new List<Item>();
        var next = -1;
        for (var i = 0; i < prompt.Length; i++)
            plan.Add(new Item(prompt[i], i, [seq], i == prompt.Length - 1 ? k => next = SampleFull(_ctx.GetLogits(k), random) : null));
        Run(plan);
        while (true)
        {
            answer.Add(next);
            if (_vocab.IsEndOfGeneration(next) || answer.Count >= _o.MaxNewTokens) break;
            if (_o.StopStrings.Count > 0 && _o.FindStop(Text(answer.ToArray())) >= 0) break;
            Run([new Item(next, prompt.Length + answer.Count - 1, [seq], k => next = SampleFull(_ctx.GetLogits(k), random))]);
        }
        Release(seq);
        return answer.ToArray();
    }

    private int SampleFull(ReadOnlySpan<float> logits, Random random)
    {
        Softmax(logits, _o.Temperature);
        return Draw(_probabilities, null, random);
    }

    // ---------------- KV-cache bookkeeping and the decode loop ----------------

    private readonly record struct Item(int Token, int Position, int[] Seqs, Action<int>? OnOutput);

    /// <summary>Decodes the items in order, in as few calls as the batch size allows, calling each output's handler.</summary>
    private void Run(List<Item> items, Action? afterOutputs = null)
    {
        for (var start = 0; start < items.Count;)
        {
            _batch.Clear();
            var end = start;
            while (end < items.Count && _batch.Count < _batch.Capacity)
            {
                var it = items[end++];
                _batch.Add(it.Token, it.Position, it.Seqs, it.OnOutput is not null);
            }
            if (!_ctx.TryDecode(_batch))
            {
                _generation.EvictAll(this);
                _judge.EvictAll(this);
                if (!_ctx.TryDecode(_batch))
                    throw new InvalidOperationException($"RAIN's KV cache ({_ctx.ContextSize} cells) is full; raise the context size");
            }
            for (var i = start; i < end; i++)
                items[i].OnOutput?.Invoke(i - start);
            start = end;
        }
        afterOutputs?.Invoke();
    }

    /// <summary>A new sequence holding root + path, decoded from scratch (used for roots and without the cache).</summary>
    private int Materialize(int[] root, int[] path, Action<int>? onOutput, bool needOutput)
    {
        var seq = Alloc();
        var tokens = (int[])[.. root, .. path];
        var plan = new List<Item>();
        for (var i = 0; i < tokens.Length; i++) plan.Add(new Item(tokens[i], i, [seq], needOutput && i == tokens.Length - 1 ? onOutput : null));
        Run(plan);
        return seq;
    }

    /// <summary>
    /// Adds to <paramref name="plan"/> what a new sequence holding the cache's root + <paramref name="path"/> still
    /// needs, forking the longest cached prefix; with output, the last token is always decoded in this plan.
    /// </summary>
    private int MaterializeInto(PrefixCache cache, int[] path, List<Item> plan, bool needOutput, Action<int> onOutput)
    {
        var seq = Alloc();
        var tokens = (int[])[.. cache.RootTokens, .. path];
        var keep = 0;
        if (_o.UseCache)
        {
            var entry = cache.Longest(path, ++_clock);
            keep = Math.Min(cache.RootTokens.Length + entry.Decoded, tokens.Length - (needOutput ? 1 : 0));
            _ctx.CopySequence(entry.Seq, seq);
            _ctx.RemoveTokens(seq, keep);
            ReusedTokens += keep;
        }
        for (var i = keep; i < tokens.Length; i++) plan.Add(new Item(tokens[i], i, [seq], needOutput && i == tokens.Length - 1 ? onOutput : null));
        return seq;
    }

    private int Alloc()
    {
        if (_free.Count == 0 && !_generation.EvictOldest(this) && !_judge.EvictOldest(this))
            throw new InvalidOperationException("RAIN ran out of KV-cache sequences; lower the leaves per round");
        return _free.Pop();
    }

    private void Release(int seq)
    {
        _ctx.RemoveTokens(seq);
        _free.Push(seq);
    }

    /// <summary>Cached answer paths of one kind (generation or judge): each a sequence holding root + key, decoded to <c>Decoded</c> key tokens.</summary>
    private sealed class PrefixCache
    {
        private const int Capacity = 96;
        private readonly List<Entry> _entries = [];

        public sealed class Entry(int[] key, int seq, int decoded)
        {
            public int[] Key { get; } = key;
            public int Seq { get; } = seq;
            public int Decoded { get; } = decoded;
            public long Used { get; set; }
        }

        public int[] RootTokens { get; set; } = [];
        public Entry? Root { get; private set; }

        public void SetRoot(int seq, int[] tokens)
        {
            RootTokens = tokens;
            Root = new Entry([], seq, 0);
        }

        /// <summary>The entry with the longest key that starts <paramref name="path"/> (the root if none), marked used at <paramref name="now"/>.</summary>
        public Entry Longest(int[] path, long now)
        {
            var best = Root!;
            foreach (var e in _entries)
                if (e.Key.Length > best.Key.Length && e.Key.Length <= path.Length && path.AsSpan(0, e.Key.Length).SequenceEqual(e.Key)) best = e;
            best.Used = now;
            return best;
        }

        public void Add(LlamaRainModel owner, int[] key, int seq, int decoded)
        {
            var same = _entries.FindIndex(e => e.Key.AsSpan().SequenceEqual(key));
            if (same >= 0)
            {
                if (_entries[same].Decoded >= decoded) { owner.Release(seq); _entries[same].Used = ++owner._clock; return; }
                owner.Release(_entries[same].Seq);
                _entries.RemoveAt(same);
            }
            _entries.Add(new Entry(key, seq, decoded) { Used = ++owner._clock });
            while (_entries.Count > Capacity) EvictOldest(owner);
        }

        public bool EvictOldest(LlamaRainModel owner)
        {
            if (_entries.Count == 0) return false;
            var oldest = _entries.MinBy(e => e.Used)!;
            _entries.Remove(oldest);
            owner.Release(oldest.Seq);
            return true;
        }

        public void EvictAll(LlamaRainModel owner) { while (EvictOldest(owner)) { } }

        public void Clear(LlamaRainModel owner)
        {
            EvictAll(owner);
            if (Root is not null) owner.Release(Root.Seq);
            Root = null;
        }

        /// <summary>Drops every entry without releasing its sequence (the whole cache is being emptied).</summary>
        public void Forget()
        {
            _entries.Clear();
            Root = null;
        }
    }

    public void Dispose()
    {
        _batch.Dispose();
        _embedder?.Model.Dispose();
        _embedder?.Dispose();
        _ctx.Dispose();
    }
}
