using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Rain;

/// <summary>One RAIN answer: its text and tokens, and what the search cost.</summary>
public sealed record RainResult(string Text, int[] Tokens, RainStatistics Statistics);

/// <summary>One prompt for <see cref="RainDecoder.GenerateMany"/>: the model input, what the judge sees as the request (default: the prompt), and the search's seed.</summary>
public sealed record RainPrompt(string Prompt, string? UserRequest = null, ulong Seed = 0);

/// <summary>Answers of <see cref="RainDecoder.GenerateMany"/> in the prompts' order, and what the whole batch cost (wall time, decode calls, tokens).</summary>
public sealed record RainBatchResult(IReadOnlyList<RainResult> Answers, RainStatistics Total);

/// <summary>A plain-sampling answer under the same settings, for comparison.</summary>
public sealed record VanillaResult(string Text, int[] Tokens, double Seconds);

/// <summary>An existing answer's self-evaluation: the value in [-1, 1] and whether it passes the threshold.</summary>
public sealed record RainScreenResult(double Value, bool Kept);

/// <summary>
/// RAIN as a decoding strategy: answers a prompt by searching, judging its own partial answers with
/// <see cref="RainJudge"/>, rewinding and committing only what it judges good. It searches in a share of a
/// <see cref="GenerationEngine"/>'s context: an engine of its own, or one that also serves ordinary requests, whose
/// tokens then ride in the search's decode calls. Not thread-safe (one caller; many prompts at once go through
/// <see cref="GenerateMany"/> or a <see cref="RainScheduler"/>). Also screens existing answers with the same judge.
/// </summary>
public sealed class RainDecoder : IDisposable
{
    private readonly LlamaRainModel _model;
    private readonly RainOptions _options;
    private readonly IReadOnlyList<(LoraAdapter Adapter, float Scale)> _adapters;
    private RainVanillaBaseline? _vanilla;
    private RainScheduler? _scheduler;

    /// <summary>A decoder over <paramref name="model"/> (with <paramref name="adapters"/> applied to search and judge alike) and its self-evaluation <paramref name="judge"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range or a judge label is not one token of this model.</exception>
    public RainDecoder(LlamaModel model, RainJudge judge, RainOptions? options = null, IReadOnlyList<(LoraAdapter Adapter, float Scale)>? adapters = null)
    {
        _options = options ?? new RainOptions();
        _options.Validate();
        _adapters = adapters ?? [];
        _model = LlamaRainModel.OnOwnEngine(model, judge, _options, _adapters);
        Model = model;
    }

    /// <summary>
    /// A decoder searching on <paramref name="engine"/>, which goes on serving ordinary requests: the searches take
    /// <paramref name="sequences"/> of its KV sequences and <see cref="RainOptions.ContextSize"/> of its cells (the
    /// engine's requests get the rest), and every decode call of theirs carries the engine's running requests.
    /// The engine's context must match the options: flash attention as set, embeddings for similarity from the model.
    /// </summary>
    /// <exception cref="InvalidInputException">The engine cannot spare that much, or its context does not match the options.</exception>
    public RainDecoder(GenerationEngine engine, RainJudge judge, RainOptions options, int sequences)
    {
        _options = options;
        _options.Validate();
        _adapters = engine.Options.Context.LoraAdapters;
        _model = new LlamaRainModel(engine.Lend(sequences, options.ContextSize), judge, _options);
        Model = engine.Model;
    }

    public LlamaModel Model { get; }
    public RainOptions Options => _options;
    /// <summary>The self-evaluation the search judges with.</summary>
    public RainJudge Judge => _model.Judgement;

    /// <summary>
    /// Answers <paramref name="prompt"/> (the full model input, chat formatting included) with RAIN;
    /// <paramref name="userRequest"/> is what the judge sees as the request (defaults to the prompt).
    /// </summary>
    /// <exception cref="PromptTooLongException">The prompt and the judge prompt with a full answer do not fit the context.</exception>
    public RainResult Generate(string prompt, string? userRequest = null, RainOptions? overrides = null, CancellationToken cancellationToken = default)
    {
        EnsureOwned();
        var options = Accept(overrides);
        var tokens = Prepare(prompt, userRequest ?? prompt, options.MaxNewTokens);
        var clock = Stopwatch.StartNew();
        var before = Decoding();
        RainSearchResult result;
        try
        {
            var session = _model.Begin(tokens, userRequest ?? prompt, options, cancellationToken);
            try
            {
                result = new RainSearch(session, options).Run(cancellationToken);
            }
            finally
            {
                _model.End(session);
            }
        }
        catch (OperationCanceledException)
        {
            _model.Reset(); // a stopped search leaves paths no cache entry accounts for
            throw;
        }
        return new RainResult(result.Text, result.Tokens, DecodingSince(before, result.Statistics) with { Seconds = clock.Elapsed.TotalSeconds });
    }

