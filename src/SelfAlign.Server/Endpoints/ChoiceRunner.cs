using System.Runtime.CompilerServices;
using System.Threading.Channels;
using SelfAlign.Generation;
using SelfAlign.Rain;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary>One completion a request asks for: the engine request, or a RAIN search of the same prompt.</summary>
internal sealed record ChoiceWork(int Index, GenerationRequest Request, (ServedRainJudge Judge, RainOptions Options)? Rain = null, string? RainUserRequest = null);

/// <summary>
/// Runs a request's choices on a served model: through the engine's continuous batcher (all choices in the same decode
/// calls as every other request), or through the judge's RAIN scheduler (searches of concurrent requests in shared decode calls). The model's queue bound is
/// taken for all choices at once, or the request is turned away (429); a disconnected client's choices are cancelled.
/// </summary>
internal static class ChoiceRunner
{
    public static async Task<GenerationResult[]> RunAsync(ServedModel model, IReadOnlyList<ChoiceWork> work, ServerMetrics metrics, CancellationToken ct)
    {
        using var gate = Enter(model, work.Count, metrics);
        var results = new GenerationResult[work.Count];
        if (work.Count == 1 && work[0].Rain is { } rain)
        {
            results[0] = await RunRainAsync(work[0], rain.Judge, rain.Options, ct);
            return results;
        }
        await foreach (var (i, r) in model.Engine.GenerateBatchAsync(work.Select(w => w.Request).ToList(), ct)) results[i] = r;
        return results;
    }

    /// <summary>Yields each choice's updates as they come, choices interleaved; each choice's last update carries its result.</summary>
    public static async IAsyncEnumerable<(int Choice, GenerationUpdate Update)> StreamAsync(
        ServedModel model, IReadOnlyList<ChoiceWork> work, ServerMetrics metrics, [EnumeratorCancellation] CancellationToken ct)
    {
        using var gate = Enter(model, work.Count, metrics);
        if (work.Count == 1 && work[0].Rain is { } rain)
        {
            // a search commits its answer as a whole: it streams as one update
            var r = await RunRainAsync(work[0], rain.Judge, rain.Options, ct);
            yield return (0, new GenerationUpdate(r.Text, r.Tokens.Count > 0 ? r.Tokens[^1] : -1) { Result = r });
            yield break;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var channel = Channel.CreateUnbounded<(int, GenerationUpdate)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = work.Select((w, i) => Task.Run(async () =>
        {
            await foreach (var u in model.Engine.GenerateStreamingAsync(w.Request, stop.Token)) channel.Writer.TryWrite((i, u));
        }, stop.Token)).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(CancellationToken.None)) yield return item;
        }
        finally
        {
            stop.Cancel();
            try { await Task.WhenAll(pumps); } catch (Exception e) when (e is OperationCanceledException || stop.IsCancellationRequested) { }
        }
    }

    private static async Task<GenerationResult> RunRainAsync(ChoiceWork work, ServedRainJudge judge, RainOptions options, CancellationToken ct)
    {
        var r = await judge.Scheduler.GenerateAsync(work.Request.Prompt, work.RainUserRequest, options, ct);
        var promptTokens = judge.Decoder.Model.Vocabulary.Tokenize(work.Request.Prompt, addSpecial: true, parseSpecial: true).Length;
        var reason = r.Tokens.Length >= options.MaxNewTokens ? FinishReason.Length : FinishReason.StopString;
        return new GenerationResult(r.Text, r.Tokens, reason, promptTokens, TimeSpan.FromSeconds(r.Statistics.Seconds));
    }

    private static GateLease Enter(ServedModel model, int count, ServerMetrics metrics)
    {
        if (model.Gate.TryEnter(count)) return new GateLease(model.Gate, count);
        metrics.CountRejected();
        throw new ApiException(429, $"model '{model.Name}' has {model.Gate.InFlight} completions in flight, its limit is {model.Gate.Capacity}; retry shortly",
            type: "rate_limit_exceeded", code: "queue_full");
    }

    private sealed class GateLease(RequestGate gate, int count) : IDisposable
    {
        public void Dispose() => gate.Exit(count);
    }
}
