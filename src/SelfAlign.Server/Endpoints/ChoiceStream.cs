using Microsoft.AspNetCore.Http;
using SelfAlign.Generation;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary>
/// A streamed completion response, the same for chat and text completions: the first update is awaited before the
/// response starts (so a refusal, such as a full queue or a prompt too long, is a plain error response), then one event per
/// update, a usage event when asked, and <c>[DONE]</c>; an error after the start goes out as an error event.
/// </summary>
internal static class ChoiceStream
{
    /// <param name="chunk">the event around a list of choices (and usage).</param>
    /// <param name="opening">the choices of a first event sent before any update (chat's role), or null.</param>
    /// <param name="choice">one update as a choice of an event.</param>
    /// <param name="choicesPerPrompt">for the usage count: choices sharing one prompt.</param>
    public static async Task WriteAsync(HttpContext http, ServedModel model, List<ChoiceWork> work, ServerMetrics metrics,
        Func<object[], object?, object> chunk, object[]? opening, Func<int, GenerationUpdate, object> choice, bool includeUsage, int choicesPerPrompt)
    {
        var results = new GenerationResult?[work.Count];
        await using var updates = ChoiceRunner.StreamAsync(model, work, metrics, http.RequestAborted).GetAsyncEnumerator(http.RequestAborted);
        var more = await updates.MoveNextAsync();
        var sse = await ServerSentEvents.StartAsync(http);
        try
        {
            if (opening != null) await sse.SendAsync(chunk(opening, null));
            for (; more; more = await updates.MoveNextAsync())
            {
                var (i, u) = updates.Current;
                if (u.Result is { } r) results[i] = r;
                await sse.SendAsync(chunk([choice(i, u)], null));
            }
            if (includeUsage) await sse.SendAsync(chunk([], Wire.Usage(results.Select(r => r!).ToArray(), choicesPerPrompt)));
            await sse.DoneAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await sse.FailAsync(ServerContext.ToApiError(e));
        }
    }
}