    /// <summary>
    /// Answers many prompts with RAIN at once: up to <see cref="PromptsAtOnce"/> searches advance together and their
    /// work shares decode calls; a finished search's place goes to the next prompt. Each prompt gets the answer
    /// <see cref="Generate"/> gives it under the same seed (exactly so with flash attention off).
    /// <paramref name="onAnswer"/> hears of each answer as it is found (one at a time, in finishing order).
    /// A prompt's <see cref="RainStatistics.Seconds"/> is its wall time, shared with the others; the decode
    /// figures belong to the whole batch and are returned as its totals.
    /// </summary>
    /// <exception cref="PromptTooLongException">A prompt and the judge prompt with a full answer do not fit the context (checked before any search).</exception>
    /// <param name="promptsAtOnce">Most searches running at once (default and upper bound: <see cref="PromptsAtOnce"/>).</param>
    public RainBatchResult GenerateMany(IReadOnlyList<RainPrompt> prompts, RainOptions? overrides = null, Action<int, RainResult>? onAnswer = null,
        int? promptsAtOnce = null, CancellationToken cancellationToken = default)
    {
        var options = Accept(overrides).ForManyAtOnce();
        var atOnce = Math.Min(promptsAtOnce ?? int.MaxValue, PromptsAtOnce(options));
        if (atOnce < 1) throw new InvalidInputException($"prompts at once must be at least 1 (got {promptsAtOnce})");
        var results = new RainResult[prompts.Count];
        var jobs = prompts.Select((p, i) => SearchJob(p.Prompt, p.UserRequest, options with { Seed = p.Seed }, (answer, _) =>
        {
            if (answer is null) return;
            results[i] = answer;
            onAnswer?.Invoke(i, answer);
        }, cancellationToken)).ToList();
        var total = RunTogether(jobs, atOnce, cancellationToken);
        return new RainBatchResult(results, results.Aggregate(new RainStatistics(), (t, r) => t.Add(r.Statistics)) with
        {
            DecodeCalls = total.DecodeCalls, TokensDecoded = total.TokensDecoded, ExtensionTokens = total.ExtensionTokens,
            JudgedAnswerTokens = total.JudgedAnswerTokens, JudgeSuffixTokens = total.JudgeSuffixTokens, ReusedTokens = total.ReusedTokens,
            DecodeSeconds = total.DecodeSeconds, Seconds = total.Seconds,
        });
    }

