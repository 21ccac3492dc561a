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
/// <see cref="RainJudge"/>, rewinding and committing only what it judges good. Owns one llama.cpp context; not
/// thread-safe (one owner, like <see cref="LlamaContext"/>). Also screens existing answers with the same judge.
/// </summary>
public sealed class RainDecoder : IDisposable
{
    private readonly LlamaRainModel _model;
    private readonly RainOptions _options;
    private readonly IReadOnlyList<(LoraAdapter Adapter, float Scale)> _adapters;
    private RainVanillaBaseline? _vanilla;

    /// <summary>A decoder over <paramref name="model"/> (with <paramref name="adapters"/> applied to search and judge alike) and its self-evaluation <paramref name="judge"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range or a judge label is not one token of this model.</exception>
    public RainDecoder(LlamaModel model, RainJudge judge, RainOptions? options = null, IReadOnlyList<(LoraAdapter Adapter, float Scale)>? adapters = null)
    {
        _options = options ?? new RainOptions();
        _options.Validate();
        _adapters = adapters ?? [];
        _model = new LlamaRainModel(model, judge, _options, _adapters);
        Model = model;
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
        var options = overrides ?? _options;
        options.Validate();
        _model.Use(options);
        var tokens = Prepare(prompt, userRequest ?? prompt, options.MaxNewTokens);
        var clock = Stopwatch.StartNew();
        var (calls, decoded, reused, decodeTime) = (_model.Context.DecodeCalls, _model.Context.TokensDecoded, _model.ReusedTokens, _model.Context.DecodeTime);
        RainSearchResult result;
        try
        {
            // The prompt and the judge header can be long: their decode stops on cancellation. The search's own
            // decodes are small, and it checks the token between rounds.
            _model.Context.AbortWhen = () => cancellationToken.IsCancellationRequested;
            var session = _model.Begin(tokens, userRequest ?? prompt);
            _model.Context.AbortWhen = null;
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
            _model.Context.AbortWhen = null;
            _model.Reset(); // a stopped decode leaves cells no cache entry accounts for
            throw;
        }
        var stats = result.Statistics with
        {
            DecodeCalls = _model.Context.DecodeCalls - calls, TokensDecoded = _model.Context.TokensDecoded - decoded,
            ReusedTokens = _model.ReusedTokens - reused, DecodeSeconds = (_model.Context.DecodeTime - decodeTime).TotalSeconds,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        return new RainResult(result.Text, result.Tokens, stats);
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
        var options = overrides ?? _options;
        options.Validate();
        _model.Use(options);
        var inputs = prompts.Select(p => (Prepare(p.Prompt, p.UserRequest ?? p.Prompt, options.MaxNewTokens), p.UserRequest ?? p.Prompt, options with { Seed = p.Seed })).ToList();
        var results = new RainResult[prompts.Count];
        var clock = Stopwatch.StartNew();
        var (calls, decoded, reused, decodeTime) = (_model.Context.DecodeCalls, _model.Context.TokensDecoded, _model.ReusedTokens, _model.Context.DecodeTime);
        try
        {
            _model.Context.AbortWhen = () => cancellationToken.IsCancellationRequested;
            var atOnce = Math.Min(promptsAtOnce ?? int.MaxValue, PromptsAtOnce(options));
            if (atOnce < 1) throw new InvalidInputException($"prompts at once must be at least 1 (got {promptsAtOnce})");
            new RainSearchBatch(_model).Run(inputs, atOnce, (i, r, seconds) =>
            {
                results[i] = new RainResult(r.Text, r.Tokens, r.Statistics with { Seconds = seconds });
                onAnswer?.Invoke(i, results[i]);
            }, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _model.Reset();
            throw;
        }
        finally
        {
            _model.Context.AbortWhen = null;
        }
        var total = results.Aggregate(new RainStatistics(), (t, r) => t.Add(r.Statistics)) with
        {
            DecodeCalls = _model.Context.DecodeCalls - calls, TokensDecoded = _model.Context.TokensDecoded - decoded,
            ReusedTokens = _model.ReusedTokens - reused, DecodeSeconds = (_model.Context.DecodeTime - decodeTime).TotalSeconds,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        return new RainBatchResult(results, total);
    }

    /// <summary>How many searches <see cref="GenerateMany"/> runs at once with <paramref name="options"/>: as many as the context's KV sequences hold.</summary>
    public int PromptsAtOnce(RainOptions? options = null) => _model.PromptsAtOnce(options ?? _options);

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

    /// <summary>Self-evaluates finished answers (screening mode): value in [-1, 1], kept when above <paramref name="threshold"/>.</summary>
    public IReadOnlyList<RainScreenResult> Screen(IReadOnlyList<(string Request, string Answer)> items, double threshold = 0)
    {
        _model.Use(_options);
        var results = new List<RainScreenResult>();
        foreach (var (request, answer) in items)
        {
            var tokens = _model.AnswerTokens(request, answer);
            Prepare(request, request, tokens.Length);
            var session = _model.Begin([], request);
            var value = RainSearch.Value(((IRainModel)session).Judge([tokens])[0], _options.Scoring);
            _model.End(session);
            results.Add(new RainScreenResult(value, value > threshold));
        }
        return results;
    }

    private int[] Prepare(string prompt, string userRequest, int answer)
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
        _vanilla?.Dispose();
        _model.Dispose();
    }
}
