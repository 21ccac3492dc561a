using SelfAlign.Data;
using System.Numerics.Tensors;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN's model on llama.cpp, in a share of a <see cref="GenerationEngine"/>'s context (its own KV sequences and a
/// quota of cells): every context operation runs on the engine's loop thread, and every decode carries the engine's
/// running requests beside the search's work. Tree paths live as KV-cache sequences: a path is forked (seq_cp, no copy) from the
/// longest cached prefix and only its new tokens are decoded; rollouts, simulations and both judge orders of a
/// whole round, of one prompt or of many, go through shared decode calls. The judge's fixed prompt is decoded once
/// per decoder, the conversation header once per prompt, and the judged answer is appended to the longest cached
/// judged prefix. Each prompt is a <see cref="Session"/> (the <see cref="IRainModel"/> its search sees); with
/// <see cref="RainOptions.UseCache"/> off every request is decoded on its own and every next token recomputes its
/// whole context, as the reference does, and the search chooses the same tokens.
/// </summary>
internal sealed class LlamaRainModel : IDisposable
{
    private readonly EngineShare _share;
    private readonly GenerationEngine? _ownEngine;
    private readonly LlamaContext _ctx;
    private readonly LlamaContext? _embedder;
    private readonly Vocabulary _vocab;
    /// <summary>What the context was built for (cache use, similarity source, size, threads); each prompt's other settings travel with its session.</summary>
    private readonly RainOptions _o;
    private readonly TokenBatch _batch;
    private readonly Stack<int> _free = new();
    private readonly int[] _judgePrefix;
    private readonly int[][] _suffixes;
    /// <summary>How many leading suffix tokens every order has in common.</summary>
    private readonly int _sharedSuffix;
    /// <summary>Suffix tokens one cached judgement decodes: the shared ones once, each order's rest on its own.</summary>
    private readonly int _suffixTokensPerJudgement;
    private readonly (int Good, int Bad)[] _labels;
    private readonly float[] _probabilities;
    private readonly PrefixCache _judgeFixed = new();
    /// <summary>Prompts begun and not ended: their cached paths are what gets evicted when room is needed.</summary>
    private readonly List<Session> _open = [];
    /// <summary>The last ended prompt's decoded tokens, kept so the next prompt forks the prefix they share (Self-Align's principles).</summary>
    private (int Seq, int[] Tokens)? _retainedRoot;
    private long _clock;

    public long ReusedTokens { get; private set; }
    /// <summary>Tokens decoded for expansion, rollouts and simulations; for answers in the judge prompt; for the judge's question after them.</summary>
    public (long Extension, long JudgedAnswers, long JudgeSuffixes) TokensByPart => (_extensionTokens, _judgedAnswerTokens, _judgeSuffixTokens);
    private long _extensionTokens, _judgedAnswerTokens, _judgeSuffixTokens;
    /// <summary>Times the KV cache was full and every cached path was dropped to make room.</summary>
    internal int CacheFullEvictions { get; private set; }

    /// <summary>RAIN in <paramref name="share"/> (which it owns from now on, with <paramref name="ownEngine"/> when given), built for <paramref name="options"/>.</summary>
    /// <exception cref="InvalidInputException">The share's context lacks what the options need, or the share holds too few sequences for a round.</exception>
    public LlamaRainModel(EngineShare share, RainJudge judge, RainOptions options, GenerationEngine? ownEngine = null)
    {
        _share = share;
        _ownEngine = ownEngine;
        _ctx = share.Context;
        var model = _ctx.Model;
        try
        {
            if (options.Similarity == RainSimilarity.Model && !_ctx.Options.Embeddings)
                throw new InvalidInputException("RAIN's similarity from the model needs the engine's context to return embeddings (ContextOptions.Embeddings); or turn similarity off");
            if (options.FlashAttention != (_ctx.Options.FlashAttention ?? false))
                throw new InvalidInputException($"RAIN's flash attention ({(options.FlashAttention ? "on" : "off")}) must match the engine's context's; set RainOptions.FlashAttention to match");
            CheckSequences(options, judge.Orders.Count);
            _o = options;
            _vocab = model.Vocabulary;
            _labels = judge.LabelTokens(_vocab).ToArray();
            if (options.Similarity == RainSimilarity.EmbeddingModel)
            {
                var embedding = LlamaModel.Load(options.EmbeddingModelPath!);
                // one call embeds a node's whole path of continuations, each in its own sequence; pooled ones must fit one batch
                _embedder = new LlamaContext(embedding, new ContextOptions
                {
                    ContextSize = EmbedderCells, BatchSize = EmbedderCells, MaxSequences = EmbedderSequences, Embeddings = true, Threads = options.Threads,
                });
            }
        }
        catch
        {
            // a refused judge or embedder gives the engine's share back (and stops an engine made for this search)
            share.Dispose();
            ownEngine?.Dispose();
            throw;
        }
        // a token may belong to every order's judge sequence, or to every rollout of one base and its simulation
        _batch = new TokenBatch(_ctx.BatchSize, maxSequencesPerToken: Math.Max(1 + judge.Orders.Count, MaxRollouts + 1));
        _probabilities = new float[_ctx.VocabularySize];
        _judgePrefix = _vocab.Tokenize(judge.Prefix, addSpecial: true, parseSpecial: true);
        // the suffix follows answer text, never the start of a text
        _suffixes = judge.Orders.Select(o => _vocab.TokenizeContinuation("x", o.Suffix)).ToArray();
        _sharedSuffix = Enumerable.Range(0, _suffixes.Min(x => x.Length) - 1).TakeWhile(i => _suffixes.All(x => x[i] == _suffixes[0][i])).Count();
        _suffixTokensPerJudgement = _sharedSuffix + _suffixes.Sum(x => x.Length - _sharedSuffix);
        Judgement = judge;
        Reset();
        _share.Invoke(MaterializeJudgeFixed);
    }

    /// <summary>RAIN on an engine of its own, made for <paramref name="options"/> and lending the search all of its context.</summary>
    public static LlamaRainModel OnOwnEngine(LlamaModel model, RainJudge judge, RainOptions options, IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        var engine = new GenerationEngine(model, new EngineOptions
        {
            Context = new ContextOptions
            {
                ContextSize = options.ContextSize, MaxSequences = Sequences, Threads = options.Threads, BatchSize = 512,
                Embeddings = options.Similarity == RainSimilarity.Model, LoraAdapters = adapters, FlashAttention = options.FlashAttention,
            },
        });
        EngineShare share;
        try { share = engine.Lend(Sequences, engine.ContextSize); }
        catch
        {
            engine.Dispose();
            throw;
        }
        return new LlamaRainModel(share, judge, options, engine);
    }

    /// <summary>The share the search decodes in (its decode counters are RAIN's own).</summary>
    public EngineShare Share => _share;

    private void MaterializeJudgeFixed()
    {
        if (_o.UseCache) _judgeFixed.SetRoot(Materialize(_judgePrefix, []), _judgePrefix);
    }

    /// <summary>Empties the share's sequences and ends every open prompt (the judge's fixed part is decoded again by the
    /// next <see cref="Begin(int[], string, RainOptions, CancellationToken)"/>): after a failed decode, whose cells and
    /// sequences no cache entry accounts for.</summary>
    public void Reset() => _share.Invoke(() =>
    {
        foreach (var seq in _share.Sequences) _ctx.RemoveTokens(seq);
        foreach (var session in _open)
        {
            session.Generation.Forget();
            session.Judge.Forget();
        }
        _open.Clear();
        _retainedRoot = null;
        _judgeFixed.Forget();
        _free.Clear();
        for (var i = _share.Sequences.Count - 1; i >= 0; i--) _free.Push(_share.Sequences[i]);
    });

    /// <summary>Refuses <paramref name="options"/> for a prompt when they change what the context was built for (cache use,
    /// similarity source, context size, threads) or need more KV sequences than it holds; the constants and limits may change between prompts.</summary>
    public void Check(RainOptions options)
    {
        string? changed = options.UseCache != _o.UseCache ? "use-cache"
            : options.Similarity != _o.Similarity || options.EmbeddingModelPath != _o.EmbeddingModelPath ? "similarity"
            : options.ContextSize != _o.ContextSize ? "context size"
            : options.FlashAttention != _o.FlashAttention ? "flash attention"
            : options.Threads != _o.Threads ? "threads" : null;
        if (changed != null) throw new InvalidInputException($"RAIN's {changed} is fixed when the decoder is made; make another decoder to change it");
        CheckSequences(options, _suffixes.Length);
    }

    /// <summary>
    /// Refuses settings whose round could need more KV sequences than the context holds, before any search: per leaf a
    /// base, its rollouts and a simulation, and one judge sequence plus one per option order; beside them the prompt's,
    /// the judge header's, the judge prefix's and the last prompt's kept tokens.
    /// </summary>
    private void CheckSequences(RainOptions o, int orders)
    {
        var needed = SharedSequences + SequencesPerPrompt(o, orders);
        if (needed > _share.Sequences.Count)
            throw new InvalidInputException($"RAIN with {o.Leaves} leaves per round and {o.Rollouts} rollouts may need {needed} KV sequences in a round " +
                                            $"(leaves x (rollouts + judge orders + 3) + 4); it holds {_share.Sequences.Count}: lower the leaves per round or the rollouts");
    }

    /// <summary>Sequences held for all prompts: the judge's fixed part and the last prompt's kept tokens.</summary>
    private const int SharedSequences = 2;

    /// <summary>The sequences a search of its own gets: all llama.cpp allows.</summary>
    public const int Sequences = 256;
    private const int MaxRollouts = 64;

    private static int SequencesPerPrompt(RainOptions o, int orders) => 2 + o.Leaves * (o.Rollouts + orders + 3);

    /// <summary>How many prompts' searches fit the context's KV sequences at once with these settings.</summary>
    public int PromptsAtOnce(RainOptions o) => Math.Max(1, (_share.Sequences.Count - SharedSequences) / SequencesPerPrompt(o, _suffixes.Length));
    /// <summary>How many answers a screening judges at once: each holds an empty prompt, its judge header, and its answer with a fork per option order.</summary>
    public int ScreensAtOnce => (_share.Sequences.Count - SharedSequences) / (3 + _suffixes.Length);

    private const int EmbedderCells = 4096, EmbedderSequences = 64;

    public RainJudge Judgement { get; }
    public int JudgeSuffixLength => _suffixes.Max(s => s.Length);

    /// <summary>Starts one prompt (see the overload for many).</summary>
    public Session Begin(int[] prompt, string userRequest, RainOptions options, CancellationToken cancellationToken = default) =>
        Begin([(prompt, userRequest, options)], cancellationToken: cancellationToken)[0];

    /// <summary>
    /// Starts prompts: decodes each and its judge conversation header. Each search talks to its returned session; with
    /// <paramref name="batch"/> its model calls wait to be decoded together with other searches'. A prompt forks the
    /// tokens it shares with one already started, so prompts go one by one; their judge headers go in one plan.
    /// Cancellation is checked between decode calls.
    /// </summary>
    public IReadOnlyList<Session> Begin(IReadOnlyList<(int[] Prompt, string Request, RainOptions Options)> prompts, RainSearchBatch? batch = null,
        CancellationToken cancellationToken = default) => _share.Invoke(() =>
    {
        var sessions = new List<Session>();
        var plan = new List<Item>();
        foreach (var (prompt, userRequest, options) in prompts)
        {
            var session = new Session(this, [.. _judgePrefix, .. Judgement.ConversationTokens(_vocab, userRequest)], options, batch);
            session.Generation.RootTokens = prompt;
            session.Judge.RootTokens = session.JudgeHeader;
            _open.Add(session);
            sessions.Add(session);
            if (!_o.UseCache) continue;
            // The judge's instruction and examples are decoded once per decoder, and again after a Reset.
            if (_judgeFixed.Root is null) MaterializeJudgeFixed();
            var lenders = _open.Where(s => s.Generation.Root is not null).Select(s => (s.Generation.Root!.Seq, s.Generation.RootTokens)).ToList();
            if (_retainedRoot is { } retained) lenders.Add(retained);
            session.Generation.SetRoot(Materialize(prompt, lenders, cancellationToken), prompt);
            var seq = Alloc();
            _ctx.CopySequence(_judgeFixed.Root!.Seq, seq);
            ReusedTokens += _judgePrefix.Length;
            for (var i = _judgePrefix.Length; i < session.JudgeHeader.Length; i++) plan.Add(new Item(session.JudgeHeader[i], i, [seq], null));
            session.Judge.SetRoot(seq, session.JudgeHeader);
        }
        Run(plan, cancellationToken: cancellationToken);
        return (IReadOnlyList<Session>)sessions;
    });

    /// <summary>Ends a prompt: releases its cached paths and its judge header; its own tokens stay for the next prompt to share.</summary>
    public void End(Session session) => _share.Invoke(() =>
    {
        if (!_open.Remove(session)) return;
        session.Judge.Clear(this);
        session.Generation.EvictAll(this);
        if (session.Generation.DetachRoot() is not { } seq) return;
        if (_retainedRoot is { } old) Release(old.Seq);
        _retainedRoot = (seq, session.Generation.RootTokens);
    });

    /// <summary>A new sequence holding <paramref name="tokens"/>, forked from the lender (sequence and its tokens) sharing the longest prefix with them.</summary>
    private int Materialize(int[] tokens, IReadOnlyList<(int Seq, int[] Tokens)> lenders, CancellationToken cancellationToken = default)
    {
        var seq = Alloc();
        var keep = 0;
        foreach (var (other, held) in lenders)
        {
            var shared = tokens.AsSpan().CommonPrefixLength(held);
            if (shared <= keep) continue;
            keep = shared;
            _ctx.RemoveTokens(seq);
            _ctx.CopySequence(other, seq);
        }
        _ctx.RemoveTokens(seq, keep);
        ReusedTokens += keep;
        var plan = new List<Item>();
        for (var i = keep; i < tokens.Length; i++) plan.Add(new Item(tokens[i], i, [seq], null));
        Run(plan, cancellationToken: cancellationToken);
        return seq;
    }

    /// <summary>
    /// One prompt's state (its cached paths, its judge header, the states and vectors its similarity uses) and the
    /// model as its search sees it. Work goes straight to the model, or through a <see cref="RainSearchBatch"/> that
    /// decodes it together with other prompts' work.
    /// </summary>
    internal sealed class Session(LlamaRainModel owner, int[] judgeHeader, RainOptions options, RainSearchBatch? batch) : IRainModel
    {
        /// <summary>This prompt's settings: its sampling temperature, rollout top-k and stop strings apply to its branches.</summary>
        public RainOptions Options { get; } = options;
        public PrefixCache Generation { get; } = new();
        public PrefixCache Judge { get; } = new();
        /// <summary>The judge prompt before the answer (fixed part and conversation header).</summary>
        public int[] JudgeHeader { get; } = judgeHeader;
        /// <summary>The judge context's state at every judged answer token (similarity from the model itself).</summary>
        public TokenStateTrie States { get; } = new();
        /// <summary>The separate embedder's vectors by text.</summary>
        public Dictionary<string, float[]> Embedded { get; } = [];

        public IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests) =>
            batch is null ? owner.Extend(requests.Select(r => (this, r)).ToList()) : batch.Extend(this, requests);

        IReadOnlyList<RainJudgement> IRainModel.Judge(IReadOnlyList<int[]> answers) =>
            batch is null ? owner.Judge(answers.Select(a => (this, a)).ToList()) : batch.Judge(this, answers);

        public IReadOnlyList<float[]?> Embed(int[] answer, IReadOnlyList<int> starts) => owner.Embed(this, answer, starts);

        public void Committed(int[] path)
        {
            if (batch is null) owner.Committed(this, path);
            else batch.Committed(this, path);
        }

        public string Text(ReadOnlySpan<int> tokens) => owner.Text(tokens);
        public bool IsEndOfGeneration(int token) => owner.IsEndOfGeneration(token);
    }

    /// <summary>An answer's tokens as the model would write them after the judge's conversation header (special-token
    /// names in a screened answer stay text).</summary>
    public int[] AnswerTokens(string userRequest, string answer) =>
        _vocab.TokenizeContinuation(Judgement.Header(userRequest), answer, parseSpecial: false);

    /// <summary>The prompt's answer now starts with <paramref name="path"/>: cached paths that branch off earlier are released.</summary>
    public void Committed(Session session, int[] path)
    {
        session.States.KeepUnder(path);
        if (!_o.UseCache) return;
        _share.Invoke(() =>
        {
            session.Generation.KeepUnder(this, path);
            session.Judge.KeepUnder(this, path);
        });
    }

    public string Text(ReadOnlySpan<int> tokens) => _vocab.Detokenize(tokens);
    public bool IsEndOfGeneration(int token) => _vocab.IsEndOfGeneration(token);

    // ---------------- extension: top tokens, rollouts, simulations ----------------

    private sealed class Branch(Session session, RainExtendRequest request, int seq, Random random)
    {
        public Session Session { get; } = session;
        public RainExtendRequest Request { get; } = request;
        public int Seq { get; } = seq;
        public Random Random { get; } = random;
        public List<int> Tokens { get; } = [];
        public double Probability { get; set; } = 1;
        public bool Greedy { get; init; }
        public bool Done { get; set; }
    }

    /// <summary>Extension work of one or more prompts, decoded together.</summary>
    public IReadOnlyList<RainExtension> Extend(IReadOnlyList<(Session Session, RainExtendRequest Request)> requests) => _share.Invoke(() =>
    {
        if (_o.UseCache) return (IReadOnlyList<RainExtension>)ExtendBatch(requests);
        // without the cache, every rollout recomputes its whole context on its own, as the reference does
        return requests.Select(r => new RainExtension(r.Request.Kind == RainExtendKind.Rollouts
            ? Enumerable.Range(0, r.Request.Count).SelectMany(b => ExtendBatch([r], onlyBranch: b)[0].Sequences).ToList()
            : ExtendBatch([r])[0].Sequences)).ToList();
    });

    private List<RainExtension> ExtendBatch(IReadOnlyList<(Session Session, RainExtendRequest Request)> requests, int onlyBranch = -1)
    {
        var results = new List<(int[] Tokens, double Probability)>[requests.Count];
        var branches = new List<(int Request, Branch Branch)>();
        var bases = new Dictionary<string, int>();
        var basePlan = new List<Item>();
        var baseStarts = new List<(Session Session, int[] Path, int Seq, List<int> Requests)>();
        var baseOf = new Dictionary<Branch, int>();

        // step 0: one base sequence per distinct prompt and path, with logits at its end
        var sessionIds = new Dictionary<Session, int>();
        for (var r = 0; r < requests.Count; r++)
        {
            var (session, request) = requests[r];
            if (!sessionIds.TryGetValue(session, out var id)) sessionIds[session] = id = sessionIds.Count;
            var key = id + ":" + RainSearch.Key(request.Path);
            if (!bases.TryGetValue(key, out var b))
            {
                b = baseStarts.Count;
                bases[key] = b;
                baseStarts.Add((session, request.Path, -1, []));
            }
            baseStarts[b].Requests.Add(r);
        }
        for (var b = 0; b < baseStarts.Count; b++)
        {
            var (session, path, _, owners) = baseStarts[b];
            var index0 = b;
            var seq = MaterializeInto(session.Generation, path, basePlan, needOutput: true, onOutput: index =>
            {
                Softmax(_ctx.GetLogits(index), session.Options.Temperature);
                foreach (var r in owners)
                {
                    var first = branches.Count;
                    StartBranches(requests[r].Session, requests[r].Request, r, results, branches, onlyBranch);
                    for (var k = first; k < branches.Count; k++) baseOf[branches[k].Branch] = index0;
                }
            });
            baseStarts[b] = (session, path, seq, owners);
        }
        // every branch of a base starts as a fork of it, made after the base is decoded
        _extensionTokens += basePlan.Count;
        Run(basePlan, afterOutputs: () =>
        {
            foreach (var (_, branch) in branches) _ctx.CopySequence(baseStarts[baseOf[branch]].Seq, branch.Seq);
        });

        // steps 1..: each active branch decodes its last token and picks the next; branches of one base that have
        // drawn the same tokens so far hold the same context, so their token is decoded once for all of their sequences
        while (branches.Any(b => !b.Branch.Done))
        {
            var plan = new List<Item>();
            if (_o.UseCache)
            {
                foreach (var alike in branches.Where(b => !b.Branch.Done).Select(b => b.Branch)
                             .GroupBy(b => baseOf[b] + ":" + RainSearch.Key([.. b.Tokens])))
                {
                    var members = alike.ToList();
                    var first = members[0];
                    var position = first.Session.Generation.RootTokens.Length + first.Request.Path.Length + first.Tokens.Count - 1;
                    plan.Add(new Item(first.Tokens[^1], position, members.Select(m => m.Seq).ToArray(), index => Continue(members, _ctx.GetLogits(index))));
                }
                _extensionTokens += plan.Count;
                Run(plan);
                continue;
            }
            foreach (var (_, branch) in branches.Where(b => !b.Branch.Done))
            {
                var root = branch.Session.Generation.RootTokens;
                // without the cache every next token recomputes its whole context (the reference's use_cache=False)
                _ctx.RemoveTokens(branch.Seq);
                var tokens = (int[])[.. root, .. branch.Request.Path, .. branch.Tokens];
                for (var i = 0; i < tokens.Length; i++)
                    plan.Add(new Item(tokens[i], i, [branch.Seq], i == tokens.Length - 1 ? index => Continue([branch], _ctx.GetLogits(index)) : null));
            }
            _extensionTokens += plan.Count;
            Run(plan);
        }

        foreach (var (r, branch) in branches)
        {
            results[r].Add((branch.Tokens.ToArray(), branch.Probability));
            if (branch.Request.Kind == RainExtendKind.Rollouts && _o.UseCache)
                branch.Session.Generation.Add(this, [.. branch.Request.Path, .. branch.Tokens], branch.Seq, decoded: branch.Request.Path.Length + branch.Tokens.Count - 1);
            else Release(branch.Seq);
        }
        foreach (var (session, path, seq, _) in baseStarts)
            if (_o.UseCache) session.Generation.Add(this, path, seq, decoded: path.Length);
            else Release(seq);
        return results.Select(r => new RainExtension(r)).ToList();
    }

    private void StartBranches(Session session, RainExtendRequest request, int r, List<(int[] Tokens, double Probability)>[] results, List<(int Request, Branch Branch)> branches, int onlyBranch)
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
            var branch = new Branch(session, request, Alloc(), Seeds.Random(seed)) { Greedy = request.Kind == RainExtendKind.Rollouts && i == 0 };
            var token = Pick(branch, p);
            Accept(branch, token, p[token]);
            branches.Add((r, branch));
        }
    }

    /// <summary>Each branch (all holding the same context) picks its next token from the one distribution.</summary>
    private void Continue(List<Branch> branches, ReadOnlySpan<float> logits)
    {
        Softmax(logits, branches[0].Session.Options.Temperature);
        foreach (var branch in branches)
        {
            var token = Pick(branch, _probabilities);
            Accept(branch, token, _probabilities[token]);
        }
    }

    private static int Pick(Branch branch, float[] p) =>
        branch.Greedy ? TensorPrimitives.IndexOfMax(p)
        : branch.Request.Kind == RainExtendKind.Simulation ? Draw(p, null, branch.Random)
        : Draw(p, TokenSampler.TopIndices(p, branch.Session.Options.RolloutTopK), branch.Random);

    /// <summary>Appends the token and decides whether the branch is finished.</summary>
    private void Accept(Branch branch, int token, float probability)
    {
        branch.Tokens.Add(token);
        branch.Probability *= probability;
        var full = branch.Tokens.Count >= branch.Request.Length;
        if (_vocab.IsEndOfGeneration(token) || full) { branch.Done = true; return; }
        if (branch.Request.Kind != RainExtendKind.Simulation) return;
        var text = Text([.. branch.Request.Path, .. branch.Tokens]);
        if (RainText.EndsAtBoundary(text) || branch.Session.Options.FindStop(text) >= 0) branch.Done = true;
    }

    /// <summary>A token drawn from <paramref name="p"/>, over <paramref name="candidates"/> only when given.</summary>
    internal static int Draw(float[] p, int[]? candidates, Random random)
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

    /// <summary>Answers of one or more prompts, judged in every option order in shared decode calls.</summary>
    public IReadOnlyList<RainJudgement> Judge(IReadOnlyList<(Session Session, int[] Answer)> answers) =>
        _share.Invoke(() => _o.UseCache ? JudgeCached(answers) : answers.Select(a => JudgeAlone(a.Session, a.Answer)).ToList());

    private List<RainJudgement> JudgeCached(IReadOnlyList<(Session Session, int[] Answer)> answers)
    {
        var orders = _suffixes.Length;
        var good = answers.Select(_ => new double[orders]).ToArray();
        var bad = answers.Select(_ => new double[orders]).ToArray();
        var plan = new List<Item>();
        var forks = new List<int>();
        var judged = new List<(Session Session, int[] Answer, int Seq)>();
        for (var a = 0; a < answers.Count; a++)
        {
            var (session, answer) = answers[a];
            var index = a;
            var (entry, common) = session.Judge.Longest(answer, ++_clock);
            var needStates = _o.Similarity == RainSimilarity.Model;
            var root = session.JudgeHeader.Length;
            // with similarity from the model, every answer token's state is kept; tokens without one are decoded again
            var keep = needStates ? Math.Min(common, session.States.Known(answer)) : common;
            var seqs = new int[1 + orders];
            for (var s = 0; s < seqs.Length; s++)
            {
                seqs[s] = Alloc();
                _ctx.CopySequence(entry.Seq, seqs[s]);
                _ctx.RemoveTokens(seqs[s], root + keep);
            }
            ReusedTokens += keep;
            _judgedAnswerTokens += answer.Length - keep;
            for (var i = keep; i < answer.Length; i++)
                plan.Add(new Item(answer[i], root + i, seqs, needStates ? StoreState(session, answer, i) : null));
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
            judged.Add((session, answer, seqs[0]));
        }
        _judgeSuffixTokens += answers.Count * _suffixTokensPerJudgement;
        Run(plan);
        foreach (var seq in forks) Release(seq);
        foreach (var (session, answer, seq) in judged) session.Judge.Add(this, answer, seq, decoded: answer.Length);
        return answers.Select((_, a) => new RainJudgement(good[a], bad[a])).ToList();
    }

    private Action<int> StoreState(Session session, int[] answer, int index) => k => session.States.Set(answer, index, _ctx.GetEmbedding(k).ToArray());

    /// <summary>The reference's way: every option order is a full forward pass over the judge prompt and the answer.</summary>
    private RainJudgement JudgeAlone(Session session, int[] answer)
    {
        var header = session.JudgeHeader;
        var orders = _suffixes.Length;
        var good = new double[orders];
        var bad = new double[orders];
        for (var o = 0; o < orders; o++)
        {
            var order = o;
            var seq = Alloc();
            var tokens = (int[])[.. header, .. answer, .. _suffixes[o]];
            var plan = new List<Item>();
            for (var i = 0; i < tokens.Length; i++)
            {
                Action<int>? onOutput = null;
                if (i == tokens.Length - 1) onOutput = k => { var logits = _ctx.GetLogits(k); good[order] = logits[_labels[order].Good]; bad[order] = logits[_labels[order].Bad]; };
                else if (o == 0 && _o.Similarity == RainSimilarity.Model && i >= header.Length && i < header.Length + answer.Length)
                    onOutput = StoreState(session, answer, i - header.Length);
                plan.Add(new Item(tokens[i], i, [seq], onOutput));
            }
            _judgedAnswerTokens += answer.Length;
            _judgeSuffixTokens += _suffixes[o].Length;
            Run(plan);
            Release(seq);
        }
        return new RainJudgement(good, bad);
    }

    // ---------------- similarity ----------------

    public IReadOnlyList<float[]?> Embed(Session session, int[] answer, IReadOnlyList<int> starts)
    {
        switch (_o.Similarity)
        {
            case RainSimilarity.Model: return EmbedFromStates(session, answer, starts);
            case RainSimilarity.EmbeddingModel:
                // searches of a batch embed from their own threads; the embedder is one context
                lock (_embedder!) return EmbedSeparately(session, answer, starts);
            default: return starts.Select(_ => (float[]?)null).ToList();
        }
    }

    /// <summary>Means of the judge context's states over each continuation: one running sum from the answer's end, read at each start.</summary>
    private List<float[]?> EmbedFromStates(Session session, int[] answer, IReadOnlyList<int> starts)
    {
        var states = session.States.States(answer);
        var sum = new float[_ctx.Model.EmbeddingSize];
        var byStart = new Dictionary<int, float[]>();
        var wanted = starts.Where(s => s < answer.Length).ToHashSet();
        for (var i = answer.Length - 1; i >= 0 && byStart.Count < wanted.Count; i--)
        {
            TensorPrimitives.Add(sum, states[i], sum);
            if (wanted.Contains(i)) byStart[i] = Unit(sum);
        }
        return starts.Select(s => byStart.GetValueOrDefault(s)).ToList();
    }

    /// <summary>
    /// Each continuation's text through the separate embedding model with the pooling its GGUF declares (mean over
    /// tokens when it declares none), all in one decode where they fit; vectors are kept per text for the prompt.
    /// </summary>
    private List<float[]?> EmbedSeparately(Session session, int[] answer, IReadOnlyList<int> starts)
    {
        var texts = starts.Select(s => s < answer.Length ? Text(answer.AsSpan(s)) : "").ToList();
        var pending = texts.Where(t => t.Length > 0 && !session.Embedded.ContainsKey(t)).Distinct().ToList();
        var vocabulary = _embedder!.Model.Vocabulary;
        var tokens = pending.Select(t =>
        {
            var x = vocabulary.Tokenize(t, addSpecial: true);
            return x.Length > EmbedderCells / 4 ? x[..(EmbedderCells / 4)] : x;
        }).ToList();
        using var batch = new TokenBatch(EmbedderCells);
        for (var first = 0; first < pending.Count;)
        {
            _embedder.ClearCache();
            batch.Clear();
            var last = first;
            while (last < pending.Count && last - first < EmbedderSequences && batch.Count + tokens[last].Length <= batch.Capacity)
            {
                for (var i = 0; i < tokens[last].Length; i++) batch.Add(tokens[last][i], i, last - first, true);
                last++;
            }
            _embedder.Decode(batch);
            var row = 0;
            for (var t = first; t < last; t++)
            {
                float[] vector;
                if (_embedder.PoolsEmbeddings) vector = _embedder.GetSequenceEmbedding(t - first).ToArray();
                else
                {
                    vector = new float[_embedder.Model.EmbeddingSize];
                    for (var i = 0; i < tokens[t].Length; i++) TensorPrimitives.Add(vector, _embedder.GetEmbedding(row + i), vector);
                }
                row += tokens[t].Length;
                session.Embedded[pending[t]] = Unit(vector);
            }
            first = last;
        }
        return texts.Select(t => t.Length > 0 ? session.Embedded[t] : null).ToList();
    }

    private static float[] Unit(float[] v)
    {
        var norm = TensorPrimitives.Norm(v);
        var unit = new float[v.Length];
        if (norm > 0) TensorPrimitives.Divide(v, norm, unit);
        return unit;
    }

    // ---------------- KV-cache bookkeeping and the decode loop ----------------

    private readonly record struct Item(int Token, int Position, int[] Seqs, Action<int>? OnOutput);

    /// <summary>Decodes the items in order, in as few calls as the batch size allows, calling each output's handler.</summary>
    private void Run(List<Item> items, Action? afterOutputs = null, CancellationToken cancellationToken = default)
    {
        for (var start = 0; start < items.Count;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _batch.Clear();
            var end = start;
            while (end < items.Count && _batch.Count < _batch.Capacity)
            {
                var it = items[end++];
                _batch.Add(it.Token, it.Position, it.Seqs, it.OnOutput is not null);
            }
            if (!_share.TryDecode(_batch))
            {
                CacheFullEvictions++;
                foreach (var session in _open)
                {
                    session.Generation.EvictAll(this);
                    session.Judge.EvictAll(this);
                }
                if (!_share.TryDecode(_batch))
                    throw new InvalidOperationException($"RAIN's KV cache ({_share.Cells} cells) is full; raise the context size");
            }
            for (var i = start; i < end; i++)
                items[i].OnOutput?.Invoke(i - start);
            start = end;
        }
        afterOutputs?.Invoke();
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
            var (entry, common) = cache.Longest(path, ++_clock);
            keep = Math.Min(cache.RootTokens.Length + common, tokens.Length - (needOutput ? 1 : 0));
            _ctx.CopySequence(entry.Seq, seq);
            _ctx.RemoveTokens(seq, keep);
            ReusedTokens += keep;
        }
        for (var i = keep; i < tokens.Length; i++) plan.Add(new Item(tokens[i], i, [seq], needOutput && i == tokens.Length - 1 ? onOutput : null));
        return seq;
    }

    private int Alloc()
    {
        if (_free.Count == 0 && !EvictOldest())
            throw new InvalidOperationException("RAIN ran out of KV-cache sequences; lower the leaves per round");
        return _free.Pop();
    }

    /// <summary>Releases the least recently used cached path of any open prompt.</summary>
    private bool EvictOldest()
    {
        var oldest = _open.SelectMany(s => new[] { s.Generation, s.Judge }).Where(c => c.OldestUse is not null).MinBy(c => c.OldestUse);
        return oldest is not null && oldest.EvictOldest(this);
    }

    private void Release(int seq)
    {
        _ctx.RemoveTokens(seq);
        _free.Push(seq);
    }

    /// <summary>Cached answer paths of one kind (generation or judge): each a sequence holding root + key, decoded to <c>Decoded</c> key tokens.</summary>
    internal sealed class PrefixCache
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
        /// <summary>When the least recently used entry was last used; null when there is none.</summary>
        public long? OldestUse => _entries.Count == 0 ? null : _entries.Min(e => e.Used);
        public Entry? Root { get; private set; }

        public void SetRoot(int seq, int[] tokens)
        {
            RootTokens = tokens;
            Root = new Entry([], seq, 0);
        }

        /// <summary>
        /// The entry sharing the longest decoded prefix with <paramref name="path"/> (the root if none) and that prefix's
        /// length, marked used at <paramref name="now"/>. A judged answer usually shares all but its last few tokens
        /// with one judged before, so the longest common prefix is what is reused, not only whole keys.
        /// </summary>
        public (Entry Entry, int Common) Longest(int[] path, long now)
        {
            var best = Root!;
            var common = 0;
            foreach (var e in _entries)
            {
                var shared = Math.Min(e.Decoded, path.AsSpan().CommonPrefixLength(e.Key));
                if (shared > common) (best, common) = (e, shared);
            }
            best.Used = now;
            return (best, common);
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

        /// <summary>
        /// Releases the entries no path under <paramref name="committed"/> can reuse more of than another entry can:
        /// their cells would otherwise stay in the attention range of every later decode.
        /// </summary>
        public void KeepUnder(LlamaRainModel owner, int[] committed)
        {
            if (_entries.Count == 0) return;
            int Shared(Entry e) => Math.Min(e.Decoded, committed.AsSpan().CommonPrefixLength(e.Key));
            var best = _entries.Max(Shared);
            foreach (var e in _entries.Where(e => Shared(e) < best).ToList())
            {
                _entries.Remove(e);
                owner.Release(e.Seq);
            }
        }

        /// <summary>Hands over the root's sequence (the caller now owns it); null when there is no root.</summary>
        public int? DetachRoot()
        {
            var seq = Root?.Seq;
            Root = null;
            return seq;
        }

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
        _share.Dispose();
        _ownEngine?.Dispose();
        _batch.Dispose();
        _embedder?.Model.Dispose();
        _embedder?.Dispose();
    }
}
