using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Remote;

/// <summary>
/// An <see cref="ITextGenerator"/> on an OpenAI-compatible server's <c>/v1/completions</c>: each request is sent as raw
/// prompt text (shared prefix and prompt joined), up to <see cref="OpenAiBackendOptions.Concurrency"/> at a time, so a
/// cluster engine carries the load and reuses prefixes with its own cache. Banned tokens and the end-of-text ban become
/// <c>logit_bias</c> −100 on the served model's token ids, so the vocabulary given must be the served model's. What the
/// API cannot express (n-gram penalties, a penalty window) is refused up front rather than dropped.
/// </summary>
public sealed class OpenAiBackend : ITextGenerator, ITextScorer
{
    private readonly HttpClient _http;
    private readonly OpenAiBackendOptions _o;

    public OpenAiBackend(OpenAiBackendOptions options, Vocabulary vocabulary, HttpMessageHandler? handler = null)
    {
        options.Validate();
        _o = options;
        Vocabulary = vocabulary;
        var root = options.BaseUrl.AbsoluteUri.EndsWith('/') ? options.BaseUrl : new Uri(options.BaseUrl.AbsoluteUri + "/");
        _http = new HttpClient(handler ?? new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency }) { BaseAddress = root, Timeout = options.Timeout };
        if (options.ApiKey is { Length: > 0 } key) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public Vocabulary Vocabulary { get; }

    public async IAsyncEnumerable<(int Index, GenerationResult Result)> GenerateBatchAsync(
        IReadOnlyList<GenerationRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var bodies = requests.Select(r => OpenAiCompletionBody.For(r, _o.Model, Vocabulary).ToJsonString()).ToList(); // refuses what the API cannot say before anything is sent
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_o.Concurrency);
        var tasks = new Dictionary<Task<GenerationResult>, int>();
        for (var i = 0; i < requests.Count; i++)
        {
            var (request, body) = (requests[i], bodies[i]);
            tasks[Task.Run(async () =>
            {
                await slots.WaitAsync(stop.Token);
                try { return await CompleteAsync(request, body, stop.Token); }
                finally { slots.Release(); }
            }, stop.Token)] = i;
        }
        try
        {
            await foreach (var done in Task.WhenEach(tasks.Keys)) yield return (tasks[done], await done);
        }
        finally
        {
            await stop.CancelAsync();
            try { await Task.WhenAll(tasks.Keys); } catch (Exception) when (stop.IsCancellationRequested) { }
        }
    }

    /// <summary>
    /// Each context and continuation sent as one prompt with <c>echo</c>, <c>logprobs</c> and <c>max_tokens</c> 0 (vLLM and
    /// <c>selfalign serve</c> answer it; llama.cpp's server does not): the continuation's tokens are those the joined text
    /// has beyond the context's own tokens, as the in-process engine scores them.
    /// </summary>
    public async Task<IReadOnlyList<ScoreResult>> ScoreAsync(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellationToken = default)
    {
        var continuations = requests.Select(r =>
        {
            var whole = Vocabulary.Tokenize(r.Context + r.Continuation);
            var context = Vocabulary.Tokenize(r.Context);
            var shared = 0;
            while (shared < Math.Min(whole.Length, context.Length) && whole[shared] == context[shared]) shared++;
            if (context.Length == 0 || shared == whole.Length) throw new InvalidInputException("scoring needs a non-empty context and continuation");
            return whole[shared..];
        }).ToList();
        var prompts = requests.Select(r => new GenerationRequest
        {
            Prompt = r.Context + r.Continuation, MaxNewTokens = 0, PromptLogProbabilities = true, ParseSpecialTokens = false,
        }).ToList();
        var results = new ScoreResult[requests.Count];
        await foreach (var (i, result) in GenerateBatchAsync(prompts, cancellationToken))
        {
            var expected = continuations[i];
            var tail = result.PromptLogProbabilities is { } p && p.Count > expected.Length ? p.Skip(p.Count - expected.Length).ToList() : null;
            // compared by text: a server names tokens by their text, and some texts have two ids (a byte token and a piece)
            if (tail is null || tail.Where((t, k) => t.LogProbability is null || t.Token < 0 ||
                                                     !Vocabulary.TokenBytes(t.Token).SequenceEqual(Vocabulary.TokenBytes(expected[k]))).Any())
                throw new InvalidInputException($"the backend at {_o.BaseUrl} tokenised a scored text otherwise than the local vocabulary does: " +
                                                "give the served model's own GGUF as the vocabulary");
            var values = tail.Select(t => (double)t.LogProbability!.LogProbability).ToArray();
            results[i] = new ScoreResult(values.Sum(), values, expected);
        }
        return results;
    }

    private async Task<GenerationResult> CompleteAsync(GenerationRequest request, string body, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            string? failure;
            TimeSpan? retryAfter = null;
            try
            {
                using var response = await _http.PostAsync("completions", new StringContent(body, Encoding.UTF8, "application/json"), ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode)
                    return OpenAiCompletionBody.Result(JsonNode.Parse(text), Vocabulary, clock.Elapsed, _o.BaseUrl.ToString(),
                        request.PromptLogProbabilities ? (request.SharedPrefix ?? "") + request.Prompt : null);
                failure = $"{(int)response.StatusCode} {ErrorMessage(text)}";
                if (response.StatusCode != HttpStatusCode.TooManyRequests && (int)response.StatusCode < 500)
                    throw new InvalidInputException($"the backend at {_o.BaseUrl} refused a request: {failure}");
                retryAfter = response.Headers.RetryAfter?.Delta;
            }
            catch (HttpRequestException e) { failure = e.Message; }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { failure = $"no answer within {_o.Timeout.TotalSeconds:F0} s ({e.Message})"; }
            if (attempt >= _o.MaxRetries)
                throw new BackendUnavailableException($"the backend at {_o.BaseUrl} failed {attempt + 1} times: {failure}");
            await Task.Delay(retryAfter ?? TimeSpan.FromSeconds(0.5 * Math.Pow(2, attempt)), ct);
        }
    }

    private static string ErrorMessage(string body)
    {
        try { return (string?)JsonNode.Parse(body)?["error"]?["message"] ?? Truncate(body); }
        catch (JsonException) { return Truncate(body); }
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "...";

    public void Dispose() => _http.Dispose();
}