    /// <summary>Runs the jobs <paramref name="atOnce"/> at a time with their model work in shared decode calls; returns what the decoding cost.</summary>
    private RainStatistics RunTogether(List<RainBatchJob> jobs, int atOnce, CancellationToken cancellationToken)
    {
        EnsureOwned();
        var clock = Stopwatch.StartNew();
        var before = Decoding();
        var next = -1;
        try
        {
            new RainSearchBatch(_model).Run(() => Interlocked.Increment(ref next) is var i && i < jobs.Count ? jobs[i] : null,
                Math.Min(atOnce, jobs.Count), stopAtFirstError: true);
        }
        catch (OperationCanceledException)
        {
            _model.Reset();
            throw;
        }
        return DecodingSince(before, new RainStatistics()) with { Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>The decode counters so far (calls, tokens by part, reuse, time inside llama_decode).</summary>
    private RainStatistics Decoding()
    {
        var (extension, answers, suffixes) = _model.TokensByPart;
        return new RainStatistics
        {
            DecodeCalls = _model.Share.DecodeCalls, TokensDecoded = _model.Share.TokensDecoded, ExtensionTokens = extension,
            JudgedAnswerTokens = answers, JudgeSuffixTokens = suffixes, ReusedTokens = _model.ReusedTokens, DecodeSeconds = _model.Share.DecodeTime.TotalSeconds,
        };
    }

    /// <summary><paramref name="search"/>'s figures with the decoding done since <paramref name="before"/>.</summary>
    private RainStatistics DecodingSince(RainStatistics before, RainStatistics search)
    {
        var now = Decoding();
        return search with
        {
            DecodeCalls = now.DecodeCalls - before.DecodeCalls, TokensDecoded = now.TokensDecoded - before.TokensDecoded,
            ExtensionTokens = now.ExtensionTokens - before.ExtensionTokens, JudgedAnswerTokens = now.JudgedAnswerTokens - before.JudgedAnswerTokens,
            JudgeSuffixTokens = now.JudgeSuffixTokens - before.JudgeSuffixTokens, ReusedTokens = now.ReusedTokens - before.ReusedTokens,
            DecodeSeconds = now.DecodeSeconds - before.DecodeSeconds,
        };
    }

    /// <summary>How many searches <see cref="GenerateMany"/> runs at once with <paramref name="options"/>: as many as the context's KV sequences hold.</summary>
    public int PromptsAtOnce(RainOptions? options = null) => _model.PromptsAtOnce((options ?? _options).ForManyAtOnce());

    /// <summary>
    /// Plain sampling at the search's temperature and token budget, from an empty cache in a context of its own; with
    /// <paramref name="useCache"/> off every token recomputes its whole context (the reference's baseline).
    /// </summary>
    public VanillaResult GenerateVanilla(string prompt, ulong seed, bool useCache = true)
    {
        var tokens = Prepare(prompt, prompt, _options.MaxNewTokens);
        _vanilla ??= new RainVanillaBaseline(Model, _options, _adapters);
        var clock = Stopwatch.StartNew();
        var answer = _vanilla.Sample(tokens, seed, _options, useCache);
        var seconds = clock.Elapsed.TotalSeconds;
        var text = _model.Text(answer.Where(t => !_model.IsEndOfGeneration(t)).ToArray());
        var stop = _options.FindStop(text);
        return new VanillaResult(stop >= 0 ? text[..stop] : text, answer, seconds);
    }

    /// <summary>
    /// Self-evaluates finished answers (screening mode): value in [-1, 1], kept when above <paramref name="threshold"/>.
    /// Many answers are judged at once, their judge prompts in shared decode calls.
    /// </summary>
    public IReadOnlyList<RainScreenResult> Screen(IReadOnlyList<(string Request, string Answer)> items, double threshold = 0, CancellationToken cancellationToken = default)
    {
        var results = new RainScreenResult[items.Count];
        var jobs = items.Select((item, i) =>
        {
            var tokens = _model.AnswerTokens(item.Request, item.Answer);
            Prepare(item.Request, item.Request, tokens.Length);
            return new RainBatchJob([], item.Request, _options, session => RainSearch.Value(session.Judge([tokens])[0], _options.Scoring), (r, _, _) =>
            {
                if (r is double value) results[i] = new RainScreenResult(value, value > threshold);
            });
        }).ToList();
        if (jobs.Count > 0) RunTogether(jobs, _model.ScreensAtOnce, cancellationToken);
        return results;
    }

    /// <summary>A batch job that searches one prompt and tells <paramref name="done"/> its answer (with its wall time as its seconds) or its error.</summary>
    internal RainBatchJob SearchJob(string prompt, string? userRequest, RainOptions options, Action<RainResult?, Exception?> done, CancellationToken cancellationToken)
    {
        var request = userRequest ?? prompt;
        return new RainBatchJob(Prepare(prompt, request, options.MaxNewTokens), request, options, session => new RainSearch(session, options).Run(cancellationToken),
            (r, error, seconds) => done(r is RainSearchResult found ? new RainResult(found.Text, found.Tokens, found.Statistics with { Seconds = seconds }) : null, error),
            cancellationToken);
    }

    /// <summary>The options a prompt searches with: the decoder's, or <paramref name="overrides"/> once checked against what its context was built for.</summary>
    internal RainOptions Accept(RainOptions? overrides)
    {
        var options = overrides ?? _options;
        options.Validate();
        _model.Check(options);
        return options;
    }

    /// <summary>A scheduler now owns the context (or, with null, no longer does).</summary>
    internal void Attach(RainScheduler? scheduler)
    {
        if (scheduler is not null && _scheduler is not null) throw new InvalidOperationException("this RAIN decoder already has a scheduler");
        _scheduler = scheduler;
    }

    private void EnsureOwned()
    {
        if (_scheduler is not null) throw new InvalidOperationException("this RAIN decoder is serving through a scheduler; search through the scheduler");
    }

    internal LlamaRainModel RainModel => _model;

    /// <summary>The prompt's tokens, once it, the judge prompt and a full answer are known to fit the context.</summary>
    internal int[] Prepare(string prompt, string userRequest, int answer)
    {
        var tokens = Model.Vocabulary.Tokenize(prompt, addSpecial: true, parseSpecial: true);
        var judgeTokens = Model.Vocabulary.Tokenize(_model.Judgement.Header(userRequest), addSpecial: true).Length + _model.JudgeSuffixLength;
        var positions = Math.Max(tokens.Length, judgeTokens) + answer;
        // the search holds the prompt and the judge prompt at once, plus a round of branches
        var cells = tokens.Length + judgeTokens + answer * 4;
        if (positions > Model.ContextLengthTrained || cells > _options.ContextSize)
            throw new PromptTooLongException(tokens.Length,
                $"the prompt is {tokens.Length} tokens and the judge prompt {judgeTokens}; with {answer} answer tokens RAIN needs " +
                $"{positions} positions (model trained for {Model.ContextLengthTrained}) and about {cells} KV cells (context {_options.ContextSize})");
        return tokens;
    }

    public void Dispose()
    {
        _scheduler?.Dispose();
        _vanilla?.Dispose();
        _model.Dispose();
    }
}
